//! Why the agent stops: [`AgentError`], the one error [`crate::Agent::run`] answers.

use std::path::PathBuf;

use sextant_client::{CertError, StateError};
use uuid::Uuid;

use crate::config::ConfigError;

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is not usable.
    #[error("invalid agent configuration")]
    Config(#[from] ConfigError),
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// The state directory belongs to another runtime or tenant than the configuration names.
    #[error(
        "the state directory belongs to runtime {state_runtime} of tenant {state_tenant}, \
         but RUNTIME_ID is {runtime} and TENANT is {tenant}: use another state directory"
    )]
    StateMismatch {
        /// The runtime of the state directory.
        state_runtime: Uuid,
        /// Its tenant.
        state_tenant: Uuid,
        /// `RUNTIME_ID`.
        runtime: Uuid,
        /// `TENANT`.
        tenant: Uuid,
    },
    /// Not paired, and no token to pair with.
    #[error("not paired yet and TOKEN is not set: request a one-time token for the runtime")]
    NoToken,
    /// Not paired (or the certificate is gone), and the token was used before.
    #[error("TOKEN was already used to pair: request a new one-time token for the runtime")]
    TokenAlreadyUsed,
    /// The state directory holds a certificate that cannot be used, and no unused token.
    #[error("cannot resume from the state directory ({0}) and TOKEN holds no unused token")]
    CannotResume(String),
    /// The Connector refused the token.
    #[error(
        "the Connector refused the one-time token (invalid, expired or already used): {0}; \
         request a new token"
    )]
    TokenRefused(String),
    /// The management plane refuses the client certificate and there is no unused token.
    #[error("certificate revoked or unknown: re-pair with a new token ({0})")]
    CertificateRefused(String),
    /// The configuration document is for another runtime than `RUNTIME_ID`.
    #[error(
        "the management plane configures runtime {runtime} of tenant {tenant}, not RUNTIME_ID/TENANT: \
         the token was issued for another runtime"
    )]
    WrongRuntime {
        /// The runtime the document is for.
        runtime: Uuid,
        /// Its tenant.
        tenant: Uuid,
    },
    /// The Connector answered something the agent cannot use.
    #[error("unexpected answer from the management plane: {0}")]
    Protocol(String),
    /// A key, CSR or certificate problem.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// `CA_CERT_FILE` cannot be read.
    #[error("cannot read CA_CERT_FILE {path}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The event gateway cannot start.
    #[error("event gateway: {0}")]
    EventGateway(String),
}
