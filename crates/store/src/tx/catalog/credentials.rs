//! Per-runtime API credentials: the auth a runtime uses for an API of an application, when
//! it is not the API's default.

use sextant_domain::{ApiDefinitionId, RuntimeId};
use sextant_domain::{ApiRuntimeAuth, Auth, TenantId};

use crate::error::StoreError;

/// The per-runtime API credential operations of a transaction.
#[async_trait::async_trait]
pub trait CredentialsTx: Send {
    /// Inserts or replaces; [`StoreError::ForeignKey`] if the API or runtime is missing.
    async fn set_api_runtime_auth(
        &mut self,
        tenant: TenantId,
        auth: &ApiRuntimeAuth,
    ) -> Result<(), StoreError>;
    async fn delete_api_runtime_auth(
        &mut self,
        tenant: TenantId,
        api_id: ApiDefinitionId,
        runtime_id: RuntimeId,
    ) -> Result<Option<Auth>, StoreError>;
    /// The credentials set for these APIs (for these runtimes only, if given).
    async fn api_runtime_auths(
        &mut self,
        tenant: TenantId,
        api_ids: &[ApiDefinitionId],
        runtime_ids: Option<&[RuntimeId]>,
    ) -> Result<Vec<ApiRuntimeAuth>, StoreError>;
    /// Every credential set for these runtimes (`setAPIAuth`), for any API, in one statement.
    async fn runtime_auths_of(
        &mut self,
        tenant: TenantId,
        runtime_ids: &[RuntimeId],
    ) -> Result<Vec<ApiRuntimeAuth>, StoreError>;
}

macro_rules! credentials_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::catalog::credentials::CredentialsTx for $Tx {
            async fn set_api_runtime_auth(
                &mut self,
                tenant: TenantId,
                auth: &sextant_domain::ApiRuntimeAuth,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO api_runtime_auths (tenant_id, api_id, runtime_id, auth) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, api_id, runtime_id) \
                     DO UPDATE SET auth = excluded.auth",
                )
                .bind(tenant.0)
                .bind(auth.api_id.into_untyped())
                .bind(auth.runtime_id.into_untyped())
                .bind(Json(&auth.auth))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn delete_api_runtime_auth(
                &mut self,
                tenant: TenantId,
                api_id: sextant_domain::ApiDefinitionId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<Option<sextant_domain::Auth>, StoreError> {
                self.counter().inc();
                let auth: Option<Json<sextant_domain::Auth>> = sqlx::query_scalar(
                    "DELETE FROM api_runtime_auths WHERE tenant_id = $1 AND api_id = $2 \
                     AND runtime_id = $3 RETURNING auth",
                )
                .bind(tenant.0)
                .bind(api_id.into_untyped())
                .bind(runtime_id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                Ok(auth.map(|a| a.0))
            }

            async fn runtime_auths_of(
                &mut self,
                tenant: TenantId,
                runtime_ids: &[sextant_domain::RuntimeId],
            ) -> Result<Vec<sextant_domain::ApiRuntimeAuth>, StoreError> {
                if runtime_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT api_id, runtime_id, auth FROM api_runtime_auths WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "runtime_id", runtime_ids);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::api_runtime_auth_from_row).collect()
            }

            async fn api_runtime_auths(
                &mut self,
                tenant: TenantId,
                api_ids: &[sextant_domain::ApiDefinitionId],
                runtime_ids: Option<&[sextant_domain::RuntimeId]>,
            ) -> Result<Vec<sextant_domain::ApiRuntimeAuth>, StoreError> {
                if api_ids.is_empty() || runtime_ids.is_some_and(|r| r.is_empty()) {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT api_id, runtime_id, auth FROM api_runtime_auths WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "api_id", api_ids);
                if let Some(runtime_ids) = runtime_ids {
                    qb.push(" AND ");
                    Self::push_id_in(&mut qb, "runtime_id", runtime_ids);
                }
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::api_runtime_auth_from_row).collect()
            }
        }

        impl $Tx {
            /// A row of `api_id, runtime_id, auth`.
            fn api_runtime_auth_from_row(
                r: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::ApiRuntimeAuth, StoreError> {
                let auth: Json<sextant_domain::Auth> = r.try_get(2)?;
                Ok(sextant_domain::ApiRuntimeAuth {
                    api_id: sextant_domain::ApiDefinitionId::from_untyped(r.try_get(0)?),
                    runtime_id: sextant_domain::RuntimeId::from_untyped(r.try_get(1)?),
                    auth: auth.0,
                })
            }
        }
    };
}
