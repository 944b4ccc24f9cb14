//! The mutations of integration systems (users only).

use async_graphql::{Context, ID, Object};
use sextant_domain::Scope;

use crate::confine;
use crate::context::{Scopes, consumer, reach};
use crate::error::{GqlResult, IntoGql};
use crate::integration_systems::inputs::{IntegrationSystemInput, ValidIntegrationSystem};
use crate::integration_systems::rules;
use crate::integration_systems::wire::IntegrationSystem;
use crate::transaction::{write, write_outside_configuration};
use crate::validation::parse_id;

#[derive(Default)]
pub struct IntegrationSystemMutation;

#[Object]
impl IntegrationSystemMutation {
    /// Registers an integration system owned by the caller's tenant, which grants it access.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn register_integration_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: IntegrationSystemInput,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let ValidIntegrationSystem { name, description } = input.validate().gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                rules::register_integration_system(tx, tenant, name, description).await
            })
        })
        .await?;
        Ok(system.into())
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn update_integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: IntegrationSystemInput,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let ValidIntegrationSystem { name, description } = input.validate().gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                rules::update_integration_system(tx, tenant, id, name, description).await
            })
        })
        .await?;
        Ok(system.into())
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn unregister_integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                rules::unregister_integration_system(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }

    /// Sextant: lets an integration system (of this or another tenant; its owner hands out
    /// the id) act in the caller's tenant. Its clients name this tenant in the `Tenant`
    /// header; without the grant they are refused with 403.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn grant_integration_system_access(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                rules::grant_integration_system_access(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }

    /// Sextant: withdraws the caller's tenant's grant; the system's clients are refused in
    /// this tenant from their next request on.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn revoke_integration_system_access(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                rules::revoke_integration_system_access(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }
}
