//! Sextant's server: one process serving the whole management plane.
//!
//! [`start`] opens the data directory (creating the CA, the listeners' certificate, the
//! signing key and the administrator token on first start), opens and migrates the store,
//! binds the main listener (HTTPS: the Director, the Provisioner, the token-secured Connector,
//! the token endpoint, health, metrics, and the web console of `sextant-console`, merged in
//! under `/console` with a `ConsoleState` built from the same schema and store) and the mTLS
//! listener (client certificates required: the certificate-secured Director and Connector,
//! runtimes' configuration), and serves both until stopped. The Connector's rules
//! (certificate identity, revocation, CA rotation) live in `sextant-connector`; the server
//! composes them with its listeners and data directory.
//!
//! Within the crate, imports run one way: handlers (`http`, `oauth`, `runtime_config`,
//! `runtime_gateway`) import the shared leaves (`context`, `config_cache`, `spec_cache`,
//! `answer_cache`, `locks`,
//! `agent_sightings`, `response`, `peer`), never the other way round; only `http` names the handlers, to route to them.
//!
//! Must not know: the rules of any API. The Director, the Connector and the Provisioner
//! decide; the server authenticates, routes, bounds requests and runs background tasks.
#![forbid(unsafe_code)]

mod agent_sightings;
mod answer_cache;
mod config;
mod config_cache;
mod console_link;
mod context;
mod datadir;
mod error;
mod http;
mod listener_tls;
mod locks;
pub mod notifier;
mod oauth;
mod peer;
mod response;
mod rotation;
mod runtime_config;
mod runtime_gateway;
mod spec_cache;
mod startup;
mod telemetry;
mod token_purge;

pub use agent_sightings::AGENT_FLUSH_INTERVAL;
pub use config::{
    ConnectionSettings, DEFAULT_CERTIFICATE_VALIDITY, ServerConfig, ServerOptions, TokenLifetimes,
};
pub use console_link::{ConsoleLink, console_link};
pub use datadir::{Rotation, load_issuer, rotate_ca};
pub use error::ServerError;
pub use rotation::retire_previous_ca;
pub use sextant_connector::Retirement;
pub use sextant_fetch::HostAllowList;
pub use sextant_graphql_cost::Limits as GraphqlLimits;
pub use sextant_pki::ServingNamePolicy;
pub use spec_cache::SPEC_CACHE_BYTES;
pub use startup::{RunningServer, start, start_with};
