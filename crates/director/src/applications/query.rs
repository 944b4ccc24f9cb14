//! The queries of applications: a page of them (narrowed to the consumer's reach), one of
//! them, and those of a runtime's scenarios.

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, ObjectKind, Page, Scope};
use sextant_store::ApplicationSearch;

use crate::applications::wire::{Application, ApplicationPage, ApplicationStatusCondition};
use crate::confine::{self, AppListing, Reach};
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql, to_graphql};
use crate::labels::inputs::{LabelFilter, filters};
use crate::labels::wire::page_labels;
use crate::page::{self, page};
use crate::scalars::PageCursor;
use crate::scenarios::applications_for_runtime;
use crate::validation::{parse_id, query_id};

#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Sextant: the optional `namePrefix` (applications whose name starts with the text,
    /// case-insensitive, at most 36 characters) and `status` (those in the status
    /// condition) narrow the list with the label filters and the page's cursor; each reads
    /// one index range.
    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<LabelFilter>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
        #[graphql(name = "namePrefix")] name_prefix: Option<String>,
        status: Option<ApplicationStatusCondition>,
    ) -> GqlResult<ApplicationPage> {
        let tenant = consumer(ctx)?.tenant;
        let reach = Reach::of(consumer(ctx)?);
        let mut filters = filters(filter).gql()?;
        let search = ApplicationSearch {
            name_prefix: page::name_prefix("Query.applications", name_prefix).gql()?,
            status: status.map(Into::into),
        };
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = match confine::app_listing(&mut *tx, tenant, reach).await.gql()? {
            AppListing::All => tx
                .search_applications(tenant, &search, &filters, None, &request)
                .await
                .gql()?,
            AppListing::Filter(extra) => {
                filters.push(extra);
                tx.search_applications(tenant, &search, &filters, None, &request)
                    .await
                    .gql()?
            }
            AppListing::Among(ids) => tx
                .search_applications(tenant, &search, &filters, Some(&ids), &request)
                .await
                .gql()?,
            AppListing::Nothing => Page::from_rows(Vec::new(), &request, 0),
        };
        let ids = result.items.iter().map(|a| a.id).collect();
        let labels = page_labels(ctx, &mut *tx, ObjectKind::Application, ids).await?;
        Ok(ApplicationPage::new(result, &request, labels))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn application(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Application>> {
        let tenant = consumer(ctx)?.tenant;
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        let reach = Reach::of(consumer(ctx)?);
        let mut tx = store(ctx)?.read().await.gql()?;
        let Some(app) = tx.application(tenant, id).await.gql()? else {
            return Ok(None);
        };
        if !confine::can_read_app(&mut *tx, tenant, reach, &app)
            .await
            .gql()?
        {
            return Ok(None);
        }
        Ok(Some(Application::new(app)))
    }

    #[graphql(
        name = "applicationsForRuntime",
        guard = "Scopes(&[Scope::ApplicationRead])"
    )]
    async fn applications_for_runtime(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<ApplicationPage> {
        let tenant = consumer(ctx)?.tenant;
        let request = page(first, after)?;
        let runtime_id = parse_id(&runtime_id, "runtime").gql()?;
        // A runtime asks for its own applications; applications and integration systems
        // have no business with what a runtime sees.
        if !confine::can_read_runtime(Reach::of(consumer(ctx)?), runtime_id) {
            return Err(to_graphql(DomainError::NotFound(
                "runtime does not exist".into(),
            )));
        }
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = applications_for_runtime(&mut *tx, tenant, runtime_id, &request)
            .await
            .gql()?;
        let ids = result.items.iter().map(|a| a.id).collect();
        let labels = page_labels(ctx, &mut *tx, ObjectKind::Application, ids).await?;
        Ok(ApplicationPage::new(result, &request, labels))
    }
}
