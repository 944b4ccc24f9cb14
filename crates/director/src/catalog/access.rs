//! Whether the consumer may change a child of an application: the child's application must
//! be within its reach. Checked in the write transaction, and before fetching for it, so
//! nobody makes the server fetch for an application it may not change.

use async_graphql::Context;
use sextant_domain::{
    ApiDefinitionId, ApplicationId, DocumentId, DomainError, EventDefinitionId, TenantId, WebhookId,
};
use sextant_store::Tx;

use crate::confine::{self, Reach};
use crate::context::{consumer, reach, store};
use crate::error::{GqlResult, IntoGql, internal, to_graphql};

/// Which child a mutation names by id, to find the application it belongs to.
#[derive(Clone, Copy)]
pub enum Child {
    Api(ApiDefinitionId),
    Event(EventDefinitionId),
    Document(DocumentId),
    Webhook(WebhookId),
}

/// Requires that the consumer may change the application the child belongs to. A missing
/// child passes: the operation itself reports it.
pub async fn writable_child(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    child: Child,
) -> Result<(), DomainError> {
    if reach == Reach::Tenant {
        return Ok(());
    }
    let app = match child {
        Child::Api(id) => tx
            .api_definition(tenant, id)
            .await
            .map_err(internal)?
            .map(|a| a.application_id),
        Child::Event(id) => tx
            .event_definition(tenant, id)
            .await
            .map_err(internal)?
            .map(|e| e.application_id),
        Child::Document(id) => tx
            .document(tenant, id)
            .await
            .map_err(internal)?
            .map(|d| d.application_id),
        Child::Webhook(id) => tx
            .webhook(tenant, id)
            .await
            .map_err(internal)?
            .map(|w| w.application_id),
    };
    match app {
        Some(app) => confine::writable_app(tx, tenant, reach, app)
            .await
            .map_err(|e| match (e, child) {
                (DomainError::NotFound(_), child) => match child {
                    Child::Api(id) => DomainError::not_found("API definition", id),
                    Child::Event(id) => DomainError::not_found("event definition", id),
                    Child::Document(id) => DomainError::not_found("document", id),
                    Child::Webhook(id) => DomainError::not_found("webhook", id),
                },
                (other, _) => other,
            }),
        None => Ok(()),
    }
}

/// Before fetching for an application: it must exist and be within reach, so nobody makes
/// the server fetch on behalf of an application it may not change. The write transaction
/// checks again.
pub async fn check_app(ctx: &Context<'_>, app: ApplicationId, what: &str) -> GqlResult<()> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    let mut tx = store(ctx)?.read().await.gql()?;
    if tx.application(tenant, app).await.gql()?.is_none() {
        return Err(to_graphql(DomainError::NotFound(format!(
            "Cannot add {what} to not existing Application"
        ))));
    }
    confine::writable_app(&mut *tx, tenant, reach, app)
        .await
        .gql()
}

/// Before fetching for an existing child: it must exist and be within reach.
pub async fn check_existing(ctx: &Context<'_>, child: Child) -> GqlResult<()> {
    check_child(ctx, child).await?;
    let tenant = consumer(ctx)?.tenant;
    let mut tx = store(ctx)?.read().await.gql()?;
    let exists = match child {
        Child::Api(id) => tx.api_definition(tenant, id).await.gql()?.is_some(),
        Child::Event(id) => tx.event_definition(tenant, id).await.gql()?.is_some(),
        Child::Document(id) => tx.document(tenant, id).await.gql()?.is_some(),
        Child::Webhook(id) => tx.webhook(tenant, id).await.gql()?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(to_graphql(match child {
            Child::Api(id) => DomainError::not_found("API definition", id),
            Child::Event(id) => DomainError::not_found("event definition", id),
            Child::Document(id) => DomainError::not_found("document", id),
            Child::Webhook(id) => DomainError::not_found("webhook", id),
        }))
    }
}

/// The same check in its own read transaction, for operations that fetch before writing.
pub async fn check_child(ctx: &Context<'_>, child: Child) -> GqlResult<()> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    let mut tx = store(ctx)?.read().await.gql()?;
    writable_child(&mut *tx, tenant, reach, child).await.gql()
}
