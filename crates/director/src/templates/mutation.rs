//! The mutations of application templates, and registering an application from one.

use async_graphql::{Context, ID, Object};
use sextant_domain::Scope;

use crate::applications::mutation::register;
use crate::applications::wire::Application;
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::templates::inputs::{
    ApplicationFromTemplateInput, ApplicationTemplateInput, TemplateChoice,
    application_from_template_json,
};
use crate::templates::rules;
use crate::templates::wire::ApplicationTemplate;
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct TemplateMutation;

#[Object]
impl TemplateMutation {
    /// A template of the caller's tenant (`accessLevel: TENANT`), or a global one
    /// (`GLOBAL`: operators only, with `application_template:global`).
    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn create_application_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationTemplateInput,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let template = input.validate(caller.tenant).gql()?;
        let template = write(ctx, move |tx| {
            Box::pin(async move { rules::create_application_template(tx, &caller, template).await })
        })
        .await?;
        Ok(template.into())
    }

    /// Registers from the caller's tenant's template of that name, else from the global one.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn register_application_from_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationFromTemplateInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let TemplateChoice {
            template_name,
            values,
        } = input.validate().gql()?;
        let text = {
            let mut tx = store(ctx)?.read().await.gql()?;
            rules::fill_template(&mut *tx, tenant, &template_name, &values)
                .await
                .gql()?
        };
        let input = application_from_template_json(&text).gql()?;
        register(ctx, tenant, input).await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn update_application_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApplicationTemplateInput,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let id = parse_id(&id, "application template").gql()?;
        let mut template = input.validate(caller.tenant).gql()?;
        template.id = id;
        let template = write(ctx, move |tx| {
            Box::pin(async move { rules::update_application_template(tx, &caller, template).await })
        })
        .await?;
        Ok(template.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn delete_application_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let id = parse_id(&id, "application template").gql()?;
        let template = write(ctx, move |tx| {
            Box::pin(async move { rules::delete_application_template(tx, &caller, id).await })
        })
        .await?;
        Ok(template.into())
    }
}
