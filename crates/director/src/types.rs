//! Wire types: the GraphQL objects the Director returns, converted explicitly from the domain.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Interface, Object, SimpleObject};
use serde_json::Value;
use sextant_domain::{self as domain, Cursor, ObjectKind, Page, PageRequest};
use uuid::Uuid;

use crate::catalog_types::{
    ApiDefinition, ApiDefinitionPage, ApplicationEventingConfiguration, DocumentPage,
    EventDefinition, EventDefinitionPage, RuntimeEventingConfiguration, Webhook, catalog,
    load_error,
};
use crate::error::{GqlResult, IntoGql};
use crate::loaders::{ApiPageKey, DocumentPageKey, EventPageKey, PageKey, WebhooksKey};
use crate::scalars::{Any, JsonSchema, Labels, PageCursor, Timestamp};
use crate::system_auths::{SystemAuth, auths_of};
use sextant_store::OwnerKind;

fn store<'a>(ctx: &Context<'a>) -> GqlResult<&'a Arc<dyn sextant_store::Store>> {
    ctx.data::<Arc<dyn sextant_store::Store>>()
}

/// Labels known up front: loaded for a whole page in one statement, or kept from an object
/// that was just deleted and can no longer be loaded.
type Preloaded = Option<Arc<BTreeMap<String, Value>>>;

/// The labels of objects, grouped per object.
pub type LabelsById = HashMap<Uuid, BTreeMap<String, Value>>;

/// Loads the labels of a page's objects in one statement, if the query asks for them.
pub async fn page_labels(
    ctx: &Context<'_>,
    tx: &mut dyn sextant_store::Tx,
    kind: ObjectKind,
    ids: Vec<Uuid>,
) -> GqlResult<Option<LabelsById>> {
    let data = ctx.look_ahead().field("data");
    let wanted = data.field("labels").exists()
        || (kind == ObjectKind::Runtime && data.field("eventingConfiguration").exists());
    if !wanted || ids.is_empty() {
        return Ok(None);
    }
    let tenant = crate::guard::consumer(ctx)?.tenant;
    let mut grouped = LabelsById::new();
    for (id, key, value) in tx.labels(tenant, kind, &ids).await.gql()? {
        grouped.entry(id).or_default().insert(key, value);
    }
    Ok(Some(grouped))
}

async fn resolve_labels(
    ctx: &Context<'_>,
    kind: ObjectKind,
    id: Uuid,
    preloaded: &Preloaded,
    key: Option<String>,
) -> GqlResult<Option<Labels>> {
    let all = match preloaded {
        Some(labels) => labels.as_ref().clone(),
        None => {
            let tenant = crate::guard::consumer(ctx)?.tenant;
            let store = ctx.data::<Arc<dyn sextant_store::Store>>()?;
            let mut tx = store.read().await.gql()?;
            tx.labels(tenant, kind, &[id])
                .await
                .gql()?
                .into_iter()
                .map(|(_, key, value)| (key, value))
                .collect()
        }
    };
    let map = all
        .into_iter()
        .filter(|(k, _)| key.as_ref().is_none_or(|wanted| wanted == k))
        .collect();
    Ok(Some(Labels(map)))
}

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
        &self.app.name
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
            ObjectKind::Application,
            self.app.id,
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
        types: Option<Vec<crate::health::HealthCheckType>>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<crate::health::HealthCheckPage> {
        let _ = types;
        crate::health::HealthCheckPage::empty(first, after)
    }
    /// The application's webhooks (hidden from runtimes: they hold the application's own
    /// credentials).
    async fn webhooks(&self, ctx: &Context<'_>) -> GqlResult<Vec<Webhook>> {
        if !crate::catalog_types::sees_application_secrets(ctx)? {
            return Ok(Vec::new());
        }
        let list = catalog(ctx)?
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
        let request = crate::query::page(first, after)?;
        let page = catalog(ctx)?
            .load_one(ApiPageKey {
                app: self.app.id,
                group,
                page: PageKey::new(&request),
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
        let request = crate::query::page(first, after)?;
        let page = catalog(ctx)?
            .load_one(EventPageKey {
                app: self.app.id,
                group,
                page: PageKey::new(&request),
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
        let request = crate::query::page(first, after)?;
        let page = catalog(ctx)?
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
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        let tenant = crate::guard::consumer(ctx)?.tenant;
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
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        let tenant = crate::guard::consumer(ctx)?.tenant;
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
        let reach = crate::confine::Reach::of(crate::guard::consumer(ctx)?).gql()?;
        let visible = match reach {
            crate::confine::Reach::Tenant => true,
            crate::confine::Reach::Application(id) => id == self.app.id,
            crate::confine::Reach::IntegrationSystem(id) => {
                self.app.integration_system_id == Some(id)
            }
            crate::confine::Reach::Runtime(_) => false,
        };
        if !visible {
            return Ok(Vec::new());
        }
        auths_of(ctx, OwnerKind::Application, self.app.id).await
    }
    /// The eventing URL of the runtime the application's events go to (computed; reading it
    /// changes nothing).
    async fn eventing_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let default_url = catalog(ctx)?
            .load_one(crate::loaders::EventingKey(self.app.id))
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
        use sextant_domain::label::{LabelFilter, LabelQuery, SCENARIOS_KEY};
        if !crate::catalog_types::sees_application_secrets(ctx)? {
            return Ok(Vec::new());
        }
        let tenant = crate::guard::consumer(ctx)?.tenant;
        let store = ctx.data::<Arc<dyn sextant_store::Store>>()?;
        let internal = crate::error::internal;
        let mut tx = store.read().await.map_err(internal).gql()?;
        let labels = tx
            .labels(tenant, ObjectKind::Application, &[self.app.id])
            .await
            .map_err(internal)
            .gql()?;
        let scenarios: Vec<String> = labels
            .into_iter()
            .filter(|(_, key, _)| key == SCENARIOS_KEY)
            .flat_map(|(_, _, value)| match value {
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
        let ids: Vec<Uuid> = runtimes.iter().map(|r| r.id).collect();
        let urls: HashMap<Uuid, String> = tx
            .labels(tenant, ObjectKind::Runtime, &ids)
            .await
            .map_err(internal)
            .gql()?
            .into_iter()
            .filter(|(_, key, _)| key == crate::catalog::EVENT_SERVICE_URL_KEY)
            .filter_map(|(id, _, value)| value.as_str().map(|v| (id, v.to_owned())))
            .collect();
        Ok(runtimes
            .into_iter()
            .map(|r| AssignedRuntime {
                id: ID(r.id.to_string()),
                name: r.name,
                status: r.status_condition.into(),
                eventing_url: urls.get(&r.id).cloned(),
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

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "RuntimeStatusCondition")]
pub enum RuntimeStatusCondition {
    Initial,
    Ready,
    Failed,
}

impl From<RuntimeStatusCondition> for domain::RuntimeStatusCondition {
    fn from(c: RuntimeStatusCondition) -> Self {
        match c {
            RuntimeStatusCondition::Initial => Self::Initial,
            RuntimeStatusCondition::Ready => Self::Ready,
            RuntimeStatusCondition::Failed => Self::Failed,
        }
    }
}

impl From<domain::RuntimeStatusCondition> for RuntimeStatusCondition {
    fn from(c: domain::RuntimeStatusCondition) -> Self {
        match c {
            domain::RuntimeStatusCondition::Initial => Self::Initial,
            domain::RuntimeStatusCondition::Ready => Self::Ready,
            domain::RuntimeStatusCondition::Failed => Self::Failed,
        }
    }
}

#[derive(SimpleObject)]
pub struct RuntimeStatus {
    pub condition: RuntimeStatusCondition,
    pub timestamp: Timestamp,
    /// Why the runtime is in this status, as its agent reported it (a Sextant extension).
    pub message: Option<String>,
}

#[derive(SimpleObject)]
pub struct RuntimeMetadata {
    pub creation_timestamp: Timestamp,
}

pub struct Runtime {
    runtime: domain::Runtime,
    preloaded: Preloaded,
}

impl Runtime {
    pub fn new(runtime: domain::Runtime) -> Self {
        Self {
            runtime,
            preloaded: None,
        }
    }
    pub fn with_labels(runtime: domain::Runtime, labels: BTreeMap<String, Value>) -> Self {
        Self {
            runtime,
            preloaded: Some(Arc::new(labels)),
        }
    }
}

#[Object]
impl Runtime {
    async fn id(&self) -> ID {
        ID(self.runtime.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.runtime.name
    }
    async fn description(&self) -> Option<&str> {
        self.runtime.description.as_deref()
    }
    async fn labels(&self, ctx: &Context<'_>, key: Option<String>) -> GqlResult<Option<Labels>> {
        resolve_labels(
            ctx,
            ObjectKind::Runtime,
            self.runtime.id,
            &self.preloaded,
            key,
        )
        .await
    }
    async fn status(&self) -> RuntimeStatus {
        RuntimeStatus {
            condition: self.runtime.status_condition.into(),
            timestamp: Timestamp(self.runtime.status_timestamp),
            message: self.runtime.status_message.clone(),
        }
    }
    async fn metadata(&self) -> RuntimeMetadata {
        RuntimeMetadata {
            creation_timestamp: Timestamp(self.runtime.created_at),
        }
    }
    /// The runtime's credentials (OAuth2 clients; the secret is shown only when made).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<SystemAuth>> {
        let reach = crate::confine::Reach::of(crate::guard::consumer(ctx)?).gql()?;
        if !crate::confine::can_read_runtime(reach, self.runtime.id) {
            return Ok(Vec::new());
        }
        auths_of(ctx, OwnerKind::Runtime, self.runtime.id).await
    }
    /// The runtime's eventing URL: its `runtime/event_service_url` label, else "".
    async fn eventing_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<RuntimeEventingConfiguration> {
        let key = crate::catalog::EVENT_SERVICE_URL_KEY;
        let labels = resolve_labels(
            ctx,
            ObjectKind::Runtime,
            self.runtime.id,
            &self.preloaded,
            Some(key.to_owned()),
        )
        .await?;
        let default_url = labels
            .as_ref()
            .and_then(|l| l.0.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(RuntimeEventingConfiguration { default_url })
    }
}

#[derive(SimpleObject)]
pub struct Label {
    pub key: String,
    pub value: Any,
}

#[derive(SimpleObject)]
pub struct LabelDefinition {
    pub key: String,
    pub schema: Option<JsonSchema>,
}

impl From<domain::LabelDefinition> for LabelDefinition {
    fn from(d: domain::LabelDefinition) -> Self {
        LabelDefinition {
            key: d.key,
            schema: d.schema.map(|s| JsonSchema(s.to_string())),
        }
    }
}

pub struct IntegrationSystem(domain::IntegrationSystem);

impl From<domain::IntegrationSystem> for IntegrationSystem {
    fn from(s: domain::IntegrationSystem) -> Self {
        IntegrationSystem(s)
    }
}

#[Object]
impl IntegrationSystem {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The integration system's credentials (OAuth2 clients; the secret is shown only when
    /// made).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<SystemAuth>> {
        let consumer = crate::guard::consumer(ctx)?;
        let reach = crate::confine::Reach::of(consumer).gql()?;
        if !crate::confine::can_read_integration_system_auths(consumer.tenant, reach, &self.0) {
            return Ok(Vec::new());
        }
        auths_of(ctx, OwnerKind::IntegrationSystem, self.0.id).await
    }
}

/// Who sees and writes a template.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ApplicationTemplateAccessLevel {
    /// Every tenant reads it; only operators (`application_template:global`) write it.
    Global,
    /// Sextant: the template belongs to the tenant that made it, which alone sees and writes it.
    Tenant,
}

#[derive(SimpleObject)]
pub struct PlaceholderDefinition {
    pub name: String,
    pub description: Option<String>,
}

#[derive(SimpleObject)]
pub struct ApplicationTemplate {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    /// The application input with its `{{placeholder}}` markers, as a GraphQL input literal
    /// (Compass's graphqlizer rendering).
    pub application_input: String,
    pub placeholders: Vec<PlaceholderDefinition>,
    pub access_level: ApplicationTemplateAccessLevel,
}

impl From<domain::ApplicationTemplate> for ApplicationTemplate {
    fn from(t: domain::ApplicationTemplate) -> Self {
        ApplicationTemplate {
            id: ID(t.id.to_string()),
            name: t.name,
            description: t.description,
            application_input: crate::graphqlizer::application_input(&t.application_input),
            placeholders: t
                .placeholders
                .into_iter()
                .map(|p| PlaceholderDefinition {
                    name: p.name,
                    description: p.description,
                })
                .collect(),
            access_level: match t.tenant {
                None => ApplicationTemplateAccessLevel::Global,
                Some(_) => ApplicationTemplateAccessLevel::Tenant,
            },
        }
    }
}

// --- pages ---

#[derive(SimpleObject)]
pub struct PageInfo {
    pub start_cursor: PageCursor,
    pub end_cursor: PageCursor,
    pub has_next_page: bool,
}

/// `pageInfo` as Compass filled it: `startCursor` echoes `after`, and `endCursor` names the
/// next page, so it is empty on the last one.
pub(crate) fn page_info<T>(
    page: &Page<T>,
    request: &PageRequest,
    id: impl Fn(&T) -> Uuid,
) -> PageInfo {
    let end_cursor = match page.items.last() {
        Some(last) if page.has_next_page => Cursor(id(last)).encode(),
        _ => String::new(),
    };
    PageInfo {
        start_cursor: PageCursor(request.after.map(Cursor::encode).unwrap_or_default()),
        end_cursor: PageCursor(end_cursor),
        has_next_page: page.has_next_page,
    }
}

pub(crate) fn total(page_total: i64) -> i32 {
    i32::try_from(page_total).unwrap_or(i32::MAX)
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
        mut labels: Option<LabelsById>,
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

#[derive(SimpleObject)]
pub struct RuntimePage {
    pub data: Vec<Runtime>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl RuntimePage {
    pub fn new(
        page: Page<domain::Runtime>,
        request: &PageRequest,
        mut labels: Option<LabelsById>,
    ) -> Self {
        let page_info = page_info(&page, request, |r| r.id);
        RuntimePage {
            total_count: total(page.total_count),
            data: page
                .items
                .into_iter()
                .map(|runtime| match labels.as_mut() {
                    Some(labels) => {
                        let own = labels.remove(&runtime.id).unwrap_or_default();
                        Runtime::with_labels(runtime, own)
                    }
                    None => Runtime::new(runtime),
                })
                .collect(),
            page_info,
        }
    }
}

#[derive(SimpleObject)]
pub struct IntegrationSystemPage {
    pub data: Vec<IntegrationSystem>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl IntegrationSystemPage {
    pub fn new(page: Page<domain::IntegrationSystem>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |s| s.id);
        IntegrationSystemPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}

#[derive(SimpleObject)]
pub struct ApplicationTemplatePage {
    pub data: Vec<ApplicationTemplate>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl ApplicationTemplatePage {
    pub fn new(page: Page<domain::ApplicationTemplate>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |t| t.id);
        ApplicationTemplatePage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}

/// A page of a list.
// The variants are named after the GraphQL types they stand for.
#[allow(clippy::enum_variant_names)]
#[derive(Interface)]
#[graphql(
    field(name = "page_info", ty = "&PageInfo"),
    field(name = "total_count", ty = "&i32")
)]
pub enum Pageable {
    ApplicationPage(ApplicationPage),
    RuntimePage(RuntimePage),
    IntegrationSystemPage(IntegrationSystemPage),
    ApplicationTemplatePage(ApplicationTemplatePage),
    #[graphql(name = "APIDefinitionPage")]
    ApiDefinitionPage(ApiDefinitionPage),
    EventDefinitionPage(EventDefinitionPage),
    DocumentPage(DocumentPage),
    HealthCheckPage(crate::health::HealthCheckPage),
}
