//! The queries of label definitions.

use async_graphql::{Context, Object};
use sextant_domain::Scope;

use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::labels::wire::LabelDefinition;

#[derive(Default)]
pub struct LabelQuery;

#[Object]
impl LabelQuery {
    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionRead])")]
    async fn label_definitions(&self, ctx: &Context<'_>) -> GqlResult<Vec<LabelDefinition>> {
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .label_definitions(tenant)
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionRead])")]
    async fn label_definition(
        &self,
        ctx: &Context<'_>,
        key: String,
    ) -> GqlResult<Option<LabelDefinition>> {
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .label_definition(tenant, &key)
            .await
            .gql()?
            .map(Into::into))
    }
}
