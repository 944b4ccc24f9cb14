//! The children an application is registered with: prepared (and fetched) before the
//! registration's transaction, inserted in it set-wise.

use sextant_domain::ApplicationId;
use sextant_domain::{ApiDefinition, Document, DomainError, EventDefinition, TenantId, Webhook};
use sextant_fetch::Fetcher;
use sextant_store::Tx;

use crate::catalog::apis::inputs::ApiDraft;
use crate::catalog::apis::rules::prepare_apis;
use crate::catalog::documents::inputs::DocumentDraft;
use crate::catalog::documents::rules::prepare_documents;
use crate::catalog::events::inputs::EventDraft;
use crate::catalog::events::rules::prepare_events;
use crate::catalog::webhooks::inputs::WebhookDraft;
use crate::catalog::webhooks::rules::prepare_webhooks;
use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// An application's children, ready to insert.
#[derive(Default)]
pub struct Children {
    pub apis: Vec<ApiDefinition>,
    pub events: Vec<EventDefinition>,
    pub documents: Vec<Document>,
    pub webhooks: Vec<Webhook>,
}

/// Prepares every child of a registration (fetching what must be fetched).
pub async fn prepare_children(
    fetcher: &Fetcher,
    tenant: TenantId,
    apis: Vec<ApiDraft>,
    events: Vec<EventDraft>,
    documents: Vec<DocumentDraft>,
    webhooks: Vec<WebhookDraft>,
) -> Children {
    let (apis, events, documents) = tokio::join!(
        prepare_apis(fetcher, tenant, apis),
        prepare_events(fetcher, tenant, events),
        prepare_documents(fetcher, tenant, documents),
    );
    Children {
        apis,
        events,
        documents,
        webhooks: prepare_webhooks(tenant, webhooks),
    }
}

/// Inserts the children of a newly inserted application, set-wise: their specs in one
/// statement, each kind of child in one, whatever their number.
pub async fn insert_children(
    tx: &mut dyn Tx,
    app_id: ApplicationId,
    children: &mut Children,
) -> Result<()> {
    children
        .apis
        .iter_mut()
        .for_each(|api| api.application_id = app_id);
    children
        .events
        .iter_mut()
        .for_each(|event| event.application_id = app_id);
    children
        .documents
        .iter_mut()
        .for_each(|document| document.application_id = app_id);
    children
        .webhooks
        .iter_mut()
        .for_each(|webhook| webhook.application_id = app_id);
    tx.insert_definitions(&children.apis, &children.events)
        .await
        .map_err(internal)?;
    tx.insert_documents(&children.documents)
        .await
        .map_err(internal)?;
    tx.insert_webhooks(&children.webhooks)
        .await
        .map_err(internal)?;
    Ok(())
}
