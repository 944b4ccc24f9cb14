//! The queries of runtimes: a page of them (a runtime sees only itself), and one of them.

use async_graphql::{Context, ID, Object};
use sextant_domain::{ObjectKind, Page, Scope};
use sextant_store::RuntimeSearch;

use crate::confine::{self, Reach};
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::labels::inputs::{LabelFilter, filters};
use crate::labels::wire::page_labels;
use crate::page;
use crate::runtimes::wire::{Runtime, RuntimePage, RuntimeStatusCondition};
use crate::scalars::PageCursor;
use crate::validation::query_id;

#[derive(Default)]
pub struct RuntimeQuery;

#[Object]
impl RuntimeQuery {
    /// Sextant: the optional `namePrefix` (runtimes whose name starts with the text,
    /// case-insensitive, at most 36 characters) and `status` (those in the status
    /// condition) narrow the list with the label filters and the page's cursor; each reads
    /// one index range.
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtimes(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<LabelFilter>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
        #[graphql(name = "namePrefix")] name_prefix: Option<String>,
        status: Option<RuntimeStatusCondition>,
    ) -> GqlResult<RuntimePage> {
        let tenant = consumer(ctx)?.tenant;
        let filters = filters(filter).gql()?;
        let search = RuntimeSearch {
            name_prefix: page::name_prefix("Query.runtimes", name_prefix).gql()?,
            status: status.map(Into::into),
        };
        let request = page::page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = match Reach::of(consumer(ctx)?) {
            Reach::Tenant => tx
                .search_runtimes(tenant, &search, &filters, None, &request)
                .await
                .gql()?,
            Reach::Runtime(own) => tx
                .search_runtimes(tenant, &search, &filters, Some(&[own]), &request)
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
