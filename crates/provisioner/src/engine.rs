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
    DomainError, OperationId, Runtime, RuntimeId, RuntimeStatusCondition, SystemAuthOwner, TenantId,
};
use sextant_store::{CertificatesOf, Store, StoreError, Tx};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::provider::{AgentHealth, Bootstrap, Provider, ProviderError};

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
    /// the leases of its own, every third of the lease.
    pub async fn run(self, shutdown: CancellationToken) {
        let inner = &self.inner;
        match self.all_provisioned().await {
            Ok(runtimes) => inner.provider.reconcile(&runtimes).await,
            Err(e) => tracing::error!(error = %e, "cannot list provisioned runtimes"),
        }
        loop {
            match self.claim().await {
                Ok(ops) => {
                    for op in ops {
                        self.launch(op);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew the Provisioner's leases"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(inner.settings.lease / 3) => {}
            }
        }
        inner.shutdown.cancel();
    }

    async fn all_provisioned(&self) -> Result<Vec<ProvisionedRuntime>, StoreError> {
        let mut tx = self.inner.store.read().await?;
        tx.all_provisioned_runtimes().await
    }

    async fn claim(&self) -> Result<Vec<Operation>, StoreError> {
        let now = now();
        let until = now + self.inner.settings.lease;
        let mut tx = self.inner.store.write().await?;
        let ops = tx.claim_operations(self.inner.owner, now, until).await?;
        tx.commit().await?;
        Ok(ops)
    }

    fn lease(&self) -> (Uuid, OffsetDateTime) {
        (self.inner.owner, now() + self.inner.settings.lease)
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
        self.insert(&mut *tx, &op).await?;
        tx.commit().await.map_err(internal)?;
        self.launch(op.clone());
        Ok(op)
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
        self.insert(&mut *tx, &op).await?;
        tx.commit().await.map_err(internal)?;
        self.launch(op.clone());
        Ok(op)
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
        self.insert(&mut *tx, &op).await?;
        tx.commit().await.map_err(internal)?;
        self.launch(op.clone());
        Ok(op)
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

    // --- running operations ---

    async fn drive(&self, mut op: Operation) {
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
                    tracing::warn!(operation = %op.id, error = %e, "cannot record the operation's progress")
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
                    CertificatesOf::Owner(SystemAuthOwner::Runtime(op.runtime_id)),
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
            tracing::error!(error = %source, "the Provisioner's Director call failed");
        }
        Step::Failed(e.to_string())
    }

    fn provider(e: ProviderError) -> Step {
        Step::Failed(e.to_string())
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
