//! The provider interface: where and how a runtime is created. The Provisioner does the
//! management plane's part of every operation (the Director, tokens, certificates, waiting
//! for the agent); a provider does the runtime's part.

use sextant_domain::provisioning::ProvisionedRuntime;
use sextant_domain::{RuntimeId, TenantId};

/// What the runtime's agent needs to connect to the management plane (Compass's
/// `compass-agent-configuration`: `CONNECTOR_URL`, `TOKEN`, `RUNTIME_ID`, `TENANT`).
#[derive(Clone)]
pub struct Bootstrap {
    pub connector_url: String,
    pub token: String,
    pub runtime_id: RuntimeId,
    pub tenant: TenantId,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("connector_url", &self.connector_url)
            .field("token", &"<redacted>")
            .field("runtime_id", &self.runtime_id)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Whether the runtime's agent is running, as far as the provider can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentHealth {
    Running,
    /// Not running, with what the provider knows (an exit status, the end of its log).
    Stopped(String),
}

/// A provider's error: shown to the caller as the operation's message.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The input does not suit the provider.
    #[error("{0}")]
    Invalid(String),
    /// Creating, changing or removing the runtime failed.
    #[error("{0}")]
    Failed(String),
}

/// Creates, changes and removes runtimes. Every method may be called again for the same
/// runtime after a restart in the middle of an operation, so each must be idempotent.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The name given in the provisioning input (`localConfig` → `local`).
    fn name(&self) -> &'static str;

    /// Checks the provider part of a provisioning input (JSON of its input object) and turns
    /// it into the configuration stored for the runtime. Called before anything is written.
    fn configure(
        &self,
        runtime_id: RuntimeId,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError>;

    /// Applies an upgrade's input to a runtime's stored configuration.
    fn reconfigure(
        &self,
        current: &serde_json::Value,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError>;

    /// Creates the runtime and starts its agent with the bootstrap configuration.
    async fn provision(
        &self,
        runtime: &ProvisionedRuntime,
        bootstrap: &Bootstrap,
    ) -> Result<(), ProviderError>;

    /// Restarts the runtime's agent with the runtime's (new) configuration and the current
    /// agent; the agent resumes from its state.
    async fn upgrade(&self, runtime: &ProvisionedRuntime) -> Result<(), ProviderError>;

    /// Makes the agent pair again with a new token: its old credentials are dropped.
    async fn reconnect(
        &self,
        runtime: &ProvisionedRuntime,
        bootstrap: &Bootstrap,
    ) -> Result<(), ProviderError>;

    /// Stops the runtime's agent and removes the runtime.
    async fn deprovision(&self, runtime: &ProvisionedRuntime) -> Result<(), ProviderError>;

    /// Whether the runtime's agent is running.
    async fn health(&self, runtime: &ProvisionedRuntime) -> AgentHealth;

    /// At start: brings back what should be running (a runtime whose agent stopped while the
    /// server was away). Runtimes this provider instance does not hold are left alone.
    async fn reconcile(&self, runtimes: &[ProvisionedRuntime]);

    /// What `runtimeStatus.runtimeConfiguration` shows of a runtime's configuration.
    fn describe(&self, config: &serde_json::Value) -> serde_json::Value {
        config.clone()
    }
}
