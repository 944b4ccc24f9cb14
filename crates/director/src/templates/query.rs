//! The queries of application templates: the tenant's own and the global ones.

use async_graphql::{Context, ID, Object};
use sextant_domain::Scope;

use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::page::page;
use crate::scalars::PageCursor;
use crate::templates::wire::{ApplicationTemplate, ApplicationTemplatePage};
use crate::validation::query_id;

#[derive(Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateRead])")]
    async fn application_templates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<ApplicationTemplatePage> {
        let tenant = consumer(ctx)?.tenant;
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = tx.application_templates(tenant, &request).await.gql()?;
        Ok(ApplicationTemplatePage::new(result, &request))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateRead])")]
    async fn application_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<Option<ApplicationTemplate>> {
        let tenant = consumer(ctx)?.tenant;
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .application_template(tenant, id)
            .await
            .gql()?
            .map(Into::into))
    }
}
