//! The runtimes of a tenant: their rows, and lists of them filtered by labels.

use sextant_domain::label::LabelFilter;
use sextant_domain::{Page, PageRequest, Runtime, RuntimeId, RuntimeStatusCondition, TenantId};

use crate::error::StoreError;

/// The columns of a runtime (`runtime_from_row`), of the table aliased `r`.
pub(crate) const RUNTIME_COLUMNS: &str = "r.id, r.tenant_id, r.name, r.description, \
     r.status_condition, r.status_timestamp, r.created_at, r.status_message";

/// What narrows a list of runtimes besides label filters (the console's search).
#[derive(Clone, Debug, Default)]
pub struct RuntimeSearch {
    /// Names starting with this text (byte by byte; names are lower-case ASCII).
    pub name_prefix: Option<String>,
    pub status: Option<RuntimeStatusCondition>,
}

/// The runtime operations of a transaction.
#[async_trait::async_trait]
pub trait RuntimesTx: Send {
    async fn insert_runtime(&mut self, runtime: &Runtime) -> Result<(), StoreError>;
    async fn update_runtime(&mut self, runtime: &Runtime) -> Result<bool, StoreError>;
    async fn runtime(
        &mut self,
        tenant: TenantId,
        id: RuntimeId,
    ) -> Result<Option<Runtime>, StoreError>;
    async fn delete_runtime(&mut self, tenant: TenantId, id: RuntimeId)
    -> Result<bool, StoreError>;
    async fn runtimes(
        &mut self,
        tenant: TenantId,
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Runtime>, StoreError>;

    /// Like [`RuntimesTx::runtimes`] (restricted to `among` when given), narrowed by
    /// `search`: two statements besides the filters' resolution, the page and its count,
    /// each reading one index range when the search drives it.
    async fn search_runtimes(
        &mut self,
        tenant: TenantId,
        search: &RuntimeSearch,
        filters: &[LabelFilter],
        among: Option<&[RuntimeId]>,
        page: &PageRequest,
    ) -> Result<Page<Runtime>, StoreError>;
    /// The runtimes of the tenant with these ids (those that exist), in one statement, in no
    /// particular order.
    async fn runtimes_by_id(
        &mut self,
        tenant: TenantId,
        ids: &[RuntimeId],
    ) -> Result<Vec<Runtime>, StoreError>;
    /// Which of these runtimes exist (every runtime of the tenant if `None`), ordered by
    /// creation.
    async fn runtime_ids(
        &mut self,
        tenant: TenantId,
        among: Option<&[RuntimeId]>,
    ) -> Result<Vec<RuntimeId>, StoreError>;
}

macro_rules! runtimes_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            async fn runtimes_resolved(
                &mut self,
                tenant: TenantId,
                resolved: Vec<ResolvedFilter>,
                page: &PageRequest,
            ) -> Result<Page<Runtime>, StoreError> {
                let rows = {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                    Self::push_filtered_page(
                        &mut qb,
                        $crate::tx::runtimes::RUNTIME_COLUMNS,
                        "runtimes",
                        "r",
                        ObjectKind::Runtime,
                        tenant,
                        &resolved,
                        page,
                    );
                    self.counter().inc();
                    qb.build().fetch_all(self.conn()).await?
                };
                let total = self
                    .count_filtered("runtimes", ObjectKind::Runtime, tenant, &resolved)
                    .await?;
                let items = rows
                    .iter()
                    .map(Self::runtime_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }

            fn runtime_from_row(row: &<$Db as sqlx::Database>::Row) -> Result<Runtime, StoreError> {
                let condition: String = row.try_get(4)?;
                Ok(Runtime {
                    id: RuntimeId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    name: sextant_domain::Name::from_stored(row.try_get(2)?),
                    description: row.try_get(3)?,
                    status_condition: RuntimeStatusCondition::parse(&condition).ok_or_else(
                        || StoreError::Corrupt(format!("runtime status {condition:?}")),
                    )?,
                    status_timestamp: from_micros(row.try_get(5)?)?,
                    created_at: from_micros(row.try_get(6)?)?,
                    status_message: row.try_get(7)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::runtimes::RuntimesTx for $Tx {
            async fn insert_runtime(&mut self, runtime: &Runtime) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO runtimes (id, tenant_id, name, description, status_condition, \
                     status_timestamp, created_at, status_message) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(runtime.id.into_untyped())
                .bind(runtime.tenant.0)
                .bind(runtime.name.as_str())
                .bind(&runtime.description)
                .bind(runtime.status_condition.as_str())
                .bind(to_micros(runtime.status_timestamp))
                .bind(to_micros(runtime.created_at))
                .bind(&runtime.status_message)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn update_runtime(&mut self, runtime: &Runtime) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE runtimes SET name = $3, description = $4, status_condition = $5, \
                     status_timestamp = $6, status_message = $7 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(runtime.tenant.0)
                .bind(runtime.id.into_untyped())
                .bind(runtime.name.as_str())
                .bind(&runtime.description)
                .bind(runtime.status_condition.as_str())
                .bind(to_micros(runtime.status_timestamp))
                .bind(&runtime.status_message)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn runtime(
                &mut self,
                tenant: TenantId,
                id: RuntimeId,
            ) -> Result<Option<Runtime>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT id, tenant_id, name, description, status_condition, status_timestamp, \
                     created_at, status_message FROM runtimes WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::runtime_from_row).transpose()
            }

            async fn delete_runtime(&mut self, tenant: TenantId, id: RuntimeId) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM runtimes WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id.into_untyped())
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn runtimes(
                &mut self,
                tenant: TenantId,
                filters: &[LabelFilter],
                page: &PageRequest,
            ) -> Result<Page<Runtime>, StoreError> {
                let resolved = self
                    .resolve_filters(tenant, ObjectKind::Runtime, filters)
                    .await?;
                self.runtimes_resolved(tenant, resolved, page).await
            }

            async fn search_runtimes(
                &mut self,
                tenant: TenantId,
                search: &$crate::tx::runtimes::RuntimeSearch,
                filters: &[LabelFilter],
                among: Option<&[RuntimeId]>,
                page: &PageRequest,
            ) -> Result<Page<Runtime>, StoreError> {
                let mut resolved = self
                    .resolve_filters(tenant, ObjectKind::Runtime, filters)
                    .await?;
                $crate::tx::labels::narrow(
                    &mut resolved,
                    among.map(|ids| ids.iter().map(|id| id.into_untyped()).collect()),
                    search.status.map(|s| s.as_str()),
                    search.name_prefix.as_deref(),
                );
                self.runtimes_resolved(tenant, resolved, page).await
            }

            async fn runtimes_by_id(
                &mut self,
                tenant: TenantId,
                ids: &[RuntimeId],
            ) -> Result<Vec<Runtime>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT id, tenant_id, name, description, status_condition, status_timestamp, \
                     created_at, status_message FROM runtimes WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "id", ids);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::runtime_from_row).collect()
            }

            async fn runtime_ids(
                &mut self,
                tenant: TenantId,
                among: Option<&[RuntimeId]>,
            ) -> Result<Vec<RuntimeId>, StoreError> {
                if among.is_some_and(|r| r.is_empty()) {
                    return Ok(Vec::new());
                }
                let mut qb =
                    sqlx::QueryBuilder::<$Db>::new("SELECT id FROM runtimes WHERE tenant_id = ");
                qb.push_bind(tenant.0);
                if let Some(among) = among {
                    qb.push(" AND ");
                    Self::push_id_in(&mut qb, "id", among);
                }
                qb.push(" ORDER BY created_at, id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| {
                        r.try_get::<Uuid, _>(0)
                            .map(RuntimeId::from_untyped)
                            .map_err(StoreError::from)
                    })
                    .collect()
            }
        }
    };
}
