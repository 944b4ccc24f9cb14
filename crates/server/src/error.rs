//! [`ServerError`]: why the server could not start (or a data directory command failed).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory file {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data directory is inconsistent: {0}")]
    Inconsistent(String),
    #[error("certificate authority")]
    Pki(#[from] sextant_pki::PkiError),
    #[error("token signing key")]
    Auth(#[source] sextant_auth::AuthError),
    #[error("TLS configuration")]
    Tls(#[from] sextant_tls::TlsError),
    #[error("database")]
    Store(#[from] sextant_store::StoreError),
    #[error("console")]
    Console(#[from] sextant_console::ConsoleError),
    #[error("outbound HTTP client")]
    Fetch(#[source] sextant_fetch::FetchError),
    #[error("connection limits: {0}")]
    Limits(String),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
