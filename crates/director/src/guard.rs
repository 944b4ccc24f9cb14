//! Scope checks, attached to every query and mutation as a guard.

use async_graphql::{Context, Guard};
use sextant_domain::{Consumer, Scope};

use crate::error::{GqlResult, to_graphql};

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
