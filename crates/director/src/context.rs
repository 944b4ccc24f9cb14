//! What resolvers read from the request: its consumer (and the [`Scopes`] guard on it), the
//! consumer's reach, the store, the fetcher, the settings and the per-request loader.

use std::sync::Arc;

use async_graphql::{Context, Guard};
use sextant_domain::{Consumer, Scope, SpecLimits};
use sextant_fetch::Fetcher;
use sextant_store::Store;

use crate::confine::Reach;
use crate::error::{GqlResult, to_graphql};
use crate::loaders::Catalog;
use crate::settings::Settings;

/// Requires the consumer to hold every listed scope.
pub struct Scopes(pub &'static [Scope]);

impl Guard for Scopes {
    async fn check(&self, ctx: &Context<'_>) -> GqlResult<()> {
        consumer(ctx)?.require(self.0).map_err(to_graphql)
    }
}

/// The authenticated consumer of the request. The HTTP layer refuses requests without one,
/// so its absence is a wiring bug, reported as an error rather than a panic.
pub fn consumer<'a>(ctx: &Context<'a>) -> GqlResult<&'a Consumer> {
    ctx.data::<Consumer>()
}

/// What the request's consumer can reach.
pub fn reach(ctx: &Context<'_>) -> GqlResult<Reach> {
    Ok(Reach::of(consumer(ctx)?))
}

/// Whether the consumer may see credentials an application uses for itself (to fetch its
/// specs, to receive webhooks): not a runtime, which only consumes the application's APIs.
pub fn sees_application_secrets(ctx: &Context<'_>) -> GqlResult<bool> {
    Ok(!matches!(reach(ctx)?, Reach::Runtime(_)))
}

pub fn store<'a>(ctx: &Context<'a>) -> GqlResult<&'a Arc<dyn Store>> {
    ctx.data::<Arc<dyn Store>>()
}

pub fn fetcher<'a>(ctx: &Context<'a>) -> GqlResult<&'a Fetcher> {
    ctx.data::<Fetcher>()
}

pub fn settings<'a>(ctx: &Context<'a>) -> GqlResult<&'a Settings> {
    ctx.data::<Settings>()
}

/// The server's spec size limits and quotas.
pub fn spec_limits(ctx: &Context<'_>) -> GqlResult<SpecLimits> {
    Ok(settings(ctx)?.spec_limits)
}

/// The loader that batches the request's reads of nested lists.
pub fn loader<'a>(ctx: &Context<'a>) -> GqlResult<&'a Catalog> {
    ctx.data::<Catalog>()
}
