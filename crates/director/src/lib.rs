//! The Director: the GraphQL API (wire-compatible with Compass's end-of-2019 schema) over the
//! store. Resolvers turn wire input into domain values (`inputs`), run the rules in `service`
//! inside one transaction, and convert results into wire objects (`types`).
//!
//! Invariant: the Director never trusts the HTTP layer for anything but the [`Consumer`] it
//! attaches to each request; tenant and scopes come only from there.
#![forbid(unsafe_code)]

mod catalog;
mod catalog_inputs;
mod catalog_mutation;
mod catalog_types;
mod compat;
mod confine;
mod error;
mod graphqlizer;
mod guard;
mod health;
mod inputs;
mod loaders;
mod metrics;
mod mutation;
mod notify;
pub mod provisioning;
mod query;
pub mod runtime_config;
mod scalars;
pub mod service;
mod system_auths;
mod types;

use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema};
use sextant_domain::Consumer;
use sextant_store::Store;

pub use error::ErrorChain;

/// The Director's executable schema.
pub type DirectorSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// How deeply one request may nest fields: GraphiQL's introspection query (Compass's
/// playground sends it) nests 13 levels. What a request may cost otherwise is measured by
/// [`sextant_graphql_cost`]'s limits ([`Settings::limits`]).
pub const MAX_DEPTH: usize = 16;

fn builder(
    limits: sextant_graphql_cost::Limits,
) -> async_graphql::SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(
        query::Query,
        mutation::Mutation::default(),
        EmptySubscription,
    )
    .extension(sextant_graphql_cost::Cost(limits))
    .extension(metrics::MetricsExtension)
    .limit_depth(MAX_DEPTH)
    .register_output_type::<types::Pageable>()
    .register_input_type::<inputs::LabelInput>()
}

/// What the Director needs to know about the rest of the server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where OAuth2 clients get their tokens (`OAuthCredentialData.url`).
    pub token_url: String,
    /// Where one-time tokens are redeemed (`OneTimeToken.connectorURL`).
    pub connector_url: String,
    /// How long a one-time token for an application is valid (Compass: 5 minutes).
    pub application_token_ttl: std::time::Duration,
    /// How long a one-time token for a runtime is valid (Compass: 60 minutes).
    pub runtime_token_ttl: std::time::Duration,
    /// What one request may cost.
    pub limits: sextant_graphql_cost::Limits,
    /// How large fetched specs may be, and the spec quotas of applications and tenants.
    pub spec_limits: sextant_domain::SpecLimits,
}

/// Builds the schema over a store; `fetcher` fetches specs and documents for fetch requests.
pub fn schema(
    store: Arc<dyn Store>,
    fetcher: sextant_fetch::Fetcher,
    settings: Settings,
) -> DirectorSchema {
    builder(settings.limits)
        .data(store)
        .data(fetcher)
        .data(settings)
        .finish()
}

/// The SDL of the schema, as `sextant schema director` prints it (the same builder as the
/// served schema, so the snapshot cannot drift from what is served).
pub fn sdl() -> String {
    builder(sextant_graphql_cost::Limits::DEFAULT)
        .finish()
        .sdl()
}

/// Attaches what one request needs: its consumer, and the loader that batches the reads of
/// its nested lists. Empty argument lists (`labelDefinitions()`), which Compass's parser
/// accepted, are dropped from the query first.
pub fn prepare(
    request: async_graphql::Request,
    consumer: Consumer,
    store: &Arc<dyn Store>,
) -> async_graphql::Request {
    let loader = loaders::catalog(store.clone(), consumer.tenant);
    let mut request = request;
    if let std::borrow::Cow::Owned(query) = compat::without_empty_parentheses(&request.query) {
        request.query = query;
    }
    request.data(consumer).data(loader)
}
