//! The root of the overview: who may ask.

use async_graphql::{Context, Object};
use sextant_domain::Scope;

use crate::confine;
use crate::context::{consumer, reach};
use crate::error::{GqlResult, IntoGql, to_graphql};
use crate::overview::wire::FleetOverview;

#[derive(Default)]
pub struct OverviewQuery;

#[Object]
impl OverviewQuery {
    /// Sextant: the tenant's fleet at a glance, for users with `application:read` or
    /// `runtime:read` (each part needs the scope of what it counts, checked before anything
    /// is read; `FORBIDDEN` for applications, runtimes and integration systems, whose reach
    /// is narrower than the tenant). Each part costs one statement however many objects the
    /// tenant holds.
    async fn fleet_overview(&self, ctx: &Context<'_>) -> GqlResult<FleetOverview> {
        confine::reading_overview(reach(ctx)?).gql()?;
        let caller = consumer(ctx)?;
        if !caller.has(Scope::ApplicationRead) && !caller.has(Scope::RuntimeRead) {
            caller
                .require(&[Scope::ApplicationRead])
                .map_err(to_graphql)?;
        }
        Ok(FleetOverview)
    }
}
