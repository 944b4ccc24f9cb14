//! The Runtime Provisioner (`/provisioner/graphql`): Compass's provisioner API over
//! operations that are persisted and resume after a restart, with the 2020 runtime-creation
//! flow: register the runtime in the Director, request a one-time token, provision the
//! runtime with a provider, inject the agent's bootstrap configuration, and wait for the
//! agent to connect (READY). Only one operation per runtime runs at a time.
//!
//! Providers implement [`Provider`]; [`local::LocalProvider`] runs a runtime on this
//! machine as a directory and a `sextant agent` process.
//!
//! Must not know: HTTP or TLS (the server serves its schema), or SQL (it writes through the
//! store's transactions and the Director's rules, so a runtime it registers obeys the same
//! checks as one registered through the Director).
#![forbid(unsafe_code)]

mod engine;
pub mod local;
pub mod provider;
mod schema;

use sextant_domain::Consumer;

pub use engine::{
    ConnectionState, ConnectionView, Provisioner, ProvisionerSettings, RuntimeStatusView,
};
pub use provider::{AgentHealth, Bootstrap, Provider, ProviderError};
pub use schema::ProvisionerSchema;

/// The schema, serving `provisioner`'s operations.
pub fn schema(provisioner: Provisioner, limits: sextant_graphql_cost::Limits) -> ProvisionerSchema {
    schema::builder(limits).data(provisioner).finish()
}

/// The SDL, as `sextant schema provisioner` prints it.
pub fn sdl() -> String {
    schema::builder(sextant_graphql_cost::Limits::DEFAULT)
        .finish()
        .sdl()
}

/// Attaches the request's consumer.
pub fn prepare(request: async_graphql::Request, consumer: Consumer) -> async_graphql::Request {
    request.data(consumer)
}
