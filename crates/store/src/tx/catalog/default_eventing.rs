//! Default eventing: the runtime an application's events go to, chosen for it or found as the
//! oldest runtime in one of its scenarios.

use sextant_domain::{ApplicationId, RuntimeId, TenantId};

use crate::error::StoreError;

/// The runtime chosen for an application's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultEventing {
    pub application: ApplicationId,
    pub runtime: RuntimeId,
}

/// The default eventing operations of a transaction.
#[async_trait::async_trait]
pub trait DefaultEventingTx: Send {
    /// Records the application's chosen eventing runtime (replacing an earlier choice).
    async fn set_default_eventing(
        &mut self,
        tenant: TenantId,
        app_id: ApplicationId,
        runtime_id: RuntimeId,
    ) -> Result<(), StoreError>;
    async fn delete_default_eventing(
        &mut self,
        tenant: TenantId,
        app_id: ApplicationId,
    ) -> Result<Option<RuntimeId>, StoreError>;
    /// The chosen default eventing runtimes of several applications.
    async fn default_eventing_many(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
    ) -> Result<Vec<DefaultEventing>, StoreError>;
    /// The oldest runtime whose `scenarios` label holds any of these scenarios.
    async fn oldest_runtime_in_scenarios(
        &mut self,
        tenant: TenantId,
        scenarios: &[String],
    ) -> Result<Option<RuntimeId>, StoreError>;
}

macro_rules! default_eventing_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::catalog::default_eventing::DefaultEventingTx for $Tx {
            async fn set_default_eventing(
                &mut self,
                tenant: TenantId,
                app_id: sextant_domain::ApplicationId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO default_eventing (tenant_id, app_id, runtime_id) \
                     VALUES ($1, $2, $3) ON CONFLICT (tenant_id, app_id) \
                     DO UPDATE SET runtime_id = excluded.runtime_id",
                )
                .bind(tenant.0)
                .bind(app_id.into_untyped())
                .bind(runtime_id.into_untyped())
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn delete_default_eventing(
                &mut self,
                tenant: TenantId,
                app_id: sextant_domain::ApplicationId,
            ) -> Result<Option<sextant_domain::RuntimeId>, StoreError> {
                self.counter().inc();
                let runtime: Option<Uuid> = sqlx::query_scalar(
                    "DELETE FROM default_eventing WHERE tenant_id = $1 AND app_id = $2 \
                     RETURNING runtime_id",
                )
                .bind(tenant.0)
                .bind(app_id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                Ok(runtime.map(sextant_domain::RuntimeId::from_untyped))
            }

            async fn default_eventing_many(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
            ) -> Result<Vec<$crate::tx::catalog::default_eventing::DefaultEventing>, StoreError>
            {
                if app_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT app_id, runtime_id FROM default_eventing WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "app_id", app_ids);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::tx::catalog::default_eventing::DefaultEventing {
                            application: sextant_domain::ApplicationId::from_untyped(r.try_get(0)?),
                            runtime: sextant_domain::RuntimeId::from_untyped(r.try_get(1)?),
                        })
                    })
                    .collect()
            }

            async fn oldest_runtime_in_scenarios(
                &mut self,
                tenant: TenantId,
                scenarios: &[String],
            ) -> Result<Option<sextant_domain::RuntimeId>, StoreError> {
                if scenarios.is_empty() {
                    return Ok(None);
                }
                let filter =
                    $crate::tx::labels::indexed_filter(&sextant_domain::label::LabelFilter {
                        key: sextant_domain::label::SCENARIOS_KEY.to_owned(),
                        query: sextant_domain::label::LabelQuery::AnyOf(scenarios.to_vec()),
                    })
                    .unwrap_or_else(|| {
                        ResolvedFilter::AnyOf(
                            sextant_domain::label::SCENARIOS_KEY.to_owned(),
                            scenarios.to_vec(),
                        )
                    });
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT r.id FROM runtimes r WHERE r.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                Self::push_filters(
                    &mut qb,
                    "r.id",
                    sextant_domain::ObjectKind::Runtime,
                    tenant,
                    std::slice::from_ref(&filter),
                );
                qb.push(" ORDER BY r.created_at, r.id LIMIT 1");
                self.counter().inc();
                let row = qb.build().fetch_optional(self.conn()).await?;
                row.map(|r| {
                    r.try_get::<Uuid, _>(0)
                        .map(sextant_domain::RuntimeId::from_untyped)
                        .map_err(StoreError::from)
                })
                .transpose()
            }
        }
    };
}
