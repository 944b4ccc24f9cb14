//! What the parts of a running agent share, so that each imports it and none imports
//! another: [`Shared`] (configuration, state directory, status and configuration channels),
//! the [`Link`] of the current certificate, a [`Session`] of one certificate, why it ends,
//! and what the Director should know ([`Desired`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use sextant_client::{CertificateInfo, Connection, Credentials, StateDir, StateError};
use sextant_domain::runtime_config::RuntimeConfiguration;
use tokio::sync::{Notify, watch};

use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::state::State;
use crate::status::{AgentStatus, Phase};

/// How the agent introduces itself over HTTP.
pub(crate) const USER_AGENT: &str = concat!("sextant-agent/", env!("CARGO_PKG_VERSION"));

/// What every part of a running agent shares.
pub(crate) struct Shared {
    pub config: AgentConfig,
    pub dir: StateDir,
    /// `state.json` as last written.
    pub state: tokio::sync::Mutex<State>,
    pub status: watch::Sender<AgentStatus>,
    pub configuration: watch::Sender<Option<Arc<RuntimeConfiguration>>>,
    pub renew: Arc<Notify>,
    /// Cached specs whose hash was checked by this process.
    pub verified_specs: Mutex<HashSet<String>>,
}

impl Shared {
    /// Changes `state.json`: written first, then remembered.
    pub async fn update_state(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let mut next = state.clone();
        change(&mut next);
        self.dir.write_state(&next)?;
        *state = next;
        Ok(())
    }

    /// Installs a new key, certificate and CA bundle, and the connection in `state.json`.
    pub async fn install(
        &self,
        credentials: &Credentials,
        connection: Connection,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let mut next = state.clone();
        next.connection = Some(connection);
        self.dir.install_credentials(credentials, &next)?;
        *state = next;
        Ok(())
    }

    /// Counts a failed attempt to reach the management plane.
    pub fn failure(&self, message: &str) {
        self.status.send_modify(|status| {
            status.failures += 1;
            status.last_error = Some(message.to_owned());
        });
    }

    pub fn set_phase(&self, phase: Phase) {
        self.status.send_if_modified(|status| {
            let changed = status.phase != phase;
            status.phase = phase;
            changed
        });
    }

    pub fn verified(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.verified_specs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The certificate-secured side as of now: a client with the current certificate and where
/// to reach the Director, the Connector and the configuration.
pub(crate) struct Link {
    pub client: reqwest::Client,
    pub director_url: String,
    pub connector_url: String,
    /// Scheme, host and port of the Director URL: the mTLS listener.
    pub base: String,
    pub certificate: CertificateInfo,
    /// The CA bundle of the pairing: the CAs of the management plane's client certificates.
    pub ca_pem: String,
    /// When the agent got the certificate (its `notBefore` for one found in the state
    /// directory).
    pub obtained_at: time::OffsetDateTime,
}

impl Link {
    pub fn new(credentials: &Credentials, connection: &Connection) -> Result<Link, String> {
        let director = url::Url::parse(&connection.director_url)
            .map_err(|e| format!("directorURL is not a URL: {e}"))?;
        let base = director.origin().ascii_serialization();
        if director.scheme() != "https" {
            return Err("directorURL is not https".into());
        }
        Ok(Link {
            client: sextant_client::http::mtls_client(USER_AGENT, credentials)?,
            director_url: connection.director_url.clone(),
            connector_url: connection.certificate_secured_connector_url.clone(),
            base,
            certificate: connection.certificate.clone(),
            ca_pem: credentials.ca_pem.clone(),
            obtained_at: time::OffsetDateTime::now_utc(),
        })
    }

    /// When to renew: at two thirds of the lifetime, counted from when the agent got the
    /// certificate if that is later than its `notBefore` (a CA backdates `notBefore` for
    /// clock skew; counted from there, a short-lived certificate would be due at once, and
    /// every renewal would be followed by the next).
    pub fn renew_at(&self) -> time::OffsetDateTime {
        let certificate = &self.certificate;
        let start = certificate
            .not_before
            .max(self.obtained_at.min(certificate.not_after));
        start + (certificate.not_after - start) * 2 / 3
    }
}

/// One certificate's session: the parts that use the link.
pub(crate) struct Session {
    pub link: ArcSwap<Link>,
    pub desired: watch::Sender<Desired>,
}

/// Why a session ended.
pub(crate) enum SessionEnd {
    /// The certificate was refused.
    Refused(String),
    /// Something that retrying cannot fix.
    Fatal(AgentError),
}

/// What the Director should know about the runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Desired {
    /// Labels to set (key, value).
    pub labels: Vec<(String, String)>,
    /// The status to report, once there is one.
    pub status: Option<StatusReport>,
}

/// A `RuntimeStatusCondition` with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusReport {
    pub condition: &'static str,
    pub message: Option<String>,
}

impl StatusReport {
    pub fn ready() -> StatusReport {
        StatusReport {
            condition: "READY",
            message: None,
        }
    }

    pub fn failed(message: &str) -> StatusReport {
        StatusReport {
            condition: "FAILED",
            message: Some(message.to_owned()),
        }
    }
}
