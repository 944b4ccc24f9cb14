//! Documents of applications.

use std::collections::HashMap;

use sextant_domain::{ApplicationId, DocumentId};
use sextant_domain::{Document, Page, PageRequest, TenantId};

use crate::error::StoreError;

/// The document operations of a transaction.
#[async_trait::async_trait]
pub trait DocumentsTx: Send {
    /// Inserts documents in one statement (more only when their texts exceed
    /// [`MAX_STATEMENT_BYTES`] together, or beyond [`MAX_BIND_PARAMETERS`]).
    ///
    /// [`MAX_STATEMENT_BYTES`]: crate::MAX_STATEMENT_BYTES
    /// [`MAX_BIND_PARAMETERS`]: crate::MAX_BIND_PARAMETERS
    async fn insert_documents(&mut self, documents: &[Document]) -> Result<(), StoreError>;
    async fn insert_document(&mut self, document: &Document) -> Result<(), StoreError> {
        self.insert_documents(std::slice::from_ref(document)).await
    }
    async fn document(
        &mut self,
        tenant: TenantId,
        id: DocumentId,
    ) -> Result<Option<Document>, StoreError>;
    async fn delete_document(
        &mut self,
        tenant: TenantId,
        id: DocumentId,
    ) -> Result<bool, StoreError>;
    async fn documents(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
        page: &PageRequest,
    ) -> Result<HashMap<ApplicationId, Page<Document>>, StoreError>;
}

const DOCUMENT_COLUMNS: &str = "id, tenant_id, app_id, title, display_name, description, format, \
     kind, data, fetch_request, created_at";

pub(crate) fn document_columns() -> &'static str {
    DOCUMENT_COLUMNS
}

macro_rules! documents_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn document_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::Document, StoreError> {
                use $crate::tx::catalog::{StoredFetchRequest, parse_enum};
                let format: String = row.try_get(6)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(9)?;
                Ok(sextant_domain::Document {
                    id: sextant_domain::DocumentId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    application_id: sextant_domain::ApplicationId::from_untyped(row.try_get(2)?),
                    title: row.try_get(3)?,
                    display_name: row.try_get(4)?,
                    description: row.try_get(5)?,
                    format: parse_enum(
                        "document format",
                        &format,
                        sextant_domain::DocumentFormat::parse,
                    )?,
                    kind: row.try_get(7)?,
                    data: row.try_get(8)?,
                    fetch_request: fetch.map(|f| f.0.into_domain()).transpose()?,
                    created_at: from_micros(row.try_get(10)?)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::documents::DocumentsTx for $Tx {
            async fn insert_documents(
                &mut self,
                documents: &[sextant_domain::Document],
            ) -> Result<(), StoreError> {
                let chunks = $crate::tx::chunks::statement_chunks(documents, 11, |d| {
                    d.data.as_ref().map_or(0, String::len)
                });
                for chunk in chunks {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO documents ({}) ",
                        $crate::tx::catalog::documents::document_columns()
                    ));
                    qb.push_values(chunk, |mut row, document| {
                        row.push_bind(document.id.into_untyped())
                            .push_bind(document.tenant.0)
                            .push_bind(document.application_id.into_untyped())
                            .push_bind(document.title.as_str())
                            .push_bind(document.display_name.as_str())
                            .push_bind(document.description.as_str())
                            .push_bind(document.format.as_str())
                            .push_bind(document.kind.as_deref())
                            .push_bind(document.data.as_deref())
                            .push_bind(document.fetch_request.as_ref().map(|f| {
                                Json($crate::tx::catalog::StoredFetchRequest::from_domain(f))
                            }))
                            .push_bind(to_micros(document.created_at));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn document(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::DocumentId,
            ) -> Result<Option<sextant_domain::Document>, StoreError> {
                let row = self
                    .catalog_row(
                        "documents",
                        $crate::tx::catalog::documents::document_columns(),
                        tenant,
                        id,
                    )
                    .await?;
                row.as_ref().map(Self::document_from_row).transpose()
            }

            async fn delete_document(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::DocumentId,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("documents", tenant, id).await
            }

            async fn documents(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
                page: &PageRequest,
            ) -> Result<
                std::collections::HashMap<
                    sextant_domain::ApplicationId,
                    Page<sextant_domain::Document>,
                >,
                StoreError,
            > {
                let (rows, counts) = self
                    .catalog_pages(
                        "documents",
                        $crate::tx::catalog::documents::document_columns(),
                        tenant,
                        app_ids,
                        None,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::document_from_row(r).map(|d| (d.application_id, d)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::tx::pages::pages_by_app(
                    app_ids, items, counts, page,
                ))
            }
        }
    };
}
