//! The mutations of applications: registering one (fetching what its catalog's fetch
//! requests point at first), updating and unregistering it.

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope, TenantId};

use crate::applications::inputs::{ApplicationRegisterInput, ApplicationUpdateInput};
use crate::applications::rules::{self, NewApplication};
use crate::applications::wire::Application;
use crate::catalog::children::prepare_children;
use crate::catalog::limits::{spec_bytes, within_spec_quota};
use crate::confine::{self, Reach};
use crate::context::{Scopes, consumer, fetcher, reach, spec_limits};
use crate::error::{GqlResult, IntoGql, internal};
use crate::transaction::write;
use crate::validation::parse_id;

/// Registers an application: fetches what its children's fetch requests point at (outside
/// any transaction), then writes everything in one.
pub async fn register(
    ctx: &Context<'_>,
    tenant: TenantId,
    mut input: NewApplication,
) -> GqlResult<Application> {
    confine::registering_app(reach(ctx)?, &mut input.integration_system_id).gql()?;
    let children = prepare_children(
        fetcher(ctx)?,
        tenant,
        std::mem::take(&mut input.apis),
        std::mem::take(&mut input.events),
        std::mem::take(&mut input.documents),
        std::mem::take(&mut input.webhooks),
    )
    .await;
    let limits = spec_limits(ctx)?;
    let added: u64 = children
        .apis
        .iter()
        .map(|api| spec_bytes(api.spec.as_ref().and_then(|s| s.data.as_deref())))
        .chain(
            children
                .events
                .iter()
                .map(|event| spec_bytes(event.spec.data.as_deref())),
        )
        .fold(0, u64::saturating_add);
    let app = write(ctx, move |tx| {
        Box::pin(async move {
            let app = rules::register_application(tx, tenant, input, children).await?;
            within_spec_quota(tx, tenant, app.id, added, &limits).await?;
            Ok(app)
        })
    })
    .await?;
    Ok(Application::new(app))
}

#[derive(Default)]
pub struct ApplicationMutation;

#[Object]
impl ApplicationMutation {
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn register_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationRegisterInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let input = input.validate().gql()?;
        register(ctx, tenant, input).await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn update_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApplicationUpdateInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "application").gql()?;
        let mut input = input.validate().gql()?;
        if let Reach::IntegrationSystem(_) = reach {
            confine::registering_app(reach, &mut input.integration_system_id).gql()?;
        }
        let app = write(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_app(tx, tenant, reach, id).await?;
                // An application cannot move itself to (or away from) an integration system.
                if let Reach::Application(_) = reach
                    && let Some(current) = tx.application(tenant, id).await.map_err(internal)?
                    && current.integration_system_id != input.integration_system_id
                {
                    return Err(DomainError::Forbidden(
                        "an application cannot change its integrationSystemID".into(),
                    ));
                }
                rules::update_application(tx, tenant, id, input).await
            })
        })
        .await?;
        Ok(Application::new(app))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn unregister_application(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let id = parse_id(&id, "application").gql()?;
        let reach = reach(ctx)?;
        let (app, labels) = write(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_app(tx, tenant, reach, id).await?;
                rules::unregister_application(tx, tenant, id).await
            })
        })
        .await?;
        Ok(Application::with_labels(app, labels))
    }
}
