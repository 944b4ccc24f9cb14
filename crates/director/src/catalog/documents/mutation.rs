//! The mutations of documents. Fetching happens before the write transaction.

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope};

use crate::catalog::access::{Child, check_app, writable_child};
use crate::catalog::documents::inputs::DocumentInput;
use crate::catalog::documents::rules;
use crate::catalog::documents::wire::Document;
use crate::confine;
use crate::context::{Scopes, consumer, fetcher, reach};
use crate::error::{GqlResult, IntoGql};
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct DocumentMutation;

#[Object]
impl DocumentMutation {
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_document(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: DocumentInput,
    ) -> GqlResult<Document> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let draft = input.validate().gql()?;
        check_app(ctx, app, "Document").await?;
        let documents = rules::prepare_documents(fetcher(ctx)?, tenant, vec![draft]).await;
        let document = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(document) = documents.into_iter().next() else {
                    return Err(DomainError::Invalid("no document".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                rules::add_document(tx, tenant, app, document).await
            })
        })
        .await?;
        Ok(document.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Document> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "document").gql()?;
        let document = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Document(id)).await?;
                rules::delete_document(tx, tenant, id).await
            })
        })
        .await?;
        Ok(document.into())
    }
}
