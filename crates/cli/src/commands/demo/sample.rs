//! The sample application: an HTTP API that answers JSON only to callers with credentials it
//! issued (HTTP basic, one pair per runtime), and the handler behind its webhook listener,
//! which issues those credentials on request and records every notification it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sextant_app::AppClient;
use sextant_app::webhook::{CONFIGURATION_CHANGED, CREDENTIALS_REQUESTED};
use sextant_app::{WebhookEvent, WebhookHandler};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Where the orders live, below the API's base path.
pub(crate) const ORDERS_PATH: &str = "/v1/orders";
/// The API's base path (the registered target URL ends with it).
pub(crate) const BASE_PATH: &str = "/api";

/// The API's OpenAPI document.
pub(crate) fn openapi(target_url: &str) -> String {
    format!(
        "openapi: 3.0.0
info:
  title: Orders
  description: The sample shop's orders.
  version: 1.0.0
servers:
  - url: {target_url}
paths:
  {ORDERS_PATH}:
    get:
      summary: The orders, and who asked
      responses:
        '200':
          description: The orders
        '401':
          description: No credentials this shop issued
components:
  securitySchemes:
    basic:
      type: http
      scheme: basic
security:
  - basic: []
"
    )
}

/// The event API's AsyncAPI document.
pub(crate) const ASYNCAPI: &str = "asyncapi: 2.0.0
info:
  title: Order events
  description: What happens to the sample shop's orders.
  version: 1.0.0
channels:
  order.created.v1:
    subscribe:
      message:
        payload:
          type: object
          properties:
            orderId:
              type: string
";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A call the sample API answered.
#[derive(Clone, Debug)]
pub(crate) struct ApiCall {
    pub method: String,
    pub path: String,
    /// The basic user it was called with, if any.
    pub user: Option<String>,
    /// The runtime those credentials were issued to, if they are valid.
    pub runtime: Option<Uuid>,
    pub status: u16,
}

struct Issued {
    password: String,
    runtime: Uuid,
}

/// The sample application's API.
#[derive(Default)]
pub(crate) struct SampleApi {
    issued: Mutex<HashMap<String, Issued>>,
    calls: Mutex<Vec<ApiCall>>,
}

impl SampleApi {
    /// Serves the API on a free port of 127.0.0.1 until `shutdown`; answers its address.
    pub(crate) async fn serve(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(self.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the sample API stopped");
            }
        });
        Ok(addr)
    }

    /// New basic credentials for a runtime (replacing any it had).
    pub(crate) fn issue(&self, runtime: Uuid) -> (String, String) {
        let simple = runtime.simple().to_string();
        let user = format!("rt-{}", simple.get(..8).unwrap_or(&simple));
        let password = Uuid::new_v4().simple().to_string();
        lock(&self.issued).insert(
            user.clone(),
            Issued {
                password: password.clone(),
                runtime,
            },
        );
        (user, password)
    }

    /// The password issued to a user, if any.
    pub(crate) fn password_of(&self, user: &str) -> Option<String> {
        lock(&self.issued).get(user).map(|i| i.password.clone())
    }

    /// The calls answered so far.
    pub(crate) fn calls(&self) -> Vec<ApiCall> {
        lock(&self.calls).clone()
    }

    /// The runtime valid credentials belong to.
    fn check(&self, user: &str, password: &str) -> Option<Uuid> {
        let issued = lock(&self.issued);
        let entry = issued.get(user)?;
        // Not a real secret store: the demo's credentials live for one run.
        (entry.password == password).then_some(entry.runtime)
    }
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

async fn answer(
    State(api): State<Arc<SampleApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let credentials = basic(&headers);
    let runtime = credentials
        .as_ref()
        .and_then(|(user, password)| api.check(user, password));
    let path = uri.path().to_owned();
    let (status, body) = match runtime {
        None => (
            StatusCode::UNAUTHORIZED,
            json!({"error": "credentials required: HTTP basic, as issued by the shop to a runtime"}),
        ),
        Some(runtime) if method == Method::GET && path == format!("{BASE_PATH}{ORDERS_PATH}") => (
            StatusCode::OK,
            json!({
                "orders": [
                    {"id": "o-1001", "item": "brass sextant", "quantity": 1},
                    {"id": "o-1002", "item": "nautical almanac", "quantity": 2}
                ],
                "caller": {
                    "user": credentials.as_ref().map(|(user, _)| user.clone()),
                    "runtime": runtime
                }
            }),
        ),
        Some(_) => (
            StatusCode::NOT_FOUND,
            json!({"error": format!("no {method} {path} here; try GET {BASE_PATH}{ORDERS_PATH}")}),
        ),
    };
    lock(&api.calls).push(ApiCall {
        method: method.to_string(),
        path,
        user: credentials.map(|(user, _)| user),
        runtime,
        status: status.as_u16(),
    });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"shop\""),
        );
    }
    response
}

/// What the application did with a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Being handled.
    Handling,
    /// A configuration change: the configuration was pulled; events go to `default_url`.
    Pulled { default_url: String },
    /// A credentials request: `setAPIAuth` set basic credentials for `user`.
    CredentialsSet { user: String },
    /// Handling failed (the listener answered 500; the management plane redelivers).
    Failed(String),
}

/// A notification the listener received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// When, since the demo started.
    pub after: Duration,
    pub event: WebhookEvent,
    pub outcome: Outcome,
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "+{:.1}s {} {} for runtime {}",
            self.after.as_secs_f64(),
            self.event.kind,
            self.event.id,
            self.event.runtime_id
        )?;
        if let Some(api) = self.event.api_definition_id {
            write!(f, ", API {api}")?;
        }
        match &self.outcome {
            Outcome::Handling => write!(f, ": being handled"),
            Outcome::Pulled { default_url } if default_url.is_empty() => {
                write!(f, ": pulled the configuration (no eventing URL yet)")
            }
            Outcome::Pulled { default_url } => {
                write!(f, ": pulled the configuration, defaultURL {default_url}")
            }
            Outcome::CredentialsSet { user } => {
                write!(f, ": answered with setAPIAuth (basic user {user})")
            }
            Outcome::Failed(error) => write!(f, ": handling failed: {error}"),
        }
    }
}

/// Everything the listener received since it started, in order of arrival.
pub(crate) struct Recorder {
    started: Instant,
    received: Mutex<Vec<Received>>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Recorder {
    pub(crate) fn new(started: Instant) -> Recorder {
        Recorder {
            started,
            received: Mutex::new(Vec::new()),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    fn push(&self, event: &WebhookEvent) -> usize {
        let index = {
            let mut received = lock(&self.received);
            received.push(Received {
                after: self.started.elapsed(),
                event: event.clone(),
                outcome: Outcome::Handling,
            });
            received.len() - 1
        };
        self.changed.send_modify(|n| *n += 1);
        index
    }

    fn settle(&self, index: usize, outcome: Outcome) {
        if let Some(entry) = lock(&self.received).get_mut(index) {
            entry.outcome = outcome;
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// What was received so far.
    pub(crate) fn snapshot(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// Waits until `find` finds something in what was received (checked at once, and after
    /// every change); on timeout, answers everything received.
    pub(crate) async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut find: impl FnMut(&[Received]) -> Option<T>,
    ) -> Result<T, Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changed.subscribe();
        loop {
            changes.mark_unchanged();
            if let Some(found) = find(&self.snapshot()) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(self.snapshot()),
            }
        }
    }
}

/// All of `received`, one per line, for a failure's description.
pub(crate) fn describe(received: &[Received]) -> String {
    if received.is_empty() {
        return "the listener received nothing".to_owned();
    }
    let lines: Vec<String> = received.iter().map(ToString::to_string).collect();
    format!(
        "the listener received:\n        {}",
        lines.join("\n        ")
    )
}

/// The sample application's webhook handler: credential requests are answered with
/// `setAPIAuth` and credentials the sample API issues for the runtime; configuration changes
/// with a pull of the configuration. Every notification is recorded.
pub(crate) struct DemoHandler {
    pub client: Arc<AppClient>,
    pub api: Arc<SampleApi>,
    pub recorder: Arc<Recorder>,
}

#[async_trait::async_trait]
impl WebhookHandler for DemoHandler {
    async fn handle(&self, event: &WebhookEvent) -> Result<(), String> {
        let index = self.recorder.push(event);
        let result = self.act(event).await;
        self.recorder.settle(
            index,
            match &result {
                Ok(outcome) => outcome.clone(),
                Err(error) => Outcome::Failed(error.clone()),
            },
        );
        result.map(|_| ())
    }
}

impl DemoHandler {
    async fn act(&self, event: &WebhookEvent) -> Result<Outcome, String> {
        if event.application_id != self.client.application_id() {
            return Err(format!(
                "the event is for application {}, this is {}",
                event.application_id,
                self.client.application_id()
            ));
        }
        match event.kind.as_str() {
            CONFIGURATION_CHANGED => {
                let config = self
                    .client
                    .pull_configuration(Some(event.runtime_id))
                    .await
                    .map_err(|e| sextant_app::chain(&e))?;
                Ok(Outcome::Pulled {
                    default_url: config.default_url,
                })
            }
            CREDENTIALS_REQUESTED => {
                let api = event
                    .api_definition_id
                    .ok_or("a credentials request without apiDefinitionID")?;
                let (user, password) = self.api.issue(event.runtime_id);
                let auth: Value =
                    json!({"credential": {"basic": {"username": user, "password": password}}});
                self.client
                    .set_api_auth(api, event.runtime_id, auth)
                    .await
                    .map_err(|e| sextant_app::chain(&e))?;
                Ok(Outcome::CredentialsSet { user })
            }
            other => Err(format!("unexpected event type {other}")),
        }
    }
}
