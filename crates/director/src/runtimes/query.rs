//! The queries of runtimes: a page of them (a runtime sees only itself), and one of them.

use async_graphql::{Context, ID, Object};
use sextant_domain::{ObjectKind, Page, Scope};

use crate::confine::{self, Reach};
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::labels::inputs::{LabelFilter, filters};
use crate::labels::wire::page_labels;
use crate::page::page;
use crate::runtimes::wire::{Runtime, RuntimePage};
use crate::scalars::PageCursor;
use crate::validation::query_id;

#[derive(Default)]
pub struct RuntimeQuery;

#[Object]
impl RuntimeQuery {
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtimes(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<LabelFilter>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<RuntimePage> {
        let tenant = consumer(ctx)?.tenant;
        let filters = filters(filter).gql()?;
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = match Reach::of(consumer(ctx)?) {
            Reach::Tenant => tx.runtimes(tenant, &filters, &request).await.gql()?,
            Reach::Runtime(own) => tx
                .runtimes_among(tenant, &[own], &filters, &request)
                .await
                .gql()?,
            _ => Page::from_rows(Vec::new(), &request, 0),
        };
        let ids = result.items.iter().map(|r| r.id).collect();
        let labels = page_labels(ctx, &mut *tx, ObjectKind::Runtime, ids).await?;
        Ok(RuntimePage::new(result, &request, labels))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtime(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Runtime>> {
        let tenant = consumer(ctx)?.tenant;
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        if !confine::can_read_runtime(Reach::of(consumer(ctx)?), id) {
            return Ok(None);
        }
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx.runtime(tenant, id).await.gql()?.map(Runtime::new))
    }
}
