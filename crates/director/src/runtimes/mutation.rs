//! The mutations of runtimes: registering, updating and unregistering one (users only), and
//! setting its status (also the runtime itself).

use async_graphql::{Context, ID, Object};
use sextant_domain::Scope;

use crate::confine;
use crate::context::{Scopes, consumer, reach};
use crate::error::{GqlResult, IntoGql};
use crate::runtimes::inputs::RuntimeInput;
use crate::runtimes::rules;
use crate::runtimes::wire::{Runtime, RuntimeStatusCondition};
use crate::transaction::{write, write_outside_configuration};
use crate::validation::parse_id;

#[derive(Default)]
pub struct RuntimeMutation;

#[Object]
impl RuntimeMutation {
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn register_runtime(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: RuntimeInput,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let input = input.validate().gql()?;
        let runtime = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                rules::register_runtime(tx, tenant, input).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn update_runtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: RuntimeInput,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let input = input.validate().gql()?;
        let runtime = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                rules::update_runtime(tx, tenant, id, input).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    /// Sets the runtime's status (a Sextant extension; Compass E19 had no way to): a user
    /// for any runtime of the tenant, a runtime (its agent) for itself only.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn set_runtime_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        condition: RuntimeStatusCondition,
        message: Option<String>,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let runtime = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_runtime_labels(reach, id)?;
                rules::set_runtime_status(tx, tenant, id, condition.into(), message).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn unregister_runtime(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let (runtime, labels) = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                rules::unregister_runtime(tx, tenant, id).await
            })
        })
        .await?;
        Ok(Runtime::with_labels(runtime, labels))
    }
}
