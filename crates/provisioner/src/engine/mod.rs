//! Operations: started by the API in one write transaction (with the Director's part, such as
//! registering the runtime), then run step by step by the server holding their lease. Each
//! step is recorded as it ends, so a server that restarts, or another replica once the lease
//! ran out, resumes the operation at the step it was at.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sextant_director::service::{self, RuntimeInput};
use sextant_domain::provisioning::{Operation, OperationKind, OperationState, ProvisionedRuntime};
use sextant_domain::{
    DomainError, OperationId, Runtime, RuntimeId, RuntimeStatusCondition, TenantId,
};
use sextant_store::{Lease, Store, StoreError, Tx};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::provider::{AgentHealth, Provider, ProviderError};

mod leases;
mod steps;

/// The stage an operation has when it has ended.
const FINISHED: &str = "Finished";
/// Provision and reconnect: a token is made and the agent started with it.
const CONNECT: &str = "ConnectRuntimeAgent";
/// Provision, upgrade and reconnect: until the agent reports READY.
const WAIT: &str = "WaitForAgentToConnect";
/// Upgrade: the new configuration is recorded and the agent restarted.
const UPGRADE: &str = "UpgradeRuntime";
/// Deprovision: the runtime is unregistered in the Director (its certificates revoked).
const UNREGISTER: &str = "UnregisterRuntime";
/// Deprovision: the provider removes the runtime.
const REMOVE: &str = "DeprovisionRuntime";

/// The Provisioner's settings.
#[derive(Clone, Debug)]
pub struct ProvisionerSettings {
    /// Where agents redeem their token (the Connector's token-secured URL).
    pub connector_url: String,
    /// How long a runtime's one-time token is valid.
    pub token_ttl: Duration,
    /// How long an operation waits for the agent to report READY.
    pub connect_timeout: Duration,
    /// How long an operation stays with a server that stopped renewing it.
    pub lease: Duration,
}

impl ProvisionerSettings {
    pub fn new(connector_url: String) -> ProvisionerSettings {
        ProvisionerSettings {
            connector_url,
            token_ttl: Duration::from_secs(60 * 60),
            connect_timeout: Duration::from_secs(5 * 60),
            lease: Duration::from_secs(30),
        }
    }
}

/// What `runtimeStatus` reports.
#[derive(Clone, Debug)]
pub struct RuntimeStatusView {
    pub last_operation: Option<Operation>,
    pub connection: ConnectionView,
    /// The runtime's configuration: the provider's, plus `credentialsSecretName` and
    /// `kymaConfig` when given.
    pub configuration: Option<(String, Value)>,
}

/// `RuntimeConnectionStatus`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionView {
    pub status: ConnectionState,
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Pending,
    Connected,
    Disconnected,
}

/// The Provisioner: starts operations and runs them.
#[derive(Clone)]
pub struct Provisioner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    provider: Arc<dyn Provider>,
    settings: ProvisionerSettings,
    /// This process's identity as a lease holder.
    owner: Uuid,
    /// Operations running in this process.
    running: Mutex<HashSet<OperationId>>,
    shutdown: CancellationToken,
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

fn internal(e: StoreError) -> DomainError {
    DomainError::Internal(Box::new(e))
}

fn in_progress(runtime: RuntimeId) -> DomainError {
    DomainError::InUse(format!(
        "cannot start new operation for {runtime} Runtime while previous one is in progress"
    ))
}

fn provider_error(e: ProviderError) -> DomainError {
    match e {
        ProviderError::Invalid(m) => DomainError::Invalid(m),
        ProviderError::Failed(m) => DomainError::Internal(m.into()),
    }
}

impl Provisioner {
    /// A Provisioner over the store with one provider. Call [`Provisioner::run`] to have it
    /// run operations.
    pub fn new(
        store: Arc<dyn Store>,
        provider: Arc<dyn Provider>,
        settings: ProvisionerSettings,
    ) -> Provisioner {
        Provisioner {
            inner: Arc::new(Inner {
                store,
                provider,
                settings,
                owner: Uuid::new_v4(),
                running: Mutex::new(HashSet::new()),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// The provider's name (what `clusterConfig` selects).
    pub fn provider_name(&self) -> &'static str {
        self.inner.provider.name()
    }

    /// Runs until `shutdown`: brings the provider's runtimes back, then takes the operations
    /// in progress that nobody holds (after a restart, once their lease ran out) and renews
    /// the leases of its own, every third of the lease (the `leases::Leases` task).
    pub async fn run(self, shutdown: CancellationToken) {
        match self.all_provisioned().await {
            Ok(runtimes) => self.inner.provider.reconcile(&runtimes).await,
            Err(e) => {
                tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot list provisioned runtimes");
            }
        }
        let schedule = leases::Leases::schedule(&self.inner.settings);
        sextant_background::run(leases::Leases(self.clone()), schedule, shutdown).await;
        self.inner.shutdown.cancel();
    }

    async fn all_provisioned(&self) -> Result<Vec<ProvisionedRuntime>, StoreError> {
        let mut tx = self.inner.store.read().await?;
        tx.all_provisioned_runtimes().await
    }

    fn lease(&self) -> Lease {
        Lease {
            owner: self.inner.owner,
            expires_at: now() + self.inner.settings.lease,
        }
    }

    /// Runs an operation in this process unless it already runs here.
    fn launch(&self, op: Operation) {
        let fresh = self
            .inner
            .running
            .lock()
            .map(|mut running| running.insert(op.id))
            .unwrap_or(false);
        if !fresh {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let id = op.id;
            this.drive(op).await;
            if let Ok(mut running) = this.inner.running.lock() {
                running.remove(&id);
            }
        });
    }

    fn new_operation(
        tenant: TenantId,
        runtime_id: RuntimeId,
        kind: OperationKind,
        stage: &str,
        message: &str,
        input: Value,
    ) -> Operation {
        Operation {
            id: OperationId::new_v4(),
            tenant,
            runtime_id,
            kind,
            state: OperationState::InProgress,
            stage: stage.to_owned(),
            message: message.to_owned(),
            input,
            started_at: now(),
            finished_at: None,
        }
    }

    /// Records a new operation of an idle runtime in `tx`, commits, and runs it.
    async fn start(&self, mut tx: Box<dyn Tx>, op: Operation) -> Result<Operation, DomainError> {
        self.insert(&mut *tx, &op).await?;
        tx.commit().await.map_err(internal)?;
        self.launch(op.clone());
        Ok(op)
    }

    async fn insert(&self, tx: &mut dyn Tx, op: &Operation) -> Result<(), DomainError> {
        match tx.insert_operation(op, Some(self.lease())).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotUnique) => Err(in_progress(op.runtime_id)),
            Err(e) => Err(internal(e)),
        }
    }

    /// `provisionRuntime`: a registered runtime (`id`, as in Compass 2019), or one registered
    /// now (`runtime`, as in 2020). `provider_input` is the provider's input object, and
    /// `extra` what the runtime's configuration keeps besides (`credentialsSecretName`,
    /// `kymaConfig`).
    pub async fn provision(
        &self,
        tenant: TenantId,
        id: Option<RuntimeId>,
        runtime: Option<RuntimeInput>,
        provider_input: Value,
        extra: serde_json::Map<String, Value>,
    ) -> Result<Operation, DomainError> {
        let mut tx = self.inner.store.write().await.map_err(internal)?;
        let runtime_id = match (id, runtime) {
            (Some(id), None) => {
                tx.runtime(tenant, id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| DomainError::not_found("runtime", id))?;
                id
            }
            (None, Some(input)) => service::register_runtime(&mut *tx, tenant, input).await?.id,
            (Some(_), Some(_)) => {
                return Err(DomainError::Invalid(
                    "give either id (a registered runtime) or config.runtimeInput (to register one), not both".into(),
                ));
            }
            (None, None) => {
                return Err(DomainError::Invalid(
                    "give id (a registered runtime) or config.runtimeInput (to register one)"
                        .into(),
                ));
            }
        };
        match tx
            .last_operation(tenant, runtime_id)
            .await
            .map_err(internal)?
        {
            None => {}
            Some(op) if op.state == OperationState::InProgress => {
                return Err(in_progress(runtime_id));
            }
            Some(op)
                if op.kind == OperationKind::Provision && op.state == OperationState::Failed => {}
            Some(_) => {
                return Err(DomainError::Invalid(format!(
                    "cannot provision runtime. Runtime {runtime_id} already provisioned"
                )));
            }
        }
        let mut config = self
            .inner
            .provider
            .configure(runtime_id, &provider_input)
            .map_err(provider_error)?;
        if let Value::Object(map) = &mut config {
            map.extend(extra);
        }
        tx.put_provisioned_runtime(&ProvisionedRuntime {
            runtime_id,
            tenant,
            provider: self.inner.provider.name().to_owned(),
            config,
            created_at: now(),
        })
        .await
        .map_err(internal)?;
        let op = Self::new_operation(
            tenant,
            runtime_id,
            OperationKind::Provision,
            CONNECT,
            "Provisioning started",
            json!({}),
        );
        self.insert(&mut *tx, &op).await?;
        tx.bump_config_epoch(tenant).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.launch(op.clone());
        Ok(op)
    }

    /// Checks that the runtime was provisioned and has no operation in progress.
    async fn provisioned_idle(
        tx: &mut dyn Tx,
        tenant: TenantId,
        id: RuntimeId,
    ) -> Result<ProvisionedRuntime, DomainError> {
        let provisioned = tx
            .provisioned_runtime(tenant, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                DomainError::NotFound(format!(
                    "runtime with ID \"{id}\" was not provisioned by the Provisioner"
                ))
            })?;
        if let Some(op) = tx.last_operation(tenant, id).await.map_err(internal)?
            && op.state == OperationState::InProgress
        {
            return Err(in_progress(id));
        }
        Ok(provisioned)
    }

    /// `deprovisionRuntime`: unregisters the runtime (revoking its certificates), then the
    /// provider removes it.
    pub async fn deprovision(
        &self,
        tenant: TenantId,
        id: RuntimeId,
    ) -> Result<Operation, DomainError> {
        let mut tx = self.inner.store.write().await.map_err(internal)?;
        Self::provisioned_idle(&mut *tx, tenant, id).await?;
        let op = Self::new_operation(
            tenant,
            id,
            OperationKind::Deprovision,
            UNREGISTER,
            "Deprovisioning started.",
            json!({}),
        );
        self.start(tx, op).await
    }

    /// `upgradeRuntime`: the provider's new configuration is checked now and applied by the
    /// operation.
    pub async fn upgrade(
        &self,
        tenant: TenantId,
        id: RuntimeId,
        provider_input: Value,
        extra: serde_json::Map<String, Value>,
    ) -> Result<Operation, DomainError> {
        let mut tx = self.inner.store.write().await.map_err(internal)?;
        let provisioned = Self::provisioned_idle(&mut *tx, tenant, id).await?;
        let mut config = self
            .inner
            .provider
            .reconfigure(&provisioned.config, &provider_input)
            .map_err(provider_error)?;
        if let Value::Object(map) = &mut config {
            map.extend(extra);
        }
        let op = Self::new_operation(
            tenant,
            id,
            OperationKind::Upgrade,
            UPGRADE,
            "Upgrade started.",
            json!({ "config": config }),
        );
        self.start(tx, op).await
    }

    /// `reconnectRuntimeAgent`: the runtime's certificates are revoked and its agent pairs
    /// again with a new token.
    pub async fn reconnect(
        &self,
        tenant: TenantId,
        id: RuntimeId,
    ) -> Result<Operation, DomainError> {
        let mut tx = self.inner.store.write().await.map_err(internal)?;
        Self::provisioned_idle(&mut *tx, tenant, id).await?;
        let op = Self::new_operation(
            tenant,
            id,
            OperationKind::ReconnectRuntime,
            CONNECT,
            "Reconnecting the runtime agent.",
            json!({}),
        );
        self.start(tx, op).await
    }

    /// `cleanupRuntimeData` (Compass 2019): removes the Provisioner's finished records of a
    /// runtime that no longer exists in the Director; the runtime itself is not touched.
    pub async fn cleanup(&self, tenant: TenantId, id: RuntimeId) -> Result<String, DomainError> {
        let mut tx = self.inner.store.write().await.map_err(internal)?;
        if let Some(op) = tx.last_operation(tenant, id).await.map_err(internal)?
            && op.state == OperationState::InProgress
        {
            return Err(in_progress(id));
        }
        let registered = tx.runtime(tenant, id).await.map_err(internal)?.is_some();
        let provisioned = tx.provisioned_runtime(tenant, id).await.map_err(internal)?;
        if registered && provisioned.is_some() {
            return Err(DomainError::InUse(format!(
                "runtime {id} is still provisioned: deprovision it first"
            )));
        }
        let removed_ops = tx
            .delete_finished_operations(tenant, id)
            .await
            .map_err(internal)?;
        let removed_runtime = tx
            .delete_provisioned_runtime(tenant, id)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        if removed_ops == 0 && !removed_runtime {
            return Ok(format!("Runtime with ID {id} not found in the database"));
        }
        Ok(format!(
            "Successfully cleaned up data for Runtime with ID {id}"
        ))
    }

    /// `runtimeOperationStatus`.
    pub async fn operation(
        &self,
        tenant: TenantId,
        id: OperationId,
    ) -> Result<Option<Operation>, DomainError> {
        let mut tx = self.inner.store.read().await.map_err(internal)?;
        tx.operation(tenant, id).await.map_err(internal)
    }

    /// `runtimeStatus`: None when neither the Provisioner nor the Director knows the runtime.
    pub async fn runtime_status(
        &self,
        tenant: TenantId,
        id: RuntimeId,
    ) -> Result<Option<RuntimeStatusView>, DomainError> {
        let (last, provisioned, runtime) = {
            let mut tx = self.inner.store.read().await.map_err(internal)?;
            (
                tx.last_operation(tenant, id).await.map_err(internal)?,
                tx.provisioned_runtime(tenant, id).await.map_err(internal)?,
                tx.runtime(tenant, id).await.map_err(internal)?,
            )
        };
        if last.is_none() && provisioned.is_none() && runtime.is_none() {
            return Ok(None);
        }
        let health = match &provisioned {
            Some(p) if p.provider == self.inner.provider.name() => {
                Some(self.inner.provider.health(p).await)
            }
            _ => None,
        };
        let connection = connection_of(runtime.as_ref(), health);
        let configuration =
            provisioned.map(|p| (p.provider.clone(), self.inner.provider.describe(&p.config)));
        Ok(Some(RuntimeStatusView {
            last_operation: last,
            connection,
            configuration,
        }))
    }
}
/// `RuntimeConnectionStatus` from the runtime's status in the Director and the provider's
/// view of its agent.
fn connection_of(runtime: Option<&Runtime>, health: Option<AgentHealth>) -> ConnectionView {
    let Some(runtime) = runtime else {
        return ConnectionView {
            status: ConnectionState::Disconnected,
            errors: vec!["the runtime is not registered in the Director".into()],
        };
    };
    if let Some(AgentHealth::Stopped(reason)) = health {
        return ConnectionView {
            status: ConnectionState::Disconnected,
            errors: vec![reason],
        };
    }
    match runtime.status_condition {
        RuntimeStatusCondition::Initial => ConnectionView {
            status: ConnectionState::Pending,
            errors: vec![],
        },
        RuntimeStatusCondition::Ready => ConnectionView {
            status: ConnectionState::Connected,
            errors: vec![],
        },
        RuntimeStatusCondition::Failed => ConnectionView {
            status: ConnectionState::Connected,
            errors: runtime.status_message.clone().into_iter().collect(),
        },
    }
}
