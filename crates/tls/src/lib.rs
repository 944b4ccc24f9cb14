//! TLS for Sextant's listeners.
//!
//! - [`install_crypto_provider`] makes aws-lc-rs the process-wide rustls provider (call it at
//!   the start of `main`, before anything builds a TLS client or server).
//! - [`server_config`] is the one place where a `rustls::ServerConfig` is built: PEM chain and
//!   key in, TLS 1.2/1.3 with ALPN `h2` + `http/1.1` and optional mandatory client
//!   certificates (with CRLs) out.
//! - [`serve`] is the accept loop that runs an axum `Router` over TLS. It does not use
//!   `axum::serve`, which has no TLS and whose `Listener::accept` would run handshakes one
//!   after the other; instead each connection gets its own task, its handshake a timeout, and
//!   its requests the verified client chain as a [`PeerCertificates`] extension.
//!   [`serve_with`] also enforces [`ConnectionLimits`]: connections in total and per peer,
//!   the time to the first request, idle time, HTTP/2 keep-alive pings.
//!
//! The config reaches the accept loop through a [`SharedServerConfig`] (an `ArcSwap`): rustls
//! verifiers are immutable, so rotating the server certificate or publishing a new CRL means
//! building a new `ServerConfig` and storing it; new connections pick it up, open ones keep
//! the config they were accepted with.
//!
//! Must not know: what is served over TLS (no routes, no identities beyond the presented
//! chains); it knows certificates, connections and their limits.
#![forbid(unsafe_code)]

mod config;
mod error;
mod limits;
mod serve;

pub use config::{ClientAuth, SharedServerConfig, install_crypto_provider, server_config};
pub use error::TlsError;
pub use limits::{
    ConnectionLimits, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEP_ALIVE_INTERVAL,
    DEFAULT_MAX_PER_PEER,
};
pub use serve::{PeerCertificates, serve, serve_with};
