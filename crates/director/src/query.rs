//! The Director's queries.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use sextant_domain::{ObjectKind, Page, PageRequest, Scope};
use sextant_store::Store;

use crate::confine::{self, AppListing, Reach};
use crate::error::{GqlResult, IntoGql};
use crate::guard::{Scopes, consumer};
use crate::inputs::{self, LabelFilter};
use crate::scalars::PageCursor;
use crate::service;
use crate::types::page_labels;
use crate::types::{
    Application, ApplicationPage, ApplicationTemplate, ApplicationTemplatePage, IntegrationSystem,
    IntegrationSystemPage, LabelDefinition, Runtime, RuntimePage,
};

pub struct Query;

pub(crate) fn page(first: Option<i32>, after: Option<PageCursor>) -> GqlResult<PageRequest> {
    PageRequest::parse(first, after.as_ref().map(|c| c.0.as_str()))
        .map_err(|m| crate::error::to_graphql(sextant_domain::DomainError::Invalid(m)))
}

fn store<'a>(ctx: &Context<'a>) -> GqlResult<&'a Arc<dyn Store>> {
    ctx.data::<Arc<dyn Store>>()
}

/// An id argument of a query: a malformed id names nothing, so the answer is null.
fn query_id(id: &ID) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id).ok()
}

#[Object]
impl Query {
    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<LabelFilter>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<ApplicationPage> {
        let tenant = consumer(ctx)?.tenant;
        let reach = Reach::of(consumer(ctx)?).gql()?;
        let mut filters = inputs::filters(filter).gql()?;
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = match confine::app_listing(&mut *tx, tenant, reach).await.gql()? {
            AppListing::All => tx.applications(tenant, &filters, &request).await.gql()?,
            AppListing::Filter(extra) => {
                filters.push(extra);
                tx.applications(tenant, &filters, &request).await.gql()?
            }
            AppListing::Among(ids) => tx
                .applications_among(tenant, &ids, &filters, &request)
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
        let reach = Reach::of(consumer(ctx)?).gql()?;
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
        let runtime_id = inputs::parse_id(&runtime_id, "runtime").gql()?;
        // A runtime asks for its own applications; applications and integration systems
        // have no business with what a runtime sees.
        if !confine::can_read_runtime(Reach::of(consumer(ctx)?).gql()?, runtime_id) {
            return Err(crate::error::to_graphql(
                sextant_domain::DomainError::NotFound("runtime does not exist".into()),
            ));
        }
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = service::applications_for_runtime(&mut *tx, tenant, runtime_id, &request)
            .await
            .gql()?;
        let ids = result.items.iter().map(|a| a.id).collect();
        let labels = page_labels(ctx, &mut *tx, ObjectKind::Application, ids).await?;
        Ok(ApplicationPage::new(result, &request, labels))
    }

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

    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtimes(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<LabelFilter>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<RuntimePage> {
        let tenant = consumer(ctx)?.tenant;
        let filters = inputs::filters(filter).gql()?;
        let request = page(first, after)?;
        let mut tx = store(ctx)?.read().await.gql()?;
        let result = match Reach::of(consumer(ctx)?).gql()? {
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
        if !confine::can_read_runtime(Reach::of(consumer(ctx)?).gql()?, id) {
            return Ok(None);
        }
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx.runtime(tenant, id).await.gql()?.map(Runtime::new))
    }

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
        let result = match Reach::of(consumer(ctx)?).gql()? {
            Reach::Tenant => tx.integration_systems(tenant, &request).await.gql()?,
            Reach::IntegrationSystem(own) => {
                let system = tx.visible_integration_system(tenant, own).await.gql()?;
                let total = i64::from(system.is_some());
                let rows = system
                    .into_iter()
                    .filter(|s| request.after.is_none_or(|after| s.id > after.0))
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
        let visible = match Reach::of(consumer(ctx)?).gql()? {
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

    /// Compass's health checks: none are recorded, so the page is empty (Compass's resolver
    /// answered the same).
    #[graphql(guard = "Scopes(&[Scope::HealthChecksRead])")]
    async fn health_checks(
        &self,
        types: Option<Vec<crate::health::HealthCheckType>>,
        origin: Option<ID>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<crate::health::HealthCheckPage> {
        let _ = (types, origin);
        crate::health::HealthCheckPage::empty(first, after)
    }
}
