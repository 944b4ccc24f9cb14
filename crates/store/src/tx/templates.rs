//! Application templates: a tenant's own, or global (visible to every tenant).

use sextant_domain::{ApplicationTemplate, Page, PageRequest, TemplateId, TenantId};

use crate::error::StoreError;

/// The application template operations of a transaction.
#[async_trait::async_trait]
pub trait ApplicationTemplatesTx: Send {
    async fn insert_application_template(
        &mut self,
        template: &ApplicationTemplate,
    ) -> Result<(), StoreError>;
    /// Writes every field, the tenant included, by id; false if it does not exist.
    async fn update_application_template(
        &mut self,
        template: &ApplicationTemplate,
    ) -> Result<bool, StoreError>;
    /// A template of the tenant, or a global one; `None` for another tenant's.
    async fn application_template(
        &mut self,
        tenant: TenantId,
        id: TemplateId,
    ) -> Result<Option<ApplicationTemplate>, StoreError>;
    /// The tenant's template of this name, else the global one of this name.
    async fn application_template_by_name(
        &mut self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<ApplicationTemplate>, StoreError>;
    async fn delete_application_template(&mut self, id: TemplateId) -> Result<bool, StoreError>;
    /// The tenant's templates and the global ones.
    async fn application_templates(
        &mut self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<ApplicationTemplate>, StoreError>;
}

/// The stored access level of a template: global, or one tenant's.
pub(crate) fn access_level(tenant: Option<TenantId>) -> &'static str {
    if tenant.is_some() { "TENANT" } else { "GLOBAL" }
}

macro_rules! templates_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn template_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<ApplicationTemplate, StoreError> {
                let placeholders: Json<Vec<Placeholder>> = row.try_get(4)?;
                let tenant: Option<Uuid> = row.try_get(5)?;
                Ok(ApplicationTemplate {
                    id: TemplateId::from_untyped(row.try_get(0)?),
                    tenant: tenant.map(TenantId),
                    name: sextant_domain::Name::from_stored(row.try_get(1)?),
                    description: row.try_get(2)?,
                    application_input: row.try_get(3)?,
                    placeholders: placeholders.0,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::templates::ApplicationTemplatesTx for $Tx {
            async fn insert_application_template(
                &mut self,
                template: &ApplicationTemplate,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO app_templates (id, tenant_id, name, description, \
                     application_input, placeholders, access_level, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(template.id.into_untyped())
                .bind(template.tenant.map(|t| t.0))
                .bind(template.name.as_str())
                .bind(&template.description)
                .bind(&template.application_input)
                .bind(Json(&template.placeholders))
                .bind($crate::tx::templates::access_level(template.tenant))
                .bind(to_micros(time::OffsetDateTime::now_utc()))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn update_application_template(
                &mut self,
                template: &ApplicationTemplate,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE app_templates SET name = $2, description = $3, application_input = $4, \
                     placeholders = $5, tenant_id = $6, access_level = $7 WHERE id = $1",
                )
                .bind(template.id.into_untyped())
                .bind(template.name.as_str())
                .bind(&template.description)
                .bind(&template.application_input)
                .bind(Json(&template.placeholders))
                .bind(template.tenant.map(|t| t.0))
                .bind($crate::tx::templates::access_level(template.tenant))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn application_template(
                &mut self,
                tenant: TenantId,
                id: TemplateId,
            ) -> Result<Option<ApplicationTemplate>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT id, name, description, application_input, placeholders, tenant_id \
                     FROM app_templates WHERE id = $1 AND (tenant_id = $2 OR tenant_id IS NULL)",
                )
                .bind(id.into_untyped())
                .bind(tenant.0)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::template_from_row).transpose()
            }

            async fn application_template_by_name(
                &mut self,
                tenant: TenantId,
                name: &str,
            ) -> Result<Option<ApplicationTemplate>, StoreError> {
                self.counter().inc();
                // The tenant's own template of that name comes before the global one.
                let row = sqlx::query(
                    "SELECT id, name, description, application_input, placeholders, tenant_id \
                     FROM app_templates WHERE name = $1 AND (tenant_id = $2 OR tenant_id IS NULL) \
                     ORDER BY CASE WHEN tenant_id IS NULL THEN 1 ELSE 0 END LIMIT 1",
                )
                .bind(name)
                .bind(tenant.0)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::template_from_row).transpose()
            }

            async fn delete_application_template(&mut self, id: TemplateId) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM app_templates WHERE id = $1")
                    .bind(id.into_untyped())
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn application_templates(
                &mut self,
                tenant: TenantId,
                page: &PageRequest,
            ) -> Result<Page<ApplicationTemplate>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT t.id, t.name, t.description, t.application_input, t.placeholders, \
                     t.tenant_id FROM app_templates t WHERE (t.tenant_id IS NULL OR t.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(")");
                Self::push_page(&mut qb, "t", page);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                self.counter().inc();
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM app_templates WHERE tenant_id IS NULL OR tenant_id = $1",
                )
                .bind(tenant.0)
                .fetch_one(self.conn())
                .await?;
                let items = rows
                    .iter()
                    .map(Self::template_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }
        }
    };
}
