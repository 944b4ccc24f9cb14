//! The Runtime Agent: what runs inside a runtime and connects it to the management plane
//! (Compass's Runtime Agent contract, section 6 of the spec).
//!
//! 1. **Pairing.** With the bootstrap values ([`BootstrapConfig`]: `CONNECTOR_URL`, `TOKEN`,
//!    `RUNTIME_ID`, `TENANT`, `CA_CERT_FILE`) it calls the token-secured Connector's
//!    `configuration` (header `Connector-Token`), makes a P-256 key and a CSR for exactly the
//!    subject it is given, and has it signed (`signCertificateSigningRequest` with the CSR
//!    token). The key, the certificate, the CA bundle (all CAs the Connector names, so a CA
//!    rotation does not cut the agent off) and `state.json` go into the state directory
//!    (0700; files 0600, written atomically). A used token is remembered by its hash and never
//!    needed again: a restart resumes from the state directory.
//! 2. **Renewal.** At two thirds of the certificate's lifetime, or when asked
//!    ([`AgentHandle::renew_certificate`], [`AgentConfig::renew_now`]), the same two calls
//!    over mTLS with a new key; key, certificate and CA bundle are replaced as one and the
//!    HTTP client switched. When the management plane refuses the certificate (HTTP 401 from
//!    a certificate-secured endpoint, or a TLS alert about it), the agent re-pairs if
//!    `TOKEN` holds a token it has not used yet, and otherwise stops with
//!    [`AgentError::CertificateRefused`] ("certificate revoked or unknown: re-pair with a new
//!    token").
//! 3. **Configuration.** It long-polls `GET /runtime/configuration?wait=30` on the mTLS
//!    listener with `If-None-Match`, fetches the specs a new document names (verifying their
//!    SHA-256; cached under `specs/`), writes the document to `applied-configuration.json`,
//!    records version and time in `state.json`, and publishes it to in-process consumers
//!    ([`AgentHandle::configuration`]). Failures are retried with exponential backoff and
//!    full jitter (1 s doubling to 30 s).
//! 4. **Event gateway** (with [`AgentConfig::event_gateway`]): a TLS listener where paired
//!    applications post events with their client certificate, accepted only from applications
//!    of the applied configuration and handed to an [`EventSink`]; its server certificate
//!    comes from the management plane's runtime serving CA and is renewed with the client
//!    certificate; its URL is the `runtime/event_service_url` label unless one is configured.
//! 5. **Reporting.** Once configured it sets the runtime's labels `runtime/event_service_url`
//!    and `runtime/console_url` (when configured) and reports READY through the Director's
//!    `setRuntimeStatus`, or FAILED with the reason when applying fails; only changes are
//!    sent.
//!
//! # Wiring it into a command line
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use sextant_agent::{Agent, AgentConfig, BootstrapConfig};
//! use tokio_util::sync::CancellationToken;
//!
//! // `--config-file agent.env`, or the environment (CONNECTOR_URL, TOKEN, RUNTIME_ID,
//! // TENANT, CA_CERT_FILE) when no file is named.
//! let bootstrap = BootstrapConfig::load(Some(std::path::Path::new("agent.env")))?;
//! let mut config = AgentConfig::new(bootstrap, "./sextant-agent-state"); // --state-dir
//! config.event_service_url = Some("https://gateway.kyma.local".into()); // --event-service-url
//! config.console_url = Some("https://console.kyma.local".into()); // --console-url
//! config.renew_now = false; // --renew-now
//! let agent = Agent::new(config)?;
//! let handle = agent.handle(); // configuration(), status(), renew_certificate()
//! let shutdown = CancellationToken::new(); // cancel on Ctrl-C / SIGTERM
//! agent.run(shutdown).await?; // Err: print it (with its sources) and exit non-zero
//! # drop(handle);
//! # Ok(())
//! # }
//! ```
//!
//! [`run`] is the same in one call. [`read_state`] reads a state directory's `state.json`
//! (for a `status` command) without starting anything.
//!
//! Must not know: the server's store or the Director's rules. It sees the management plane
//! only through `sextant-client` and the wire types of `sextant-domain`, as any runtime
//! would.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod backoff;
pub mod config;
mod error;
mod events;
mod failure;
mod follow;
pub mod listen;
mod pairing;
mod report;
mod session;
pub mod state;
mod status;

use std::sync::Arc;

use sextant_domain::runtime_config::RuntimeConfiguration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

pub use config::{
    AgentConfig, BootstrapConfig, CONSOLE_URL_LABEL, ConfigError, EventGatewayConfig,
};
pub use error::AgentError;
pub use sextant_client::certs;
pub use sextant_client::certs::{CertError, CertificateInfo};
pub use sextant_gateway::events::EventSink;
pub use state::{State, StateError, read_state};
pub use status::{AgentStatus, Phase};

/// Observes and steers a running agent; cheap to clone.
#[derive(Clone)]
pub struct AgentHandle {
    configuration: watch::Receiver<Option<Arc<RuntimeConfiguration>>>,
    status: watch::Receiver<AgentStatus>,
    renew: Arc<Notify>,
}

impl AgentHandle {
    /// The configuration applied (`None` until there is one): the runtime gateway subscribes
    /// here. After a restart, the configuration applied before is published at once.
    pub fn configuration(&self) -> watch::Receiver<Option<Arc<RuntimeConfiguration>>> {
        self.configuration.clone()
    }

    /// The agent's status.
    pub fn status(&self) -> watch::Receiver<AgentStatus> {
        self.status.clone()
    }

    /// Asks for the certificate to be renewed now (once, as soon as the agent holds one).
    pub fn renew_certificate(&self) {
        self.renew.notify_one();
    }
}

/// An agent ready to run.
pub struct Agent {
    config: AgentConfig,
    configuration: watch::Sender<Option<Arc<RuntimeConfiguration>>>,
    status: watch::Sender<AgentStatus>,
    renew: Arc<Notify>,
}

impl Agent {
    /// Checks the configuration; nothing is touched before [`Agent::run`].
    pub fn new(config: AgentConfig) -> Result<Agent, AgentError> {
        config.validate()?;
        let renew = Arc::new(Notify::new());
        if config.renew_now {
            renew.notify_one();
        }
        Ok(Agent {
            config,
            configuration: watch::Sender::new(None),
            status: watch::Sender::new(AgentStatus {
                phase: Phase::Starting,
                certificate: None,
                applied_version: None,
                last_error: None,
                failures: 0,
            }),
            renew,
        })
    }

    /// A handle to observe and steer the agent while it runs.
    pub fn handle(&self) -> AgentHandle {
        AgentHandle {
            configuration: self.configuration.subscribe(),
            status: self.status.subscribe(),
            renew: self.renew.clone(),
        }
    }

    /// Runs until `shutdown` is cancelled (`Ok`) or the agent cannot go on (the error says
    /// why and is logged).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AgentError> {
        let status = self.status.clone();
        let result = self.run_inner(&shutdown).await;
        if let Err(e) = &result {
            tracing::error!(error = %sextant_client::chain(e), "the agent stops");
        }
        status.send_modify(|status| {
            status.phase = Phase::Stopped;
            if let Err(e) = &result {
                status.last_error = Some(sextant_client::chain(e));
            }
        });
        result
    }

    async fn run_inner(mut self, shutdown: &CancellationToken) -> Result<(), AgentError> {
        let events = match self.config.event_gateway.clone() {
            Some(config) => {
                let gateway = events::EventGateway::bind(config)
                    .await
                    .map_err(AgentError::EventGateway)?;
                if self.config.event_service_url.is_none() {
                    self.config.event_service_url = Some(gateway.url.clone());
                }
                tracing::info!(url = %gateway.url, "the event gateway listens");
                Some(gateway)
            }
            None => None,
        };
        // The gateway stops with the agent, however it stops.
        let _stop_events = events.as_ref().map(|g| g.shutdown.clone().drop_guard());
        let bootstrap = &self.config.bootstrap;
        let dir = state::open(&self.config.state_dir)?;
        let state = match dir.read_state::<State>()? {
            Some(state) => {
                if state.runtime_id != bootstrap.runtime_id || state.tenant != bootstrap.tenant {
                    return Err(AgentError::StateMismatch {
                        state_runtime: state.runtime_id,
                        state_tenant: state.tenant,
                        runtime: bootstrap.runtime_id,
                        tenant: bootstrap.tenant,
                    });
                }
                state
            }
            None => State::new(bootstrap.runtime_id, bootstrap.tenant),
        };
        tracing::info!(
            runtime = %bootstrap.runtime_id,
            tenant = %bootstrap.tenant,
            state_dir = %dir.root().display(),
            "starting the runtime agent"
        );
        let shared = session::Shared {
            config: self.config,
            dir,
            state: tokio::sync::Mutex::new(state),
            status: self.status,
            configuration: self.configuration,
            renew: self.renew,
            verified_specs: Default::default(),
        };
        agent::run(shared, events, shutdown).await
    }
}

/// Runs an agent with `config` until `shutdown` is cancelled (see [`Agent::run`]).
pub async fn run(config: AgentConfig, shutdown: CancellationToken) -> Result<(), AgentError> {
    Agent::new(config)?.run(shutdown).await
}
