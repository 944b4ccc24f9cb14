//! The mutations of API definitions and of a runtime's credentials for an API. Fetching
//! happens before the write transaction.

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope};

use crate::catalog::access::{Child, check_app, check_child, check_existing, writable_child};
use crate::catalog::apis::inputs::ApiDefinitionInput;
use crate::catalog::apis::rules;
use crate::catalog::apis::wire::{ApiDefinition, ApiRuntimeAuth, ApiSpec};
use crate::catalog::credentials::inputs::AuthInput;
use crate::confine;
use crate::context::{Scopes, consumer, fetcher, reach, spec_limits, store};
use crate::error::{GqlResult, IntoGql};
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct ApiMutation;

#[Object]
impl ApiMutation {
    #[graphql(
        name = "addAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn add_api_definition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: ApiDefinitionInput,
    ) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let draft = input.validate().gql()?;
        check_app(ctx, app, "API").await?;
        let limits = spec_limits(ctx)?;
        let apis = rules::prepare_apis(fetcher(ctx)?, tenant, vec![draft]).await;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(api) = apis.into_iter().next() else {
                    return Err(DomainError::Invalid("no API".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                rules::add_api(tx, tenant, app, api, &limits).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    #[graphql(
        name = "updateAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn update_api_definition(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApiDefinitionInput,
    ) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "API definition").gql()?;
        let draft = input.validate().gql()?;
        check_existing(ctx, Child::Api(id)).await?;
        let limits = spec_limits(ctx)?;
        let apis = rules::prepare_apis(fetcher(ctx)?, tenant, vec![draft]).await;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(api) = apis.into_iter().next() else {
                    return Err(DomainError::Invalid("no API".into()));
                };
                writable_child(tx, tenant, reach, Child::Api(id)).await?;
                rules::update_api(tx, tenant, id, api, &limits).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    #[graphql(
        name = "deleteAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn delete_api_definition(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "API definition").gql()?;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(id)).await?;
                rules::delete_api(tx, tenant, id).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    /// Fetches the spec again with its fetch request and answers the new spec.
    #[graphql(name = "refetchAPISpec", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn refetch_api_spec(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
    ) -> GqlResult<ApiSpec> {
        let tenant = consumer(ctx)?.tenant;
        let id = parse_id(&api_id, "API definition").gql()?;
        check_child(ctx, Child::Api(id)).await?;
        let spec = rules::refetch_api_spec(
            store(ctx)?.as_ref(),
            fetcher(ctx)?,
            tenant,
            id,
            &spec_limits(ctx)?,
        )
        .await
        .gql()?;
        Ok(spec.into())
    }

    #[graphql(name = "setAPIAuth", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn set_api_auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        #[graphql(name = "in")] input: AuthInput,
    ) -> GqlResult<ApiRuntimeAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let api = parse_id(&api_id, "API definition").gql()?;
        let runtime = parse_id(&runtime_id, "runtime").gql()?;
        let auth = input.validate().gql()?;
        let value = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(api)).await?;
                rules::set_api_auth(tx, tenant, api, runtime, auth).await
            })
        })
        .await?;
        Ok(ApiRuntimeAuth {
            runtime_id: ID(value.runtime_id.to_string()),
            auth: Some(value.auth.into()),
        })
    }

    #[graphql(name = "deleteAPIAuth", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_api_auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
        #[graphql(name = "runtimeID")] runtime_id: ID,
    ) -> GqlResult<ApiRuntimeAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let api = parse_id(&api_id, "API definition").gql()?;
        let runtime = parse_id(&runtime_id, "runtime").gql()?;
        let auth = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(api)).await?;
                rules::delete_api_auth(tx, tenant, api, runtime).await
            })
        })
        .await?;
        Ok(ApiRuntimeAuth {
            runtime_id: ID(runtime.to_string()),
            auth: auth.map(Into::into),
        })
    }
}
