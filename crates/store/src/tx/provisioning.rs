//! The Provisioner's records in a transaction: [`ProvisioningTx`] is a supertrait of
//! [`crate::Tx`], implemented once for both backends by `provisioning_tx!`.

use sextant_domain::provisioning::{Operation, ProvisionedRuntime};
use sextant_domain::{OperationId, RuntimeId, TenantId};
use uuid::Uuid;

use crate::error::StoreError;

/// Who runs an operation, and until when: another process may take the operation over
/// once `expires_at` has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub owner: Uuid,
    pub expires_at: time::OffsetDateTime,
}

/// The Provisioner's operations of a transaction.
#[async_trait::async_trait]
pub trait ProvisioningTx: Send {
    /// Records an operation, leased to `lease` if given;
    /// [`StoreError::NotUnique`] if the runtime already has one in progress.
    async fn insert_operation(
        &mut self,
        op: &Operation,
        lease: Option<Lease>,
    ) -> Result<(), StoreError>;
    /// An operation of the tenant, by id.
    async fn operation(
        &mut self,
        tenant: TenantId,
        id: OperationId,
    ) -> Result<Option<Operation>, StoreError>;
    /// The runtime's most recent operation.
    async fn last_operation(
        &mut self,
        tenant: TenantId,
        runtime_id: RuntimeId,
    ) -> Result<Option<Operation>, StoreError>;
    /// Writes state, stage, message and end time, if `owner` still holds the lease (or
    /// nobody does); false otherwise (another server took the operation over).
    async fn update_operation(&mut self, op: &Operation, owner: Uuid) -> Result<bool, StoreError>;
    /// Takes (or, for its own, renews) the leases of operations in progress whose lease is
    /// `owner`'s or ran out at `now`, until `until`; returns them.
    async fn claim_operations(
        &mut self,
        owner: Uuid,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<Vec<Operation>, StoreError>;
    /// Removes the runtime's finished operations (the E19 `cleanupRuntimeData`); the count.
    async fn delete_finished_operations(
        &mut self,
        tenant: TenantId,
        runtime_id: RuntimeId,
    ) -> Result<u64, StoreError>;
    /// Inserts or replaces.
    async fn put_provisioned_runtime(&mut self, rt: &ProvisionedRuntime) -> Result<(), StoreError>;
    async fn provisioned_runtime(
        &mut self,
        tenant: TenantId,
        runtime_id: RuntimeId,
    ) -> Result<Option<ProvisionedRuntime>, StoreError>;
    async fn delete_provisioned_runtime(
        &mut self,
        tenant: TenantId,
        runtime_id: RuntimeId,
    ) -> Result<bool, StoreError>;
    /// Every provisioned runtime of every tenant (for a provider to reconcile at start).
    async fn all_provisioned_runtimes(&mut self) -> Result<Vec<ProvisionedRuntime>, StoreError>;
}

pub(crate) const OPERATION_COLUMNS: &str =
    "id, tenant_id, runtime_id, kind, state, stage, message, input, started_at, finished_at";

pub(crate) const PROVISIONED_COLUMNS: &str = "runtime_id, tenant_id, provider, config, created_at";

pub(crate) fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

macro_rules! provisioning_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn operation_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::provisioning::Operation, StoreError> {
                use sextant_domain::provisioning::{OperationKind, OperationState};
                let kind: String = row.try_get(3)?;
                let state: String = row.try_get(4)?;
                let input: String = row.try_get(7)?;
                let finished: Option<i64> = row.try_get(9)?;
                Ok(sextant_domain::provisioning::Operation {
                    id: sextant_domain::OperationId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    runtime_id: sextant_domain::RuntimeId::from_untyped(row.try_get(2)?),
                    kind: OperationKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("operation kind {kind}")))?,
                    state: OperationState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("operation state {state}")))?,
                    stage: row.try_get(5)?,
                    message: row.try_get(6)?,
                    input: $crate::tx::provisioning::json(&input)?,
                    started_at: from_micros(row.try_get(8)?)?,
                    finished_at: finished.map(from_micros).transpose()?,
                })
            }

            fn provisioned_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::provisioning::ProvisionedRuntime, StoreError> {
                let config: String = row.try_get(3)?;
                Ok(sextant_domain::provisioning::ProvisionedRuntime {
                    runtime_id: sextant_domain::RuntimeId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    provider: row.try_get(2)?,
                    config: $crate::tx::provisioning::json(&config)?,
                    created_at: from_micros(row.try_get(4)?)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::provisioning::ProvisioningTx for $Tx {
            async fn insert_operation(
                &mut self,
                op: &sextant_domain::provisioning::Operation,
                lease: Option<$crate::tx::provisioning::Lease>,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO provisioner_operations ({}, lease_owner, lease_expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    $crate::tx::provisioning::OPERATION_COLUMNS
                )))
                .bind(op.id.into_untyped())
                .bind(op.tenant.0)
                .bind(op.runtime_id.into_untyped())
                .bind(op.kind.as_str())
                .bind(op.state.as_str())
                .bind(op.stage.as_str())
                .bind(op.message.as_str())
                .bind(op.input.to_string())
                .bind(to_micros(op.started_at))
                .bind(op.finished_at.map(to_micros))
                .bind(lease.map(|l| l.owner))
                .bind(lease.map(|l| to_micros(l.expires_at)))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn operation(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::OperationId,
            ) -> Result<Option<sextant_domain::provisioning::Operation>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM provisioner_operations WHERE tenant_id = $1 AND id = $2",
                    $crate::tx::provisioning::OPERATION_COLUMNS
                )))
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::operation_from_row).transpose()
            }

            async fn last_operation(
                &mut self,
                tenant: TenantId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<Option<sextant_domain::provisioning::Operation>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM provisioner_operations WHERE tenant_id = $1 AND runtime_id = $2 \
                     ORDER BY started_at DESC, id DESC LIMIT 1",
                    $crate::tx::provisioning::OPERATION_COLUMNS
                )))
                .bind(tenant.0)
                .bind(runtime_id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::operation_from_row).transpose()
            }

            async fn update_operation(
                &mut self,
                op: &sextant_domain::provisioning::Operation,
                owner: Uuid,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE provisioner_operations SET state = $1, stage = $2, message = $3, \
                     finished_at = $4 WHERE id = $5 AND tenant_id = $6 \
                     AND (lease_owner IS NULL OR lease_owner = $7)",
                )
                .bind(op.state.as_str())
                .bind(op.stage.as_str())
                .bind(op.message.as_str())
                .bind(op.finished_at.map(to_micros))
                .bind(op.id.into_untyped())
                .bind(op.tenant.0)
                .bind(owner)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_operations(
                &mut self,
                owner: Uuid,
                now: time::OffsetDateTime,
                until: time::OffsetDateTime,
            ) -> Result<Vec<sextant_domain::provisioning::Operation>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE provisioner_operations SET lease_owner = $1, lease_expires_at = $2 \
                     WHERE state = 'InProgress' AND (lease_owner IS NULL OR lease_owner = $1 \
                     OR lease_expires_at IS NULL OR lease_expires_at < $3) RETURNING {}",
                    $crate::tx::provisioning::OPERATION_COLUMNS
                )))
                .bind(owner)
                .bind(to_micros(until))
                .bind(to_micros(now))
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::operation_from_row).collect()
            }

            async fn delete_finished_operations(
                &mut self,
                tenant: TenantId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "DELETE FROM provisioner_operations WHERE tenant_id = $1 AND runtime_id = $2 \
                     AND state <> 'InProgress'",
                )
                .bind(tenant.0)
                .bind(runtime_id.into_untyped())
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected())
            }

            async fn put_provisioned_runtime(
                &mut self,
                rt: &sextant_domain::provisioning::ProvisionedRuntime,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO provisioned_runtimes ({}) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (runtime_id) DO UPDATE SET provider = excluded.provider, \
                     config = excluded.config",
                    $crate::tx::provisioning::PROVISIONED_COLUMNS
                )))
                .bind(rt.runtime_id.into_untyped())
                .bind(rt.tenant.0)
                .bind(rt.provider.as_str())
                .bind(rt.config.to_string())
                .bind(to_micros(rt.created_at))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn provisioned_runtime(
                &mut self,
                tenant: TenantId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<Option<sextant_domain::provisioning::ProvisionedRuntime>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM provisioned_runtimes WHERE tenant_id = $1 AND runtime_id = $2",
                    $crate::tx::provisioning::PROVISIONED_COLUMNS
                )))
                .bind(tenant.0)
                .bind(runtime_id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::provisioned_from_row).transpose()
            }

            async fn delete_provisioned_runtime(
                &mut self,
                tenant: TenantId,
                runtime_id: sextant_domain::RuntimeId,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "DELETE FROM provisioned_runtimes WHERE tenant_id = $1 AND runtime_id = $2",
                )
                .bind(tenant.0)
                .bind(runtime_id.into_untyped())
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn all_provisioned_runtimes(
                &mut self,
            ) -> Result<Vec<sextant_domain::provisioning::ProvisionedRuntime>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM provisioned_runtimes ORDER BY created_at",
                    $crate::tx::provisioning::PROVISIONED_COLUMNS
                )))
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::provisioned_from_row).collect()
            }
        }
    };
}
