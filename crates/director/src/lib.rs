//! The Director: the GraphQL API (wire-compatible with Compass's end-of-2019 schema) over the
//! store. Each resource has its folder (`applications`, `runtimes`, `labels`,
//! `integration_systems`, `templates`, `system_auths`, and an application's `catalog`): its
//! inputs turn wire input into domain values, its rules run inside one store transaction,
//! its wire objects convert results, and its resolvers tie them together; `roots` merges the
//! resolvers into the schema. What they share sits in leaf modules that import no resource.
//!
//! Invariant: the Director never trusts the HTTP layer for anything but the [`Consumer`] it
//! attaches to each request; tenant and scopes come only from there.
#![forbid(unsafe_code)]

mod applications;
mod catalog;
mod clock;
mod compat;
mod confine;
mod context;
mod epoch_covered;
mod error;
mod health;
mod integration_systems;
mod labels;
mod loaders;
mod metrics;
mod notify;
mod objects;
mod overview;
mod page;
pub mod provisioning;
mod roots;
pub mod runtime_config;
mod runtimes;
mod scalars;
mod scenarios;
pub mod service;
mod settings;
mod system_auths;
mod templates;
mod transaction;
mod validation;

use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema};
use sextant_domain::Consumer;
use sextant_store::Store;

pub use epoch_covered::epoch_covered;
pub use error::ErrorChain;
pub use settings::Settings;

/// The Director's executable schema.
pub type DirectorSchema = Schema<roots::Query, roots::Mutation, EmptySubscription>;

/// How deeply one request may nest fields: GraphiQL's introspection query (Compass's
/// playground sends it) nests 13 levels. What a request may cost otherwise is measured by
/// [`sextant_graphql_cost`]'s limits ([`Settings::limits`]).
pub const MAX_DEPTH: usize = 16;

fn builder(
    limits: sextant_graphql_cost::Limits,
) -> async_graphql::SchemaBuilder<roots::Query, roots::Mutation, EmptySubscription> {
    Schema::build(
        roots::Query::default(),
        roots::Mutation::default(),
        EmptySubscription,
    )
    .extension(sextant_graphql_cost::Cost(limits))
    .extension(metrics::MetricsExtension)
    .limit_depth(MAX_DEPTH)
    .register_output_type::<roots::Pageable>()
    .register_input_type::<labels::inputs::LabelInput>()
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
