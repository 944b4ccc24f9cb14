//! The queries of runtimes: a page of them (a runtime sees only itself), and one of them.

use async_graphql::{Context, ID, Object};
use sextant_domain::{ObjectKind, Page, RuntimeId, Scope, TenantId};
use sextant_store::{RuntimeSearch, Tx};

use crate::confine::{self, Reach};
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::labels::inputs::{LabelFilter, filters};
use crate::labels::wire::page_labels;
use crate::page;
use crate::runtimes::wire::{PageFleet, Runtime, RuntimePage, RuntimeStatusCondition};
use crate::scalars::PageCursor;
use crate::validation::query_id;

#[derive(Default)]
pub struct RuntimeQuery;

/// The agents and certificates of a page of runtimes, each in one statement, when the
/// request asks for `data { agent }` or `data { clientCertificate }`.
async fn page_fleet(
    ctx: &Context<'_>,
    tx: &mut dyn Tx,
    tenant: TenantId,
    ids: &[RuntimeId],
) -> GqlResult<PageFleet> {
    let data = ctx.look_ahead().field("data");
    let mut fleet = PageFleet::default();
    if ids.is_empty() {
        return Ok(fleet);
    }
    if data.field("agent").exists() {
        let agents = tx.recorded_agents(tenant, ids).await.gql()?;
        fleet.agents = Some(agents.into_iter().map(|a| (a.runtime, a)).collect());
    }
    if data.field("clientCertificate").exists() {
        let certificates = tx
            .runtime_certificates(tenant, ids, crate::clock::now_micros())
            .await
            .gql()?;
        fleet.certificates = Some(certificates.into_iter().map(|c| (c.runtime, c)).collect());
    }
    Ok(fleet)
}

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
        let ids: Vec<_> = result.items.iter().map(|r| r.id).collect();
        let fleet = page_fleet(ctx, &mut *tx, tenant, &ids).await?;
        let labels = page_labels(ctx, &mut *tx, ObjectKind::Runtime, ids).await?;
        Ok(RuntimePage::new(result, &request, labels, Some(fleet)))
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
