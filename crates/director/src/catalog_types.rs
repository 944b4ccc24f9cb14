//! Wire objects of the catalog, converted explicitly from the domain.

use async_graphql::{Context, ID, Object, SimpleObject, Union};
use sextant_domain::{self as domain, PageRequest};
use uuid::Uuid;

use crate::catalog_inputs::{
    ApiSpecTypeWire, DocumentFormatWire, EventSpecTypeWire, FetchModeWire,
    FetchStatusConditionWire, SpecFormatWire, WebhookTypeWire,
};
use crate::error::GqlResult;
use crate::loaders::{AllRuntimeAuthsKey, Catalog, RuntimeAuthKey};
use crate::scalars::{Clob, HttpHeaders, QueryParams, Timestamp};
use crate::types::{PageInfo, page_info, total};

fn id(u: Uuid) -> ID {
    ID(u.to_string())
}

/// A loader failure as a GraphQL error (logged, reported as internal).
pub fn load_error(e: crate::loaders::LoadError) -> async_graphql::Error {
    crate::error::to_graphql(domain::DomainError::Internal(Box::new(e)))
}

pub fn catalog<'a>(ctx: &Context<'a>) -> GqlResult<&'a Catalog> {
    ctx.data::<Catalog>()
}

// --- Auth ---

#[derive(SimpleObject, Clone)]
pub struct BasicCredentialData {
    pub username: String,
    pub password: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "OAuthCredentialData")]
pub struct OAuthCredentialData {
    pub client_id: String,
    pub client_secret: String,
    /// The token endpoint.
    pub url: String,
}

#[derive(Union, Clone)]
pub enum CredentialData {
    BasicCredentialData(BasicCredentialData),
    OAuthCredentialData(OAuthCredentialData),
}

impl From<domain::Credential> for CredentialData {
    fn from(c: domain::Credential) -> Self {
        match c {
            domain::Credential::Basic { username, password } => {
                CredentialData::BasicCredentialData(BasicCredentialData { username, password })
            }
            domain::Credential::OAuth {
                client_id,
                client_secret,
                url,
            } => CredentialData::OAuthCredentialData(OAuthCredentialData {
                client_id,
                client_secret,
                url,
            }),
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "CSRFTokenCredentialRequestAuth")]
pub struct CsrfTokenCredentialRequestAuth {
    #[graphql(name = "tokenEndpointURL")]
    pub token_endpoint_url: String,
    pub credential: CredentialData,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
}

#[derive(SimpleObject, Clone)]
pub struct CredentialRequestAuth {
    pub csrf: Option<CsrfTokenCredentialRequestAuth>,
}

#[derive(SimpleObject, Clone)]
pub struct Auth {
    pub credential: CredentialData,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
    pub request_auth: Option<CredentialRequestAuth>,
}

impl From<domain::Auth> for Auth {
    fn from(a: domain::Auth) -> Self {
        Auth {
            credential: a.credential.into(),
            additional_headers: a.additional_headers.map(HttpHeaders),
            additional_query_params: a.additional_query_params.map(QueryParams),
            request_auth: a.request_auth.map(|r| CredentialRequestAuth {
                csrf: r.csrf.map(|c| CsrfTokenCredentialRequestAuth {
                    token_endpoint_url: c.token_endpoint_url,
                    credential: c.credential.into(),
                    additional_headers: c.additional_headers.map(HttpHeaders),
                    additional_query_params: c.additional_query_params.map(QueryParams),
                }),
            }),
        }
    }
}

// --- fetch requests, versions ---

#[derive(SimpleObject)]
pub struct FetchRequestStatus {
    pub condition: FetchStatusConditionWire,
    pub timestamp: Timestamp,
    /// Why the last fetch failed, or what it fetched (a Sextant addition, as in Compass 2020).
    pub message: Option<String>,
}

pub struct FetchRequest(domain::FetchRequest);

impl From<domain::FetchRequest> for FetchRequest {
    fn from(f: domain::FetchRequest) -> Self {
        FetchRequest(f)
    }
}

/// Whether the consumer may see credentials an application uses for itself (to fetch its
/// specs, to receive webhooks): not a runtime, which only consumes the application's APIs.
pub fn sees_application_secrets(ctx: &Context<'_>) -> GqlResult<bool> {
    let reach = crate::confine::Reach::of(crate::guard::consumer(ctx)?)
        .map_err(crate::error::to_graphql)?;
    Ok(!matches!(reach, crate::confine::Reach::Runtime(_)))
}

#[Object]
impl FetchRequest {
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The credentials used to fetch (hidden from runtimes).
    async fn auth(&self, ctx: &Context<'_>) -> GqlResult<Option<Auth>> {
        if !sees_application_secrets(ctx)? {
            return Ok(None);
        }
        Ok(self.0.auth.clone().map(Into::into))
    }
    async fn mode(&self) -> FetchModeWire {
        self.0.mode.into()
    }
    async fn filter(&self) -> Option<&str> {
        self.0.filter.as_deref()
    }
    async fn status(&self) -> FetchRequestStatus {
        FetchRequestStatus {
            condition: self.0.status.condition.into(),
            timestamp: Timestamp(self.0.status.timestamp),
            message: self.0.status.message.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct Version {
    pub value: String,
    pub deprecated: Option<bool>,
    pub deprecated_since: Option<String>,
    pub for_removal: Option<bool>,
}

impl From<domain::Version> for Version {
    fn from(v: domain::Version) -> Self {
        Version {
            value: v.value,
            deprecated: Some(v.deprecated),
            deprecated_since: v.deprecated_since,
            for_removal: Some(v.for_removal),
        }
    }
}

// --- API definitions ---

#[derive(SimpleObject)]
#[graphql(name = "APISpec")]
pub struct ApiSpec {
    pub data: Option<Clob>,
    pub format: SpecFormatWire,
    #[graphql(name = "type")]
    pub spec_type: ApiSpecTypeWire,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::ApiSpec> for ApiSpec {
    fn from(s: domain::ApiSpec) -> Self {
        ApiSpec {
            data: s.data.map(Clob),
            format: s.format.into(),
            spec_type: s.spec_type.into(),
            fetch_request: s.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "APIRuntimeAuth")]
pub struct ApiRuntimeAuth {
    #[graphql(name = "runtimeID")]
    pub runtime_id: ID,
    pub auth: Option<Auth>,
}

pub struct ApiDefinition(pub domain::ApiDefinition);

#[Object(name = "APIDefinition")]
impl ApiDefinition {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    #[graphql(name = "applicationID")]
    async fn application_id(&self) -> ID {
        id(self.0.application_id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn spec(&self) -> Option<ApiSpec> {
        self.0.spec.clone().map(Into::into)
    }
    #[graphql(name = "targetURL")]
    async fn target_url(&self) -> &str {
        &self.0.target_url
    }
    async fn group(&self) -> Option<&str> {
        self.0.group.as_deref()
    }
    /// The credentials the runtime uses for this API: its own if set, else `defaultAuth`.
    async fn auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
    ) -> GqlResult<Option<ApiRuntimeAuth>> {
        let not_found = || {
            crate::error::to_graphql(domain::DomainError::not_found(
                "runtime",
                runtime_id.as_str(),
            ))
        };
        let runtime = Uuid::parse_str(&runtime_id).map_err(|_| not_found())?;
        // A runtime sees only the credentials it holds itself.
        let reach = crate::confine::Reach::of(crate::guard::consumer(ctx)?)
            .map_err(crate::error::to_graphql)?;
        if let crate::confine::Reach::Runtime(own) = reach
            && own != runtime
        {
            return Err(not_found());
        }
        let loaded = catalog(ctx)?
            .load_one(RuntimeAuthKey {
                api: self.0.id,
                runtime,
            })
            .await
            .map_err(load_error)?;
        match loaded {
            Some(l) if l.runtime_exists => Ok(Some(ApiRuntimeAuth {
                runtime_id: id(runtime),
                auth: l
                    .auth
                    .or_else(|| self.0.default_auth.clone())
                    .map(Into::into),
            })),
            _ => Err(not_found()),
        }
    }
    /// One entry per runtime of the tenant: its credentials, else `defaultAuth` (a runtime
    /// sees only its own entry).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<ApiRuntimeAuth>> {
        let reach = crate::confine::Reach::of(crate::guard::consumer(ctx)?)
            .map_err(crate::error::to_graphql)?;
        let list = match reach {
            crate::confine::Reach::Runtime(own) => {
                let loaded = catalog(ctx)?
                    .load_one(RuntimeAuthKey {
                        api: self.0.id,
                        runtime: own,
                    })
                    .await
                    .map_err(load_error)?;
                match loaded {
                    Some(l) if l.runtime_exists => vec![(own, l.auth)],
                    _ => Vec::new(),
                }
            }
            _ => catalog(ctx)?
                .load_one(AllRuntimeAuthsKey(self.0.id))
                .await
                .map_err(load_error)?
                .unwrap_or_default(),
        };
        Ok(list
            .into_iter()
            .map(|(runtime, auth)| ApiRuntimeAuth {
                runtime_id: id(runtime),
                auth: auth.or_else(|| self.0.default_auth.clone()).map(Into::into),
            })
            .collect())
    }
    async fn default_auth(&self) -> Option<Auth> {
        self.0.default_auth.clone().map(Into::into)
    }
    async fn version(&self) -> Option<Version> {
        self.0.version.clone().map(Into::into)
    }
}

#[derive(SimpleObject)]
#[graphql(name = "APIDefinitionPage")]
pub struct ApiDefinitionPage {
    pub data: Vec<ApiDefinition>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl ApiDefinitionPage {
    pub fn new(page: domain::Page<domain::ApiDefinition>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |a| a.id);
        ApiDefinitionPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(ApiDefinition).collect(),
            page_info,
        }
    }
}

// --- event definitions ---

#[derive(SimpleObject)]
pub struct EventSpec {
    pub data: Option<Clob>,
    #[graphql(name = "type")]
    pub spec_type: EventSpecTypeWire,
    pub format: SpecFormatWire,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::EventSpec> for EventSpec {
    fn from(s: domain::EventSpec) -> Self {
        EventSpec {
            data: s.data.map(Clob),
            spec_type: s.spec_type.into(),
            format: s.format.into(),
            fetch_request: s.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct EventDefinition {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub name: String,
    pub description: Option<String>,
    pub group: Option<String>,
    pub spec: EventSpec,
    pub version: Option<Version>,
}

impl From<domain::EventDefinition> for EventDefinition {
    fn from(e: domain::EventDefinition) -> Self {
        EventDefinition {
            id: id(e.id),
            application_id: id(e.application_id),
            name: e.name,
            description: e.description,
            group: e.group,
            spec: e.spec.into(),
            version: e.version.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct EventDefinitionPage {
    pub data: Vec<EventDefinition>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl EventDefinitionPage {
    pub fn new(page: domain::Page<domain::EventDefinition>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |e| e.id);
        EventDefinitionPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}

// --- documents ---

#[derive(SimpleObject)]
pub struct Document {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: DocumentFormatWire,
    pub kind: Option<String>,
    pub data: Option<Clob>,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::Document> for Document {
    fn from(d: domain::Document) -> Self {
        Document {
            id: id(d.id),
            application_id: id(d.application_id),
            title: d.title,
            display_name: d.display_name,
            description: d.description,
            format: d.format.into(),
            kind: d.kind,
            data: d.data.map(Clob),
            fetch_request: d.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct DocumentPage {
    pub data: Vec<Document>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl DocumentPage {
    pub fn new(page: domain::Page<domain::Document>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |d| d.id);
        DocumentPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}

// --- webhooks ---

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Webhook {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    #[graphql(name = "type")]
    pub webhook_type: WebhookTypeWire,
    pub url: String,
    pub auth: Option<Auth>,
    /// Sextant: the key deliveries are signed with (header `Sextant-Signature: v1=<hex
    /// HMAC-SHA256 of "<Sextant-Timestamp>.<body>">`). Shown only by `addWebhook` and
    /// `rotateWebhookSecret`; null everywhere else.
    pub secret: Option<String>,
    /// Sextant: since when deliveries to this webhook give up (one failed for its whole retry
    /// period); null once one succeeds again.
    pub failing_since: Option<Timestamp>,
}

impl From<domain::Webhook> for Webhook {
    fn from(w: domain::Webhook) -> Self {
        Webhook {
            id: id(w.id),
            application_id: id(w.application_id),
            webhook_type: w.webhook_type.into(),
            url: w.url,
            auth: w.auth.map(Into::into),
            secret: None,
            failing_since: w.failing_since.map(Timestamp),
        }
    }
}

#[async_graphql::ComplexObject]
impl Webhook {
    /// Sextant: the most recent deliveries to this webhook (newest first; at most 100).
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        use crate::error::IntoGql;
        let tenant = crate::guard::consumer(ctx)?.tenant;
        let id = crate::inputs::parse_id(&self.id, "webhook").gql()?;
        let store = ctx.data::<std::sync::Arc<dyn sextant_store::Store>>()?;
        let mut tx = store.read().await.map_err(crate::error::internal).gql()?;
        let deliveries = tx
            .deliveries_of_webhook(tenant, id, i64::from(first.unwrap_or(20).clamp(1, 100)))
            .await
            .map_err(crate::error::internal)
            .gql()?;
        Ok(deliveries.into_iter().map(WebhookDelivery::from).collect())
    }
}

/// Sextant: one event on its way to one webhook (the Application Webhook API's delivery
/// log).
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    pub id: ID,
    #[graphql(name = "eventID")]
    pub event_id: ID,
    /// `CONFIGURATION_CHANGED` or `CREDENTIALS_REQUESTED`.
    pub event_type: String,
    /// The JSON body POSTed.
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub created_at: Timestamp,
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

impl From<domain::delivery::Delivery> for WebhookDelivery {
    fn from(d: domain::delivery::Delivery) -> Self {
        let pending = d.state == domain::delivery::DeliveryState::Pending;
        WebhookDelivery {
            id: id(d.id),
            event_id: id(d.event_id),
            event_type: d.event_type.as_str().to_owned(),
            payload: d.body,
            state: d.state.as_str().to_owned(),
            attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
            created_at: Timestamp(d.created_at),
            next_attempt_at: pending.then_some(Timestamp(d.next_attempt_at)),
            last_attempt_at: d.last_attempt_at.map(Timestamp),
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(Timestamp),
        }
    }
}

impl Webhook {
    /// The webhook with its secret: only for the answer of the mutation that made it.
    pub fn revealing_secret(w: domain::Webhook) -> Self {
        let secret = w.secret.clone();
        Webhook {
            secret,
            ..Webhook::from(w)
        }
    }
}

// --- eventing ---

#[derive(SimpleObject)]
pub struct ApplicationEventingConfiguration {
    #[graphql(name = "defaultURL")]
    pub default_url: String,
}

#[derive(SimpleObject)]
pub struct RuntimeEventingConfiguration {
    #[graphql(name = "defaultURL")]
    pub default_url: String,
}
