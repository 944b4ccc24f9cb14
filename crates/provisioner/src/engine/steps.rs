//! Running an operation: its stages one after the other, each recorded as it ends, so that
//! whoever holds the operation's lease next resumes it at the stage it was at.

use std::time::Duration;

use sextant_director::service;
use sextant_domain::provisioning::{Operation, OperationKind, OperationState, ProvisionedRuntime};
use sextant_domain::{DomainError, RuntimeStatusCondition};
use sextant_store::{CertificatesOf, StoreError};

use super::{CONNECT, FINISHED, Provisioner, REMOVE, UNREGISTER, UPGRADE, WAIT, now};
use crate::provider::{AgentHealth, Bootstrap, ProviderError};

impl Provisioner {
    pub(super) async fn drive(&self, mut op: Operation) {
        loop {
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            let step = self.step(&op).await;
            let last = match step {
                Ok(Some(stage)) => {
                    op.stage = stage.to_owned();
                    false
                }
                Ok(None) => {
                    op.state = OperationState::Succeeded;
                    op.stage = FINISHED.to_owned();
                    op.message = "Operation succeeded.".to_owned();
                    op.finished_at = Some(now());
                    true
                }
                Err(Step::Stopped) => return,
                Err(Step::Failed(message)) => {
                    tracing::warn!(operation = %op.id, runtime = %op.runtime_id, %message, "a Provisioner operation failed");
                    op.state = OperationState::Failed;
                    op.message = message;
                    op.finished_at = Some(now());
                    true
                }
            };
            if !self.record(&op).await || last {
                return;
            }
        }
    }

    /// Records an operation's progress, retried (5 times, 2 s apart, as Compass does); false
    /// when it cannot be recorded or another server holds the operation now.
    async fn record(&self, op: &Operation) -> bool {
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            let result = async {
                let mut tx = self.inner.store.write().await?;
                let held = tx.update_operation(op, self.inner.owner).await?;
                tx.commit().await?;
                Ok::<bool, StoreError>(held)
            }
            .await;
            match result {
                Ok(true) => return true,
                Ok(false) => {
                    tracing::warn!(operation = %op.id, "another server took the operation over");
                    return false;
                }
                Err(e) => {
                    tracing::warn!(operation = %op.id, error = %sextant_domain::ErrorChain(&e), "cannot record the operation's progress")
                }
            }
        }
        false
    }

    async fn provisioned(&self, op: &Operation) -> Result<ProvisionedRuntime, Step> {
        let mut tx = self.inner.store.read().await.map_err(Step::store)?;
        tx.provisioned_runtime(op.tenant, op.runtime_id)
            .await
            .map_err(Step::store)?
            .ok_or_else(|| Step::Failed("the runtime's provisioning record is gone".into()))
    }

    /// Runs the operation's current stage; the next stage, or None when done.
    async fn step(&self, op: &Operation) -> Result<Option<&'static str>, Step> {
        use OperationKind as K;
        match (op.kind, op.stage.as_str()) {
            (K::Provision | K::ReconnectRuntime, CONNECT) => {
                self.connect(op).await?;
                Ok(Some(WAIT))
            }
            (K::Provision | K::Upgrade | K::ReconnectRuntime, WAIT) => {
                self.wait_for_agent(op).await?;
                Ok(None)
            }
            (K::Upgrade, UPGRADE) => {
                self.upgrade_step(op).await?;
                Ok(Some(WAIT))
            }
            (K::Deprovision, UNREGISTER) => {
                let mut tx = self.inner.store.write().await.map_err(Step::store)?;
                match service::unregister_runtime(&mut *tx, op.tenant, op.runtime_id).await {
                    Ok(_) | Err(DomainError::NotFound(_)) => {}
                    Err(e) => return Err(Step::domain(e)),
                }
                tx.bump_config_epoch(op.tenant).await.map_err(Step::store)?;
                tx.commit().await.map_err(Step::store)?;
                Ok(Some(REMOVE))
            }
            (K::Deprovision, REMOVE) => {
                let provisioned = {
                    let mut tx = self.inner.store.read().await.map_err(Step::store)?;
                    tx.provisioned_runtime(op.tenant, op.runtime_id)
                        .await
                        .map_err(Step::store)?
                };
                if let Some(provisioned) = provisioned {
                    self.inner
                        .provider
                        .deprovision(&provisioned)
                        .await
                        .map_err(Step::provider)?;
                    let mut tx = self.inner.store.write().await.map_err(Step::store)?;
                    tx.delete_provisioned_runtime(op.tenant, op.runtime_id)
                        .await
                        .map_err(Step::store)?;
                    tx.commit().await.map_err(Step::store)?;
                }
                Ok(None)
            }
            (kind, stage) => Err(Step::Failed(format!(
                "unknown stage {stage} of a {} operation",
                kind.as_str()
            ))),
        }
    }

    /// A new token (after revoking the runtime's certificates, for a reconnect), the runtime
    /// marked INITIAL until its agent reports, and the provider (re)starting the agent with
    /// the bootstrap configuration.
    async fn connect(&self, op: &Operation) -> Result<(), Step> {
        let provisioned = self.provisioned(op).await?;
        let token = {
            let mut tx = self.inner.store.write().await.map_err(Step::store)?;
            if op.kind == OperationKind::ReconnectRuntime {
                tx.revoke_certificates_of(
                    op.tenant,
                    CertificatesOf::Owner(sextant_domain::SystemAuthOwner::Runtime(op.runtime_id)),
                    now(),
                )
                .await
                .map_err(Step::store)?;
            }
            service::set_runtime_status(
                &mut *tx,
                op.tenant,
                op.runtime_id,
                RuntimeStatusCondition::Initial,
                Some("waiting for the runtime agent to connect".into()),
            )
            .await
            .map_err(Step::domain)?;
            let token = sextant_director::provisioning::runtime_pairing_token(
                &mut *tx,
                op.tenant,
                op.runtime_id,
                self.inner.settings.token_ttl,
            )
            .await
            .map_err(Step::domain)?;
            tx.bump_config_epoch(op.tenant).await.map_err(Step::store)?;
            tx.commit().await.map_err(Step::store)?;
            token
        };
        let bootstrap = Bootstrap {
            connector_url: self.inner.settings.connector_url.clone(),
            token,
            runtime_id: op.runtime_id,
            tenant: op.tenant,
        };
        let provider = &self.inner.provider;
        match op.kind {
            OperationKind::ReconnectRuntime => provider.reconnect(&provisioned, &bootstrap).await,
            _ => provider.provision(&provisioned, &bootstrap).await,
        }
        .map_err(Step::provider)
    }

    async fn upgrade_step(&self, op: &Operation) -> Result<(), Step> {
        let mut provisioned = self.provisioned(op).await?;
        let config = op
            .input
            .get("config")
            .cloned()
            .ok_or_else(|| Step::Failed("the upgrade's configuration is missing".into()))?;
        provisioned.config = config;
        {
            let mut tx = self.inner.store.write().await.map_err(Step::store)?;
            tx.put_provisioned_runtime(&provisioned)
                .await
                .map_err(Step::store)?;
            service::set_runtime_status(
                &mut *tx,
                op.tenant,
                op.runtime_id,
                RuntimeStatusCondition::Initial,
                Some("upgrading: waiting for the runtime agent".into()),
            )
            .await
            .map_err(Step::domain)?;
            tx.bump_config_epoch(op.tenant).await.map_err(Step::store)?;
            tx.commit().await.map_err(Step::store)?;
        }
        self.inner
            .provider
            .upgrade(&provisioned)
            .await
            .map_err(Step::provider)
    }

    /// Until the runtime is READY (its agent connected and applied its configuration), the
    /// agent stops, the runtime is unregistered, or the timeout passes.
    async fn wait_for_agent(&self, op: &Operation) -> Result<(), Step> {
        let deadline = tokio::time::Instant::now() + self.inner.settings.connect_timeout;
        let mut reported_failure: Option<String> = None;
        loop {
            let (runtime, provisioned) = {
                let mut tx = self.inner.store.read().await.map_err(Step::store)?;
                (
                    tx.runtime(op.tenant, op.runtime_id)
                        .await
                        .map_err(Step::store)?,
                    tx.provisioned_runtime(op.tenant, op.runtime_id)
                        .await
                        .map_err(Step::store)?,
                )
            };
            let Some(runtime) = runtime else {
                return Err(Step::Failed(
                    "the runtime was unregistered in the Director".into(),
                ));
            };
            match runtime.status_condition {
                RuntimeStatusCondition::Ready => return Ok(()),
                RuntimeStatusCondition::Failed => reported_failure = runtime.status_message,
                RuntimeStatusCondition::Initial => {}
            }
            if let Some(provisioned) = &provisioned
                && let AgentHealth::Stopped(reason) = self.inner.provider.health(provisioned).await
            {
                return Err(Step::Failed(reason));
            }
            if tokio::time::Instant::now() >= deadline {
                let mut message = format!(
                    "the runtime agent did not report READY within {} s",
                    self.inner.settings.connect_timeout.as_secs()
                );
                if let Some(reason) = reported_failure {
                    message.push_str(&format!("; it reported FAILED: {reason}"));
                }
                return Err(Step::Failed(message));
            }
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return Err(Step::Stopped),
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}

/// How a stage ended, when not with the next stage.
enum Step {
    /// The operation failed with this message.
    Failed(String),
    /// The server is stopping: the operation stays in progress, to be resumed.
    Stopped,
}

impl Step {
    fn store(e: StoreError) -> Step {
        tracing::error!(error = %sextant_domain::ErrorChain(&e), "the Provisioner's store failed");
        // The cause stays in the log: an answer names no server internals.
        Step::Failed("the management plane's database failed; try again".into())
    }

    fn domain(e: DomainError) -> Step {
        if let DomainError::Internal(source) = &e {
            tracing::error!(error = %sextant_domain::ErrorChain(source.as_ref()), "the Provisioner's Director call failed");
        }
        Step::Failed(e.to_string())
    }

    fn provider(e: ProviderError) -> Step {
        Step::Failed(e.to_string())
    }
}
