//! The queries of integration systems: those the tenant owns or granted access (a system
//! sees only itself), and one of them.

use async_graphql::{Context, ID, Object};
use sextant_domain::{Page, Scope};

use crate::confine::Reach;
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::integration_systems::wire::{IntegrationSystem, IntegrationSystemPage};
use crate::page::page;
use crate::scalars::PageCursor;
use crate::validation::query_id;

#[derive(Default)]
pub struct IntegrationSystemQuery;

#[Object]
impl IntegrationSystemQuery {
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemRead])")]
    async fn integration_systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<IntegrationSystemPage> {
        let tenant = consumer(ctx)?.tenant;
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        // A tenant's users see what it owns or granted; an integration system sees itself.
        let result = match Reach::of(consumer(ctx)?) {
            Reach::Tenant => tx.integration_systems(tenant, &request).await.gql()?,
            Reach::IntegrationSystem(own) => {
                let system = tx.visible_integration_system(tenant, own).await.gql()?;
                let total = i64::from(system.is_some());
                let rows = system
                    .into_iter()
                    .filter(|s| {
                        request
                            .after
                            .is_none_or(|after| s.id.into_untyped() > after.0)
                    })
                    .collect();
                Page::from_rows(rows, &request, total)
            }
            Reach::Application(_) | Reach::Runtime(_) => Page::from_rows(Vec::new(), &request, 0),
        };
        Ok(IntegrationSystemPage::new(result, &request))
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemRead])")]
    async fn integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<Option<IntegrationSystem>> {
        let tenant = consumer(ctx)?.tenant;
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        let visible = match Reach::of(consumer(ctx)?) {
            Reach::Tenant => true,
            Reach::IntegrationSystem(own) => own == id,
            Reach::Application(_) | Reach::Runtime(_) => false,
        };
        if !visible {
            return Ok(None);
        }
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .visible_integration_system(tenant, id)
            .await
            .gql()?
            .map(Into::into))
    }
}
