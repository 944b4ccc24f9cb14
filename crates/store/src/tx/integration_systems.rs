//! Integration systems: owned by a tenant, acting in the tenants that granted them access.

use sextant_domain::{IntegrationSystem, IntegrationSystemId, Page, PageRequest, TenantId};

use crate::error::StoreError;

/// The integration system operations of a transaction.
#[async_trait::async_trait]
pub trait IntegrationSystemsTx: Send {
    async fn insert_integration_system(
        &mut self,
        system: &IntegrationSystem,
    ) -> Result<(), StoreError>;
    /// Writes name and description (the owner never changes); false if it does not exist.
    async fn update_integration_system(
        &mut self,
        system: &IntegrationSystem,
    ) -> Result<bool, StoreError>;
    /// A system by id, whoever owns it: only for rules that then check the tenant.
    async fn integration_system(
        &mut self,
        id: IntegrationSystemId,
    ) -> Result<Option<IntegrationSystem>, StoreError>;
    /// A system the tenant owns or granted access; `None` for any other.
    async fn visible_integration_system(
        &mut self,
        tenant: TenantId,
        id: IntegrationSystemId,
    ) -> Result<Option<IntegrationSystem>, StoreError>;
    /// Removes a system and its grants; [`StoreError::ForeignKey`] while applications name it.
    async fn delete_integration_system(
        &mut self,
        id: IntegrationSystemId,
    ) -> Result<bool, StoreError>;
    /// The systems the tenant owns or granted access.
    async fn integration_systems(
        &mut self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<IntegrationSystem>, StoreError>;
    /// Lets the system act in the tenant; true if it was not granted before.
    /// [`StoreError::ForeignKey`] if the system does not exist.
    async fn grant_integration_system(
        &mut self,
        tenant: TenantId,
        id: IntegrationSystemId,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Withdraws the tenant's grant; true if there was one.
    async fn revoke_integration_system(
        &mut self,
        tenant: TenantId,
        id: IntegrationSystemId,
    ) -> Result<bool, StoreError>;
    /// Whether the tenant granted the system access (what its clients are checked against).
    async fn integration_system_granted(
        &mut self,
        tenant: TenantId,
        id: IntegrationSystemId,
    ) -> Result<bool, StoreError>;
}

macro_rules! integration_systems_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn integration_system_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<IntegrationSystem, StoreError> {
                let owner: Option<Uuid> = row.try_get(3)?;
                Ok(IntegrationSystem {
                    id: IntegrationSystemId::from_untyped(row.try_get(0)?),
                    name: sextant_domain::Name::from_stored(row.try_get(1)?),
                    description: row.try_get(2)?,
                    owner: TenantId(owner.ok_or_else(|| {
                        StoreError::Corrupt("integration system without an owner".into())
                    })?),
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::integration_systems::IntegrationSystemsTx for $Tx {
            async fn insert_integration_system(
                &mut self,
                system: &IntegrationSystem,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO integration_systems (id, name, description, owner_tenant_id, \
                     created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(system.id.into_untyped())
                .bind(system.name.as_str())
                .bind(&system.description)
                .bind(system.owner.0)
                .bind(to_micros(time::OffsetDateTime::now_utc()))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn update_integration_system(
                &mut self,
                system: &IntegrationSystem,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE integration_systems SET name = $2, description = $3 WHERE id = $1",
                )
                .bind(system.id.into_untyped())
                .bind(system.name.as_str())
                .bind(&system.description)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn integration_system(
                &mut self,
                id: IntegrationSystemId,
            ) -> Result<Option<IntegrationSystem>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT id, name, description, owner_tenant_id FROM integration_systems \
                     WHERE id = $1",
                )
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::integration_system_from_row).transpose()
            }

            async fn visible_integration_system(
                &mut self,
                tenant: TenantId,
                id: IntegrationSystemId,
            ) -> Result<Option<IntegrationSystem>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT s.id, s.name, s.description, s.owner_tenant_id FROM integration_systems s \
                     WHERE s.id = $1 AND (s.owner_tenant_id = $2 OR EXISTS (SELECT 1 FROM \
                     integration_system_grants g WHERE g.tenant_id = $2 \
                     AND g.integration_system_id = s.id))",
                )
                .bind(id.into_untyped())
                .bind(tenant.0)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::integration_system_from_row).transpose()
            }

            async fn delete_integration_system(&mut self, id: IntegrationSystemId) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM integration_systems WHERE id = $1")
                    .bind(id.into_untyped())
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn integration_systems(
                &mut self,
                tenant: TenantId,
                page: &PageRequest,
            ) -> Result<Page<IntegrationSystem>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT s.id, s.name, s.description, s.owner_tenant_id \
                     FROM integration_systems s WHERE (s.owner_tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(
                    " OR s.id IN (SELECT g.integration_system_id FROM integration_system_grants g \
                     WHERE g.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push("))");
                Self::push_page(&mut qb, "s", page);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                self.counter().inc();
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM integration_systems s WHERE (s.owner_tenant_id = $1 \
                     OR s.id IN (SELECT g.integration_system_id FROM integration_system_grants g \
                     WHERE g.tenant_id = $1))",
                )
                .bind(tenant.0)
                .fetch_one(self.conn())
                .await?;
                let items = rows
                    .iter()
                    .map(Self::integration_system_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_rows(items, page, total))
            }

            async fn grant_integration_system(
                &mut self,
                tenant: TenantId,
                id: IntegrationSystemId,
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "INSERT INTO integration_system_grants (tenant_id, integration_system_id, \
                     granted_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, integration_system_id) DO NOTHING",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .bind(to_micros(now))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_integration_system(
                &mut self,
                tenant: TenantId,
                id: IntegrationSystemId,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "DELETE FROM integration_system_grants \
                     WHERE tenant_id = $1 AND integration_system_id = $2",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn integration_system_granted(
                &mut self,
                tenant: TenantId,
                id: IntegrationSystemId,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT 1 FROM integration_system_grants \
                     WHERE tenant_id = $1 AND integration_system_id = $2",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                Ok(row.is_some())
            }
        }
    };
}
