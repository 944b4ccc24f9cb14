//! An application's page: its labels, scenarios, APIs and events (with their specs' fetch
//! status), documents, webhooks with their delivery log and each delivery's attempts, the
//! clients that may act as it (credentials, certificates), and its deletion; what a form
//! posted to the page starts with ([`posted_detail`]).

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::deletion::{self, DeletablePage, Deletion};
use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::labels::label_text;
use crate::pages::credentials::{CredentialRow, SystemAuth};
use crate::render::{self, Chrome, not_found, read_refused, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;
use crate::times;

use super::Status;

pub(crate) struct Pair {
    key: String,
    value: String,
}

pub(crate) struct ApiRow {
    id: String,
    name: String,
    target_url: String,
    spec: String,
    /// The fetch request's last status ("" when the spec is inline).
    fetch: String,
}

pub(crate) struct EventRow {
    id: String,
    name: String,
    spec: String,
    fetch: String,
}

pub(crate) struct DocumentRow {
    title: String,
    format: String,
}

pub(crate) struct WebhookRow {
    pub(super) id: String,
    kind: String,
    url: String,
    /// Since when deliveries give up ("" when they do not).
    failing_since: String,
    deliveries: Vec<DeliveryRow>,
}

/// One event on its way to a webhook, as the delivery log shows it.
pub(crate) struct DeliveryRow {
    id: String,
    event_type: String,
    state: String,
    attempts: i64,
    created_at: String,
    last_attempt_at: String,
    /// From the event to its delivery ("" until delivered).
    took: String,
    last_error: String,
    /// Its attempts, newest first.
    attempt_log: Vec<AttemptRow>,
}

/// One attempt of a delivery: when, the HTTP status ("" when the webhook did not answer),
/// how long it took, and why it failed.
pub(crate) struct AttemptRow {
    number: i64,
    started_at: String,
    status: String,
    latency: String,
    error: String,
}

/// A certificate issued to one of the application's paired clients.
pub(crate) struct CertificateRow {
    pub(super) serial: String,
    client_id: String,
    not_before: String,
    expires_at: String,
    /// When it was revoked ("" when it was not).
    revoked_at: String,
    expired: bool,
}

#[derive(Template)]
#[template(path = "application.html")]
pub(super) struct DetailPage {
    pub(super) chrome: Chrome,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) provider: String,
    pub(super) description: String,
    pub(super) status: String,
    pub(super) labels: Vec<Pair>,
    pub(super) apis: Vec<ApiRow>,
    pub(super) apis_total: i64,
    pub(super) events: Vec<EventRow>,
    pub(super) events_total: i64,
    pub(super) documents: Vec<DocumentRow>,
    pub(super) documents_total: i64,
    pub(super) webhooks: Vec<WebhookRow>,
    /// Why a test event was not sent.
    pub(super) webhook_error: Option<String>,
    pub(super) certificates: Vec<CertificateRow>,
    /// Why a certificate was not revoked.
    pub(super) certificates_error: Option<String>,
    pub(super) credentials: Vec<CredentialRow>,
    /// Why credentials were not made or revoked.
    pub(super) credentials_error: Option<String>,
    pub(super) delete_error: Option<String>,
    /// Why a delivery was not sent again.
    pub(super) resend_error: Option<String>,
}

impl DeletablePage for DetailPage {
    fn name(&self) -> &str {
        &self.name
    }

    fn delete_error(&mut self) -> &mut Option<String> {
        &mut self.delete_error
    }
}

const DETAIL: &str = "query($id: ID!) { application(id: $id) { \
    id name providerName description status { condition } labels \
    auths { id auth { credential { ... on OAuthCredentialData { clientId url } } } } \
    clientCertificates { serial clientID notBefore expiresAt revokedAt } \
    webhooks { id type url failingSince deliveries(first: 10) { \
    id eventType state attempts createdAt lastAttemptAt lastError deliveredAt \
    attemptLog { number startedAt durationMs httpStatus error } } } \
    apiDefinitions(first: 100) { totalCount data { id name targetURL \
    spec { type format fetchRequest { status { condition } } } } } \
    eventDefinitions(first: 100) { totalCount data { id name \
    spec { type format fetchRequest { status { condition } } } } } \
    documents(first: 100) { totalCount data { title format } } } }";

#[derive(Deserialize)]
struct DetailAnswer {
    application: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    id: String,
    name: String,
    #[serde(rename = "providerName")]
    provider_name: String,
    description: Option<String>,
    status: Status,
    labels: Option<serde_json::Map<String, Value>>,
    auths: Vec<SystemAuth>,
    #[serde(rename = "clientCertificates")]
    client_certificates: Vec<Certificate>,
    webhooks: Vec<Webhook>,
    #[serde(rename = "apiDefinitions")]
    api_definitions: Children<Api>,
    #[serde(rename = "eventDefinitions")]
    event_definitions: Children<Event>,
    documents: Children<Document>,
}

#[derive(Deserialize)]
struct Children<T> {
    #[serde(rename = "totalCount")]
    total_count: i64,
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Spec {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    #[serde(rename = "fetchRequest")]
    fetch_request: Option<FetchRequest>,
}

#[derive(Deserialize)]
struct FetchRequest {
    status: Status,
}

#[derive(Deserialize)]
struct Api {
    id: String,
    name: String,
    #[serde(rename = "targetURL")]
    target_url: String,
    spec: Option<Spec>,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    name: String,
    spec: Spec,
}

#[derive(Deserialize)]
struct Document {
    title: String,
    format: String,
}

#[derive(Deserialize)]
struct Certificate {
    serial: String,
    #[serde(rename = "clientID")]
    client_id: String,
    #[serde(rename = "notBefore")]
    not_before: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
    #[serde(rename = "revokedAt")]
    revoked_at: Option<String>,
}

impl Certificate {
    fn row(self) -> CertificateRow {
        CertificateRow {
            expired: times::is_past(&self.expires_at),
            serial: self.serial,
            client_id: self.client_id,
            not_before: times::text(&self.not_before),
            expires_at: times::text(&self.expires_at),
            revoked_at: self
                .revoked_at
                .as_deref()
                .map(times::text)
                .unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct Webhook {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(rename = "failingSince")]
    failing_since: Option<String>,
    deliveries: Vec<Delivery>,
}

#[derive(Deserialize)]
struct Delivery {
    id: String,
    #[serde(rename = "eventType")]
    event_type: String,
    state: String,
    attempts: i64,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "lastAttemptAt")]
    last_attempt_at: Option<String>,
    #[serde(rename = "lastError")]
    last_error: Option<String>,
    #[serde(rename = "deliveredAt")]
    delivered_at: Option<String>,
    #[serde(rename = "attemptLog")]
    attempt_log: Vec<Attempt>,
}

#[derive(Deserialize)]
struct Attempt {
    number: i64,
    #[serde(rename = "startedAt")]
    started_at: String,
    #[serde(rename = "durationMs")]
    duration_ms: i64,
    #[serde(rename = "httpStatus")]
    http_status: Option<i64>,
    error: Option<String>,
}

impl Attempt {
    fn row(self) -> AttemptRow {
        AttemptRow {
            number: self.number,
            started_at: times::text(&self.started_at),
            status: self.http_status.map(|s| s.to_string()).unwrap_or_default(),
            latency: times::millis(self.duration_ms),
            error: self.error.unwrap_or_default(),
        }
    }
}

impl Delivery {
    fn row(self) -> DeliveryRow {
        let took = self
            .delivered_at
            .as_deref()
            .and_then(|done| times::between(&self.created_at, done))
            .unwrap_or_default();
        DeliveryRow {
            id: self.id,
            event_type: self.event_type,
            state: self.state,
            attempts: self.attempts,
            created_at: times::text(&self.created_at),
            last_attempt_at: self
                .last_attempt_at
                .as_deref()
                .map(times::text)
                .unwrap_or_default(),
            took,
            last_error: self.last_error.unwrap_or_default(),
            attempt_log: self.attempt_log.into_iter().map(Attempt::row).collect(),
        }
    }
}

fn spec_text(spec: &Spec) -> String {
    format!("{} ({})", spec.kind, spec.format)
}

fn fetch_text(spec: Option<&Spec>) -> String {
    spec.and_then(|s| s.fetch_request.as_ref())
        .map(|f| f.status.condition.clone())
        .unwrap_or_default()
}

/// A form posted to an application's page: the session and the form (CSRF checked), and
/// the application as the session sees it; otherwise the answer (refused, 404).
pub(super) async fn posted_detail(
    state: &ConsoleState,
    headers: &HeaderMap,
    body: Body,
    id: &str,
) -> Result<Result<(Session, form::FormData, DetailPage), Response>, ConsoleError> {
    let (session, form) = match form::posted(state, headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(Err(refused)),
    };
    Ok(match load_detail(state, &session, id).await? {
        Ok(Some(page)) => Ok((session, form, page)),
        Ok(None) => Err(not_found()),
        Err(refusals) => Err(read_refused(&refusals)),
    })
}

/// The application as `session` sees it; `None` when it does not exist or is out of reach
/// (another tenant's id looks like a missing one).
pub(super) async fn load_detail(
    state: &ConsoleState,
    session: &Session,
    id: &str,
) -> Result<Result<Option<DetailPage>, Vec<Refusal>>, ConsoleError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(Ok(None));
    }
    let answer =
        graphql::execute::<DetailAnswer>(state, session.consumer(), DETAIL, json!({ "id": id }))
            .await?;
    let detail = match answer {
        Ok(DetailAnswer {
            application: Some(detail),
        }) => detail,
        Ok(DetailAnswer { application: None }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    Ok(Ok(Some(DetailPage {
        chrome: Chrome::of(session, "applications"),
        id: detail.id,
        name: detail.name,
        provider: detail.provider_name,
        description: detail.description.unwrap_or_default(),
        status: detail.status.condition,
        labels: detail
            .labels
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| Pair {
                key: k.clone(),
                value: label_text(v),
            })
            .collect(),
        apis_total: detail.api_definitions.total_count,
        apis: detail
            .api_definitions
            .data
            .into_iter()
            .map(|a| ApiRow {
                spec: a.spec.as_ref().map(spec_text).unwrap_or_default(),
                fetch: fetch_text(a.spec.as_ref()),
                id: a.id,
                name: a.name,
                target_url: a.target_url,
            })
            .collect(),
        events_total: detail.event_definitions.total_count,
        events: detail
            .event_definitions
            .data
            .into_iter()
            .map(|e| EventRow {
                spec: spec_text(&e.spec),
                fetch: fetch_text(Some(&e.spec)),
                id: e.id,
                name: e.name,
            })
            .collect(),
        documents_total: detail.documents.total_count,
        documents: detail
            .documents
            .data
            .into_iter()
            .map(|d| DocumentRow {
                title: d.title,
                format: d.format,
            })
            .collect(),
        webhooks: detail
            .webhooks
            .into_iter()
            .map(|w| WebhookRow {
                id: w.id,
                kind: w.kind,
                url: w.url,
                failing_since: w
                    .failing_since
                    .as_deref()
                    .map(times::text)
                    .unwrap_or_default(),
                deliveries: w.deliveries.into_iter().map(Delivery::row).collect(),
            })
            .collect(),
        webhook_error: None,
        certificates: detail
            .client_certificates
            .into_iter()
            .map(Certificate::row)
            .collect(),
        certificates_error: None,
        credentials: detail.auths.into_iter().map(SystemAuth::row).collect(),
        credentials_error: None,
        delete_error: None,
        resend_error: None,
    })))
}

/// `GET /console/applications/{id}`: the application's page; 404 when it is out of reach,
/// the refusal when reading is refused (e.g. without application:read).
pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load_detail(&state, &session, &id).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form, page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    deletion::confirmed(
        &state,
        &session,
        &form,
        page,
        Deletion {
            what: "application",
            mutation: "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
            id: &id,
            done: "/console/applications",
        },
    )
    .await
}
