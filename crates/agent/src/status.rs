//! What the agent reports about itself to in-process observers: its [`Phase`] and
//! [`AgentStatus`].

use sextant_client::CertificateInfo;

/// Where the agent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet.
    Starting,
    /// Pairing with the one-time token.
    Pairing,
    /// Holding a certificate, configuration not applied yet in this run.
    Connected,
    /// The current configuration is applied.
    Ready,
    /// The last configuration could not be applied (retried with backoff).
    Failed,
    /// [`crate::Agent::run`] returned.
    Stopped,
}

/// What the agent is doing, for observers ([`crate::AgentHandle::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentStatus {
    /// Where it is.
    pub phase: Phase,
    /// The client certificate in use.
    pub certificate: Option<CertificateInfo>,
    /// The version of the configuration applied.
    pub applied_version: Option<String>,
    /// The last failure (kept after recovering).
    pub last_error: Option<String>,
    /// Failed attempts so far (calls to the management plane, applies): with backoff, this
    /// grows slowly while the management plane is unreachable.
    pub failures: u64,
}
