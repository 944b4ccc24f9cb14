//! The rules of documents: preparing them (fetching them), adding and deleting them.

use sextant_domain::{ApplicationId, DocumentId};
use sextant_domain::{Document, DomainError, TenantId};
use sextant_fetch::Fetcher;
use sextant_store::{ChildKind, Tx};
use uuid::Uuid;

use crate::catalog::content::fetch::{for_each_bounded, materialize};
use crate::catalog::documents::inputs::DocumentDraft;
use crate::catalog::limits::{require_app, within_bound};
use crate::clock::now_micros;
use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// Turns document drafts into documents, fetching those that have a fetch request.
pub async fn prepare_documents(
    fetcher: &Fetcher,
    tenant: TenantId,
    drafts: Vec<DocumentDraft>,
) -> Vec<Document> {
    let fetcher = fetcher.clone();
    for_each_bounded(drafts, move |draft| {
        let fetcher = fetcher.clone();
        async move {
            let fetched = materialize(&fetcher, draft.content, None).await;
            Document {
                id: DocumentId::new_v4(),
                tenant,
                application_id: ApplicationId::from_untyped(Uuid::nil()),
                title: draft.title,
                display_name: draft.display_name,
                description: draft.description,
                format: draft.format,
                kind: draft.kind,
                data: fetched.data,
                fetch_request: fetched.fetch_request,
                created_at: now_micros(),
            }
        }
    })
    .await
}

pub async fn add_document(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    mut document: Document,
) -> Result<Document> {
    require_app(tx, tenant, app_id, "Document").await?;
    within_bound(tx, tenant, app_id, ChildKind::Document, 1).await?;
    document.application_id = app_id;
    tx.insert_document(&document).await.map_err(internal)?;
    Ok(document)
}

pub async fn delete_document(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: DocumentId,
) -> Result<Document> {
    let document = tx
        .document(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("document", id))?;
    tx.delete_document(tenant, id).await.map_err(internal)?;
    Ok(document)
}
