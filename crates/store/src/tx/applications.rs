//! The applications of a tenant: their rows, and lists of them filtered by labels.

use sextant_domain::label::LabelFilter;
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, IntegrationSystemId, Page, PageRequest,
    TenantId,
};

use crate::error::StoreError;

/// The columns of an application (`application_from_row`), of the table aliased `a`.
pub(crate) const APPLICATION_COLUMNS: &str = "a.id, a.tenant_id, a.name, a.provider_name, \
     a.description, a.health_check_url, a.integration_system_id, a.status_condition, \
     a.status_timestamp, a.created_at";

/// What narrows a list of applications besides label filters (the console's search).
#[derive(Clone, Debug, Default)]
pub struct ApplicationSearch {
    /// Names starting with this text (byte by byte; names are lower-case ASCII).
    pub name_prefix: Option<String>,
    pub status: Option<ApplicationStatusCondition>,
}

/// The application operations of a transaction.
#[async_trait::async_trait]
pub trait ApplicationsTx: Send {
    async fn insert_application(&mut self, app: &Application) -> Result<(), StoreError>;
    /// Writes the scalar fields; false if the application does not exist.
    async fn update_application(&mut self, app: &Application) -> Result<bool, StoreError>;
    async fn application(
        &mut self,
        tenant: TenantId,
        id: ApplicationId,
    ) -> Result<Option<Application>, StoreError>;
    async fn delete_application(
        &mut self,
        tenant: TenantId,
        id: ApplicationId,
    ) -> Result<bool, StoreError>;
    async fn applications(
        &mut self,
        tenant: TenantId,
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Application>, StoreError>;
    /// Like [`ApplicationsTx::applications`], restricted to the given ids.
    async fn applications_among(
        &mut self,
        tenant: TenantId,
        among: &[ApplicationId],
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Application>, StoreError>;
    /// Like [`ApplicationsTx::applications`] (or, with `among`, `applications_among`),
    /// narrowed by `search`: two statements besides the filters' resolution, the page and
    /// its count, each reading one index range when the search drives it.
    async fn search_applications(
        &mut self,
        tenant: TenantId,
        search: &ApplicationSearch,
        filters: &[LabelFilter],
        among: Option<&[ApplicationId]>,
        page: &PageRequest,
    ) -> Result<Page<Application>, StoreError>;
    /// The applications of a tenant that this integration system manages.
    async fn application_ids_of_integration_system(
        &mut self,
        tenant: TenantId,
        integration_system: IntegrationSystemId,
    ) -> Result<Vec<ApplicationId>, StoreError>;
    /// How many applications (in any tenant) name this integration system.
    async fn count_applications_of_integration_system(
        &mut self,
        integration_system: IntegrationSystemId,
    ) -> Result<i64, StoreError>;
}

macro_rules! applications_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            async fn applications_resolved(
                &mut self,
                tenant: TenantId,
                resolved: Vec<ResolvedFilter>,
                page: &PageRequest,
            ) -> Result<Page<Application>, StoreError> {
                let rows = {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                    Self::push_filtered_page(
                        &mut qb,
                        $crate::tx::applications::APPLICATION_COLUMNS,
                        "applications",
                        "a",
                        ObjectKind::Application,
                        tenant,
                        &resolved,
                        page,
                    );
                    self.counter().inc();
                    qb.build().fetch_all(self.conn()).await?
                };
                let total = self
                    .count_filtered("applications", ObjectKind::Application, tenant, &resolved)
                    .await?;
                let items = rows
                    .iter()
                    .map(Self::application_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }

            fn application_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<Application, StoreError> {
                let condition: String = row.try_get(7)?;
                Ok(Application {
                    id: ApplicationId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    name: sextant_domain::Name::from_stored(row.try_get(2)?),
                    provider_name: row.try_get(3)?,
                    description: row.try_get(4)?,
                    health_check_url: row.try_get(5)?,
                    integration_system_id: row
                        .try_get::<Option<Uuid>, _>(6)?
                        .map(IntegrationSystemId::from_untyped),
                    status_condition: ApplicationStatusCondition::parse(&condition).ok_or_else(
                        || StoreError::Corrupt(format!("application status {condition:?}")),
                    )?,
                    status_timestamp: from_micros(row.try_get(8)?)?,
                    created_at: from_micros(row.try_get(9)?)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::applications::ApplicationsTx for $Tx {
            async fn insert_application(&mut self, app: &Application) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO applications (id, tenant_id, name, provider_name, description, \
                     health_check_url, integration_system_id, status_condition, status_timestamp, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(app.id.into_untyped())
                .bind(app.tenant.0)
                .bind(app.name.as_str())
                .bind(&app.provider_name)
                .bind(&app.description)
                .bind(&app.health_check_url)
                .bind(app.integration_system_id.map(IntegrationSystemId::into_untyped))
                .bind(app.status_condition.as_str())
                .bind(to_micros(app.status_timestamp))
                .bind(to_micros(app.created_at))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn update_application(&mut self, app: &Application) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE applications SET name = $3, provider_name = $4, description = $5, \
                     health_check_url = $6, integration_system_id = $7, status_condition = $8, \
                     status_timestamp = $9 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(app.tenant.0)
                .bind(app.id.into_untyped())
                .bind(app.name.as_str())
                .bind(&app.provider_name)
                .bind(&app.description)
                .bind(&app.health_check_url)
                .bind(app.integration_system_id.map(IntegrationSystemId::into_untyped))
                .bind(app.status_condition.as_str())
                .bind(to_micros(app.status_timestamp))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn application(
                &mut self,
                tenant: TenantId,
                id: ApplicationId,
            ) -> Result<Option<Application>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT id, tenant_id, name, provider_name, description, health_check_url, \
                     integration_system_id, status_condition, status_timestamp, created_at \
                     FROM applications WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::application_from_row).transpose()
            }

            async fn delete_application(
                &mut self,
                tenant: TenantId,
                id: ApplicationId,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id.into_untyped())
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn applications(
                &mut self,
                tenant: TenantId,
                filters: &[LabelFilter],
                page: &PageRequest,
            ) -> Result<Page<Application>, StoreError> {
                let resolved = self
                    .resolve_filters(tenant, ObjectKind::Application, filters)
                    .await?;
                self.applications_resolved(tenant, resolved, page).await
            }

            async fn applications_among(
                &mut self,
                tenant: TenantId,
                among: &[ApplicationId],
                filters: &[LabelFilter],
                page: &PageRequest,
            ) -> Result<Page<Application>, StoreError> {
                let mut resolved = self
                    .resolve_filters(tenant, ObjectKind::Application, filters)
                    .await?;
                resolved.push(ResolvedFilter::Ids(
                    among.iter().map(|id| id.into_untyped()).collect(),
                ));
                self.applications_resolved(tenant, resolved, page).await
            }

            async fn search_applications(
                &mut self,
                tenant: TenantId,
                search: &$crate::tx::applications::ApplicationSearch,
                filters: &[LabelFilter],
                among: Option<&[ApplicationId]>,
                page: &PageRequest,
            ) -> Result<Page<Application>, StoreError> {
                let mut resolved = self
                    .resolve_filters(tenant, ObjectKind::Application, filters)
                    .await?;
                $crate::tx::labels::narrow(
                    &mut resolved,
                    among.map(|ids| ids.iter().map(|id| id.into_untyped()).collect()),
                    search.status.map(|s| s.as_str()),
                    search.name_prefix.as_deref(),
                );
                self.applications_resolved(tenant, resolved, page).await
            }

            async fn application_ids_of_integration_system(
                &mut self,
                tenant: TenantId,
                integration_system: IntegrationSystemId,
            ) -> Result<Vec<ApplicationId>, StoreError> {
                self.counter().inc();
                let ids: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM applications WHERE tenant_id = $1 AND integration_system_id = $2",
                )
                .bind(tenant.0)
                .bind(integration_system.into_untyped())
                .fetch_all(self.conn())
                .await?;
                Ok(ids.into_iter().map(ApplicationId::from_untyped).collect())
            }

            async fn count_applications_of_integration_system(
                &mut self,
                integration_system: IntegrationSystemId,
            ) -> Result<i64, StoreError> {
                self.counter().inc();
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM applications WHERE integration_system_id = $1",
                )
                .bind(integration_system.into_untyped())
                .fetch_one(self.conn())
                .await?;
                Ok(count)
            }
        }
    };
}
