//! Applications as answered: their labels, status, catalog (batched per query level through
//! the request's loader), credentials, eventing configuration and assigned runtimes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use serde_json::Value;
use sextant_domain::label::{EVENT_SERVICE_URL_KEY, LabelFilter, LabelQuery, SCENARIOS_KEY};
use sextant_domain::{self as domain, ObjectKind, ObjectRef, Page, PageRequest, SystemAuthOwner};
use sextant_store::SpecTexts;
use uuid::Uuid;

use crate::catalog::apis::wire::{ApiDefinition, ApiDefinitionPage};
use crate::catalog::documents::wire::DocumentPage;
use crate::catalog::eventing::wire::ApplicationEventingConfiguration;
use crate::catalog::events::wire::{EventDefinition, EventDefinitionPage};
use crate::catalog::webhooks::wire::Webhook;
use crate::confine::Reach;
use crate::context::{consumer, loader, reach, sees_application_secrets, store};
use crate::error::{GqlResult, IntoGql, internal};
use crate::health::{HealthCheckPage, HealthCheckType};
use crate::labels::wire::{LabelsById, Preloaded, resolve_labels};
use crate::loaders::{
    ApiPageKey, ApplicationCertificatesKey, DocumentPageKey, EventPageKey, EventingKey, PageKey,
    WebhooksKey, load_error,
};
use crate::page::{PageInfo, page, page_info, total};
use crate::runtimes::wire::RuntimeStatusCondition;
use crate::scalars::{Labels, PageCursor, Timestamp};
use crate::system_auths::wire::{ClientCertificate, SystemAuth, auths_of};
use crate::validation::query_id;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ApplicationStatusCondition")]
pub enum ApplicationStatusCondition {
    Initial,
    Unknown,
    Ready,
    Failed,
}

impl From<domain::ApplicationStatusCondition> for ApplicationStatusCondition {
    fn from(c: domain::ApplicationStatusCondition) -> Self {
        match c {
            domain::ApplicationStatusCondition::Initial => Self::Initial,
            domain::ApplicationStatusCondition::Unknown => Self::Unknown,
            domain::ApplicationStatusCondition::Ready => Self::Ready,
            domain::ApplicationStatusCondition::Failed => Self::Failed,
        }
    }
}

impl From<ApplicationStatusCondition> for domain::ApplicationStatusCondition {
    fn from(c: ApplicationStatusCondition) -> Self {
        match c {
            ApplicationStatusCondition::Initial => Self::Initial,
            ApplicationStatusCondition::Unknown => Self::Unknown,
            ApplicationStatusCondition::Ready => Self::Ready,
            ApplicationStatusCondition::Failed => Self::Failed,
        }
    }
}

#[derive(SimpleObject)]
pub struct ApplicationStatus {
    pub condition: ApplicationStatusCondition,
    pub timestamp: Timestamp,
}

pub struct Application {
    app: domain::Application,
    preloaded: Preloaded,
}

impl Application {
    pub fn new(app: domain::Application) -> Self {
        Self {
            app,
            preloaded: None,
        }
    }
    pub fn with_labels(app: domain::Application, labels: BTreeMap<String, Value>) -> Self {
        Self {
            app,
            preloaded: Some(Arc::new(labels)),
        }
    }
}

#[Object]
impl Application {
    async fn id(&self) -> ID {
        ID(self.app.id.to_string())
    }
    async fn name(&self) -> &str {
        self.app.name.as_str()
    }
    async fn provider_name(&self) -> &str {
        &self.app.provider_name
    }
    async fn description(&self) -> Option<&str> {
        self.app.description.as_deref()
    }
    #[graphql(name = "integrationSystemID")]
    async fn integration_system_id(&self) -> Option<ID> {
        self.app.integration_system_id.map(|id| ID(id.to_string()))
    }
    async fn labels(&self, ctx: &Context<'_>, key: Option<String>) -> GqlResult<Option<Labels>> {
        resolve_labels(
            ctx,
            ObjectRef::Application(self.app.id),
            &self.preloaded,
            key,
        )
        .await
    }
    async fn status(&self) -> ApplicationStatus {
        ApplicationStatus {
            condition: self.app.status_condition.into(),
            timestamp: Timestamp(self.app.status_timestamp),
        }
    }
    #[graphql(name = "healthCheckURL")]
    async fn health_check_url(&self) -> Option<&str> {
        self.app.health_check_url.as_deref()
    }
    /// Compass's health checks: none are recorded, so the page is empty (as Compass's was).
    #[graphql(name = "healthChecks")]
    async fn health_checks(
        &self,
        types: Option<Vec<HealthCheckType>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<HealthCheckPage> {
        let _ = types;
        HealthCheckPage::empty(first, after)
    }
    /// The application's webhooks (hidden from runtimes: they hold the application's own
    /// credentials).
    async fn webhooks(&self, ctx: &Context<'_>) -> GqlResult<Vec<Webhook>> {
        if !sees_application_secrets(ctx)? {
            return Ok(Vec::new());
        }
        let list = loader(ctx)?
            .load_one(WebhooksKey(self.app.id))
            .await
            .map_err(load_error)?
            .unwrap_or_default();
        Ok(list.into_iter().map(Into::into).collect())
    }
    #[graphql(name = "apiDefinitions")]
    async fn api_definitions(
        &self,
        ctx: &Context<'_>,
        group: Option<String>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<ApiDefinitionPage> {
        let request = page(first, after)?;
        let page = loader(ctx)?
            .load_one(ApiPageKey {
                app: self.app.id,
                group,
                page: PageKey::new(&request),
                texts: spec_texts(ctx),
            })
            .await
            .map_err(load_error)?
            .unwrap_or_else(|| Page::from_rows(Vec::new(), &request, 0));
        Ok(ApiDefinitionPage::new(page, &request))
    }
    async fn event_definitions(
        &self,
        ctx: &Context<'_>,
        group: Option<String>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<EventDefinitionPage> {
        let request = page(first, after)?;
        let page = loader(ctx)?
            .load_one(EventPageKey {
                app: self.app.id,
                group,
                page: PageKey::new(&request),
                texts: spec_texts(ctx),
            })
            .await
            .map_err(load_error)?
            .unwrap_or_else(|| Page::from_rows(Vec::new(), &request, 0));
        Ok(EventDefinitionPage::new(page, &request))
    }
    async fn documents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<DocumentPage> {
        let request = page(first, after)?;
        let page = loader(ctx)?
            .load_one(DocumentPageKey {
                app: self.app.id,
                page: PageKey::new(&request),
            })
            .await
            .map_err(load_error)?
            .unwrap_or_else(|| Page::from_rows(Vec::new(), &request, 0));
        Ok(DocumentPage::new(page, &request))
    }
    #[graphql(name = "apiDefinition")]
    async fn api_definition(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<ApiDefinition>> {
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .api_definition(tenant, id)
            .await
            .gql()?
            .filter(|a| a.application_id == self.app.id)
            .map(ApiDefinition))
    }
    async fn event_definition(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<Option<EventDefinition>> {
        let Some(id) = query_id(&id) else {
            return Ok(None);
        };
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .event_definition(tenant, id)
            .await
            .gql()?
            .filter(|e| e.application_id == self.app.id)
            .map(Into::into))
    }
    /// The application's credentials (OAuth2 clients; the secret is shown only when made).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<SystemAuth>> {
        let reach = reach(ctx)?;
        let visible = match reach {
            Reach::Tenant => true,
            Reach::Application(id) => id == self.app.id,
            Reach::IntegrationSystem(id) => self.app.integration_system_id == Some(id),
            Reach::Runtime(_) => false,
        };
        if !visible {
            return Ok(Vec::new());
        }
        auths_of(ctx, SystemAuthOwner::Application(self.app.id)).await
    }
    /// Sextant: the certificates the Connector issued to the application's paired clients
    /// (clients that still exist), newest first, revoked ones included; at most `first` (up
    /// to 100). Seen by the tenant's users, the application itself and the integration
    /// system that owns it, like `auths`.
    async fn client_certificates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> GqlResult<Vec<ClientCertificate>> {
        let visible = match reach(ctx)? {
            Reach::Tenant => true,
            Reach::Application(id) => id == self.app.id,
            Reach::IntegrationSystem(id) => self.app.integration_system_id == Some(id),
            Reach::Runtime(_) => false,
        };
        if !visible {
            return Ok(Vec::new());
        }
        let first = u32::try_from(first.clamp(1, 100)).unwrap_or(50);
        let list = loader(ctx)?
            .load_one(ApplicationCertificatesKey {
                app: self.app.id,
                first,
            })
            .await
            .map_err(load_error)?
            .unwrap_or_default();
        Ok(list.into_iter().map(ClientCertificate::from).collect())
    }
    /// The eventing URL of the runtime the application's events go to (computed; reading it
    /// changes nothing).
    async fn eventing_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let default_url = loader(ctx)?
            .load_one(EventingKey(self.app.id))
            .await
            .map_err(load_error)?
            .unwrap_or_default();
        Ok(ApplicationEventingConfiguration { default_url })
    }
    /// Sextant: the runtimes the application is assigned to (those sharing one of its
    /// scenarios; at most 100), with what it needs to reach them: the application's pull of
    /// "configuration for assigned runtimes". Empty for runtimes, which see no other
    /// runtime. Three statements per application: meant for an application reading itself.
    async fn assigned_runtimes(&self, ctx: &Context<'_>) -> GqlResult<Vec<AssignedRuntime>> {
        if !sees_application_secrets(ctx)? {
            return Ok(Vec::new());
        }
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.map_err(internal).gql()?;
        let labels = tx
            .labels(
                tenant,
                ObjectKind::Application,
                &[self.app.id.into_untyped()],
            )
            .await
            .map_err(internal)
            .gql()?;
        let scenarios: Vec<String> = labels
            .into_iter()
            .filter(|l| l.key == SCENARIOS_KEY)
            .flat_map(|l| match l.value {
                Value::Array(items) => items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        if scenarios.is_empty() {
            return Ok(Vec::new());
        }
        let filter = LabelFilter {
            key: SCENARIOS_KEY.to_owned(),
            query: LabelQuery::AnyOf(scenarios),
        };
        let runtimes = tx
            .runtimes(tenant, &[filter], &PageRequest::all())
            .await
            .map_err(internal)
            .gql()?
            .items;
        let ids: Vec<Uuid> = runtimes.iter().map(|r| r.id.into_untyped()).collect();
        let urls: HashMap<Uuid, String> = tx
            .labels(tenant, ObjectKind::Runtime, &ids)
            .await
            .map_err(internal)
            .gql()?
            .into_iter()
            .filter(|l| l.key == EVENT_SERVICE_URL_KEY)
            .filter_map(|l| l.value.as_str().map(|v| (l.object, v.to_owned())))
            .collect();
        Ok(runtimes
            .into_iter()
            .map(|r| AssignedRuntime {
                id: ID(r.id.to_string()),
                name: r.name.into_string(),
                status: r.status_condition.into(),
                eventing_url: urls.get(r.id.as_uuid()).cloned(),
            })
            .collect())
    }
}

/// Sextant: a runtime an application is assigned to.
#[derive(SimpleObject)]
pub struct AssignedRuntime {
    pub id: ID,
    pub name: String,
    pub status: RuntimeStatusCondition,
    /// The runtime's event gateway (`runtime/event_service_url`), if it has one.
    #[graphql(name = "eventingURL")]
    pub eventing_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct ApplicationPage {
    pub data: Vec<Application>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl ApplicationPage {
    pub fn new(
        page: Page<domain::Application>,
        request: &PageRequest,
        mut labels: Option<LabelsById<domain::ApplicationId>>,
    ) -> Self {
        let page_info = page_info(&page, request, |a| a.id);
        ApplicationPage {
            total_count: total(page.total_count),
            data: page
                .items
                .into_iter()
                .map(|app| match labels.as_mut() {
                    Some(labels) => {
                        let own = labels.remove(&app.id).unwrap_or_default();
                        Application::with_labels(app, own)
                    }
                    None => Application::new(app),
                })
                .collect(),
            page_info,
        }
    }
}

/// Whether a page of definitions must carry its specs' texts: only where `spec.data` is
/// selected (through fragments too), so that a page read for names does not ship the texts.
fn spec_texts(ctx: &Context<'_>) -> SpecTexts {
    if ctx
        .look_ahead()
        .field("data")
        .field("spec")
        .field("data")
        .exists()
    {
        SpecTexts::Include
    } else {
        SpecTexts::Omit
    }
}
