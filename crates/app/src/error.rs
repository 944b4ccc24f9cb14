//! Why an application client operation failed: [`AppError`], and how a failed call to the
//! management plane reads as one.

use std::path::PathBuf;

use sextant_client::{CallError, CertError, StateError};

/// Why an application client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// Not paired, and no token to pair with.
    #[error("not paired yet: pair with a one-time token (requestOneTimeTokenForApplication)")]
    NoToken,
    /// The state directory holds no certificate.
    #[error("the state directory holds no certificate: pair first")]
    NotPaired,
    /// The token was spent before and the state directory holds no certificate.
    #[error("this one-time token was already used: request a new one")]
    TokenAlreadyUsed,
    /// The Connector refused the token.
    #[error(
        "the Connector refused the one-time token (invalid, expired or already used): {0}; \
         request a new token"
    )]
    TokenRefused(String),
    /// The management plane refuses the client certificate.
    #[error("the management plane refuses the client certificate (revoked or unknown): {0}")]
    CertificateRefused(String),
    /// The Director or Connector refused the request (a GraphQL error).
    #[error("refused: {0}")]
    Rejected(String),
    /// The call did not get an answer, or an unsuccessful HTTP status.
    #[error("{0}")]
    Transport(String),
    /// An answer the client cannot use.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// A key, CSR or certificate problem.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// An input (manifest, spec, token, option) is not usable.
    #[error("{0}")]
    Input(String),
    /// A file cannot be read.
    #[error("cannot read {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<CallError> for AppError {
    fn from(error: CallError) -> AppError {
        match error {
            CallError::Unreachable(m) | CallError::Status(m) => AppError::Transport(m),
            // The application client tells no TLS alert from another failure to connect.
            CallError::HandshakeRefused { detail, .. } => AppError::Transport(detail),
            CallError::CertificateRefused(m) => AppError::CertificateRefused(m),
            CallError::TokenRefused(m) => AppError::TokenRefused(m),
            CallError::GraphQL { .. } => AppError::Rejected(error.to_string()),
            CallError::Malformed(m) => AppError::Protocol(m),
        }
    }
}
