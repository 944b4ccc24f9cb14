//! The Application Webhook API, the application's side: the management plane notifies the
//! application, which verifies the notification and acts on it.
//!
//! # The contract
//!
//! `POST` (any path) with `Content-Type: application/json` and the body
//!
//! ```json
//! {"id": "<uuid>", "type": "CONFIGURATION_CHANGED" | "CREDENTIALS_REQUESTED",
//!  "tenant": "<uuid>", "applicationID": "<uuid>", "runtimeID": "<uuid>",
//!  "apiDefinitionID": "<uuid>" | null, "time": "<RFC 3339>"}
//! ```
//!
//! (a `TEST` event, sent on request by `sendTestWebhookEvent`, has the same shape with the nil
//! UUID as its `runtimeID`; this listener acknowledges it as a type it does not handle),
//! and the headers `Sextant-Event-Id: <id>`, `Sextant-Event-Type: <type>`,
//! `Sextant-Timestamp: <unix seconds>` and `Sextant-Signature: v1=<lowercase hex
//! HMAC-SHA256(secret, "<timestamp>.<raw body>")>` (several comma-separated `v1=` values are
//! accepted, any one matching, for a secret being rotated). The secret is the webhook's.
//!
//! Answers:
//! - 401: the signature is missing or wrong, or the timestamp is more than
//!   [`MAX_SKEW_SECONDS`] away from now; nothing is done.
//! - 400: the body is not such an event (or its id differs from `Sextant-Event-Id`).
//! - 200 `{"status": "handled"}` once the handler succeeded; `{"status": "duplicate"}` for an
//!   id handled before (nothing is done again); `{"status": "ignored"}` for a type this
//!   listener does not know (acknowledged so it is not redelivered forever).
//! - 409: the same id is being handled right now (redeliver later).
//! - 500 `{"error": …}`: the handler failed; the management plane should redeliver.
//!
//! The ids handled are kept (the last [`MAX_SEEN`]) in memory and, with a state directory,
//! in `webhook-events.json`, so a redelivery after a restart is recognised too.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sextant_client::StateDir;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::AppClient;
use crate::error::AppError;
use crate::state::EVENTS_FILE;

/// `CONFIGURATION_CHANGED`: a runtime of the application's scenarios became ready, changed
/// its eventing URL, joined or left a scenario, or was deleted.
pub const CONFIGURATION_CHANGED: &str = "CONFIGURATION_CHANGED";
/// `CREDENTIALS_REQUESTED`: a runtime needs credentials for one of the application's APIs.
pub const CREDENTIALS_REQUESTED: &str = "CREDENTIALS_REQUESTED";
/// The event id header.
pub const EVENT_ID_HEADER: &str = "Sextant-Event-Id";
/// The event type header.
pub const EVENT_TYPE_HEADER: &str = "Sextant-Event-Type";
/// The timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "Sextant-Timestamp";
/// The signature header (`v1=<hex>`).
pub const SIGNATURE_HEADER: &str = "Sextant-Signature";
/// How far a timestamp may be from now.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// How many handled event ids are remembered.
pub const MAX_SEEN: usize = 10_000;
/// The largest notification read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A notification from the management plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The event's id (the same for every redelivery).
    pub id: Uuid,
    /// [`CONFIGURATION_CHANGED`], [`CREDENTIALS_REQUESTED`], or a type added later.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tenant.
    pub tenant: Uuid,
    /// The application notified.
    #[serde(rename = "applicationID")]
    pub application_id: Uuid,
    /// The runtime concerned.
    #[serde(rename = "runtimeID")]
    pub runtime_id: Uuid,
    /// The API definition concerned (credential requests).
    #[serde(rename = "apiDefinitionID", default)]
    pub api_definition_id: Option<Uuid>,
    /// When the event happened (RFC 3339).
    pub time: String,
}

/// What an application does with a notification.
#[async_trait::async_trait]
pub trait WebhookHandler: Send + Sync + 'static {
    /// Handles a verified event seen for the first time; `Err` makes the listener answer 500
    /// so the management plane redelivers it.
    async fn handle(&self, event: &WebhookEvent) -> Result<(), String>;
}

/// `v1=<hex>` for a body: what the management plane sends in [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    let tag = aws_lc_rs::hmac::sign(&key, &message);
    format!("v1={}", sextant_client::certs::hex(tag.as_ref()))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a notification is refused before it is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No timestamp, or not a number.
    #[error("missing or malformed {TIMESTAMP_HEADER}")]
    Timestamp,
    /// The timestamp is too far from now.
    #[error("{TIMESTAMP_HEADER} is more than {MAX_SKEW_SECONDS} s away from now")]
    Stale,
    /// No signature, or none matches.
    #[error("missing or wrong {SIGNATURE_HEADER}")]
    Signature,
}

/// Checks a notification's timestamp and signature (in constant time) against `secret`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), Refusal> {
    let timestamp = timestamp.ok_or(Refusal::Timestamp)?.trim();
    let seconds: i64 = timestamp.parse().map_err(|_| Refusal::Timestamp)?;
    if (now_unix - seconds).abs() > MAX_SKEW_SECONDS {
        return Err(Refusal::Stale);
    }
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    let header = signature_header.ok_or(Refusal::Signature)?;
    let matched = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(unhex)
        .any(|tag| aws_lc_rs::hmac::verify(&key, &message, &tag).is_ok());
    if matched {
        Ok(())
    } else {
        Err(Refusal::Signature)
    }
}

/// The event ids handled, and those being handled.
struct Seen {
    order: VecDeque<Uuid>,
    set: HashSet<Uuid>,
    in_flight: HashSet<Uuid>,
    file: Option<(StateDir, PathBuf)>,
}

impl Seen {
    fn remember(&mut self, id: Uuid) {
        if self.set.insert(id) {
            self.order.push_back(id);
        }
        while self.order.len() > MAX_SEEN {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        if let Some((dir, path)) = &self.file
            && let Err(e) = dir.write_json(EVENTS_FILE, &self.order)
        {
            tracing::warn!(error = %sextant_client::chain(&e), file = %path.display(), "cannot record the handled webhook event ids");
        }
    }
}

struct Inner {
    secret: Vec<u8>,
    handler: Arc<dyn WebhookHandler>,
    seen: Mutex<Seen>,
}

/// Serves the Application Webhook API (see the module documentation).
#[derive(Clone)]
pub struct WebhookListener {
    inner: Arc<Inner>,
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

impl WebhookListener {
    /// A listener verifying with `secret` and handing events to `handler`; with a
    /// `state_dir`, the ids handled are kept in its `webhook-events.json` across restarts.
    pub fn new(
        secret: impl Into<Vec<u8>>,
        handler: Arc<dyn WebhookHandler>,
        state_dir: Option<&Path>,
    ) -> Result<WebhookListener, AppError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(AppError::Input("the webhook secret is empty".into()));
        }
        let (order, file) = match state_dir {
            Some(root) => {
                let dir = StateDir::open(root, &[])?;
                let order: VecDeque<Uuid> = dir.read_json(EVENTS_FILE)?.unwrap_or_default();
                let path = dir.path(EVENTS_FILE);
                (order, Some((dir, path)))
            }
            None => (VecDeque::new(), None),
        };
        let set = order.iter().copied().collect();
        Ok(WebhookListener {
            inner: Arc::new(Inner {
                secret,
                handler,
                seen: Mutex::new(Seen {
                    order,
                    set,
                    in_flight: HashSet::new(),
                    file,
                }),
            }),
        })
    }

    /// The listener as a router (mount it where the webhook URL points; any path).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", post(receive))
            .route("/{*path}", post(receive))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.inner.clone())
    }

    /// Serves plain HTTP on `listener` until `shutdown`.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }

    /// Binds `addr` and serves in a task; answers the bound address.
    pub async fn spawn(
        &self,
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> Result<SocketAddr, AppError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| AppError::Input(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| AppError::Input(format!("cannot listen on {addr}: {e}")))?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.serve(listener, shutdown).await {
                tracing::error!(error = %e, "the webhook listener stopped");
            }
        });
        Ok(bound)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(refusal) = verify(
        &inner.secret,
        header(&headers, TIMESTAMP_HEADER),
        header(&headers, SIGNATURE_HEADER),
        &body,
        now,
    ) {
        tracing::warn!(%refusal, "refused a webhook notification");
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": refusal.to_string()}),
        );
    }
    let event: WebhookEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("not a webhook event: {e}")}),
            );
        }
    };
    if let Some(id) = header(&headers, EVENT_ID_HEADER)
        && id.trim() != event.id.to_string()
    {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("{EVENT_ID_HEADER} differs from the body's id")}),
        );
    }
    {
        let mut seen = inner.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.set.contains(&event.id) {
            tracing::info!(id = %event.id, kind = %event.kind, "a webhook event handled before: acknowledged again");
            return answer(
                StatusCode::OK,
                json!({"status": "duplicate", "id": event.id}),
            );
        }
        if !seen.in_flight.insert(event.id) {
            return answer(
                StatusCode::CONFLICT,
                json!({"error": "this event is being handled; redeliver later"}),
            );
        }
    }
    let known = event.kind == CONFIGURATION_CHANGED || event.kind == CREDENTIALS_REQUESTED;
    let result = if known {
        tracing::info!(id = %event.id, kind = %event.kind, runtime = %event.runtime_id, "handling a webhook event");
        inner.handler.handle(&event).await
    } else {
        tracing::warn!(id = %event.id, kind = %event.kind, "ignoring a webhook event of an unknown type");
        Ok(())
    };
    let mut seen = inner.seen.lock().unwrap_or_else(PoisonError::into_inner);
    seen.in_flight.remove(&event.id);
    match result {
        Ok(()) => {
            seen.remember(event.id);
            let status = if known { "handled" } else { "ignored" };
            answer(StatusCode::OK, json!({"status": status, "id": event.id}))
        }
        Err(error) => {
            tracing::warn!(id = %event.id, kind = %event.kind, %error, "handling a webhook event failed");
            answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": error}))
        }
    }
}

/// Where credentials for a runtime come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// A program (and its arguments, split on whitespace, no shell) run per request with
    /// `SEXTANT_API_ID`, `SEXTANT_RUNTIME_ID`, `SEXTANT_APPLICATION_ID` and `SEXTANT_TENANT`
    /// set; its stdout is an `AuthInput` as JSON. Exit status 0 is required.
    Command(Vec<String>),
    /// A file holding an `AuthInput` as JSON (read per request).
    File(PathBuf),
}

/// How long a credentials command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl CredentialSource {
    /// `CMD` of `--credentials-command`: split on whitespace.
    pub fn command(text: &str) -> Result<CredentialSource, AppError> {
        let argv: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        if argv.is_empty() {
            return Err(AppError::Input("the credentials command is empty".into()));
        }
        Ok(CredentialSource::Command(argv))
    }

    /// Produces the `AuthInput` for an event.
    pub async fn credentials(&self, event: &WebhookEvent, api: Uuid) -> Result<Value, String> {
        let text = match self {
            CredentialSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            CredentialSource::Command(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or("the credentials command is empty")?;
                let child = tokio::process::Command::new(program)
                    .args(args)
                    .env("SEXTANT_API_ID", api.to_string())
                    .env("SEXTANT_RUNTIME_ID", event.runtime_id.to_string())
                    .env("SEXTANT_APPLICATION_ID", event.application_id.to_string())
                    .env("SEXTANT_TENANT", event.tenant.to_string())
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| format!("cannot run {program}: {e}"))?;
                let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
                    .await
                    .map_err(|_| format!("{program} took longer than {COMMAND_TIMEOUT:?}"))?
                    .map_err(|e| format!("{program}: {e}"))?;
                if !output.status.success() {
                    return Err(format!("{program} failed ({})", output.status));
                }
                output.stdout
            }
        };
        if text.len() > MAX_BODY_BYTES {
            return Err("the credentials are too large".into());
        }
        let auth: Value = serde_json::from_slice(&text)
            .map_err(|e| format!("the credentials are not JSON: {e}"))?;
        if !auth.is_object() {
            return Err("the credentials must be an AuthInput object".into());
        }
        Ok(auth)
    }
}

/// The handler of `sextant app listen`: answers credential requests with `setAPIAuth` (with
/// credentials from `credentials`) and configuration changes by pulling the configuration.
pub struct ClientHandler {
    /// The paired application.
    pub client: Arc<AppClient>,
    /// Where credentials come from; without it credential requests fail (500).
    pub credentials: Option<CredentialSource>,
}

#[async_trait::async_trait]
impl WebhookHandler for ClientHandler {
    async fn handle(&self, event: &WebhookEvent) -> Result<(), String> {
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
                    .map_err(|e| sextant_client::chain(&e))?;
                tracing::info!(default_url = %config.default_url, "pulled the configuration");
                Ok(())
            }
            CREDENTIALS_REQUESTED => {
                let api = event
                    .api_definition_id
                    .ok_or("a credentials request without apiDefinitionID")?;
                let source = self
                    .credentials
                    .as_ref()
                    .ok_or("no credentials source is configured")?;
                let auth = source.credentials(event, api).await?;
                self.client
                    .set_api_auth(api, event.runtime_id, auth)
                    .await
                    .map_err(|e| sextant_client::chain(&e))?;
                tracing::info!(%api, runtime = %event.runtime_id, "set the runtime's credentials");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signatures_verify_in_their_window_only() {
        // The management plane's vector (Python's hmac module): secret "secret", "1700000000.{}".
        assert_eq!(
            signature(b"secret", "1700000000", b"{}"),
            "v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        let body = br#"{"id":"x"}"#;
        let sig = signature(b"s3cret", "1700000000", body);
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        let ok = |ts: &str, sig: &str, now: i64| verify(b"s3cret", Some(ts), Some(sig), body, now);
        assert_eq!(ok("1700000000", &sig, 1_700_000_100), Ok(()));
        assert_eq!(
            ok("1700000000", &format!("v1=00, {sig}"), 1_700_000_000),
            Ok(())
        );
        assert_eq!(ok("1700000000", &sig, 1_700_000_301), Err(Refusal::Stale));
        assert_eq!(
            ok("1700000001", &sig, 1_700_000_000),
            Err(Refusal::Signature)
        );
        assert_eq!(ok("x", &sig, 0), Err(Refusal::Timestamp));
        assert_eq!(
            ok("1700000000", &sig.to_uppercase(), 1_700_000_000),
            Err(Refusal::Signature)
        );
        assert_eq!(
            verify(
                b"other",
                Some("1700000000"),
                Some(&sig),
                body,
                1_700_000_000
            ),
            Err(Refusal::Signature)
        );
        assert_eq!(
            verify(b"s3cret", Some("1700000000"), None, body, 1_700_000_000),
            Err(Refusal::Signature)
        );
    }
}
