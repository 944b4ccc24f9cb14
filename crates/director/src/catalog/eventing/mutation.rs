//! The mutations of default eventing.

use async_graphql::{Context, ID, Object};
use sextant_domain::Scope;

use crate::catalog::eventing::rules;
use crate::catalog::eventing::wire::ApplicationEventingConfiguration;
use crate::context::{Scopes, consumer};
use crate::error::{GqlResult, IntoGql};
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct EventingMutation;

#[Object]
impl EventingMutation {
    #[graphql(guard = "Scopes(&[Scope::EventingManage])")]
    async fn set_default_eventing_for_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "appID")] app_id: String,
        #[graphql(name = "runtimeID")] runtime_id: String,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let tenant = consumer(ctx)?.tenant;
        let app = parse_id(&ID(app_id), "application").gql()?;
        let runtime = parse_id(&ID(runtime_id), "runtime").gql()?;
        let default_url = write(ctx, move |tx| {
            Box::pin(async move { rules::set_default_eventing(tx, tenant, app, runtime).await })
        })
        .await?;
        Ok(ApplicationEventingConfiguration { default_url })
    }

    #[graphql(guard = "Scopes(&[Scope::EventingManage])")]
    async fn delete_default_eventing_for_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "appID")] app_id: String,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let tenant = consumer(ctx)?.tenant;
        let app = parse_id(&ID(app_id), "application").gql()?;
        let default_url = write(ctx, move |tx| {
            Box::pin(async move { rules::delete_default_eventing(tx, tenant, app).await })
        })
        .await?;
        Ok(ApplicationEventingConfiguration { default_url })
    }
}
