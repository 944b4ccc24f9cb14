//! The event gateway: applications paired with the management plane post events to the
//! runtime's `eventURL` with their client certificate, and the gateway hands each event to
//! the runtime's subscribers, a local [`EventSink`].
//!
//! - `POST /<application>/v1/events` (Kyma's event service path) and `POST /v1/events`.
//! - The TLS layer (set up by the agent, see `sextant-agent`) already required a client
//!   certificate of the management plane's client CA(s), not on its CRL. Its CN is a client id
//!   (the application's system auth), so the gateway asks [`ResolveClient`] which application
//!   it stands for (an answer is remembered: a client never changes owner), then requires
//!   that application in the **currently applied** configuration, read on every event: an
//!   application that leaves the runtime's scenarios is refused from the next event on. A path
//!   that names an application must name the caller's own.
//! - The body is a Kyma event (`event-type`, `event-type-version`, optional `event-id`, a
//!   UUID made up when missing, `event-time` in RFC 3339, `data`), at most [`MAX_EVENT_BYTES`].
//! - 200 `{"event-id": …}` only once the sink has accepted the event; a sink failure is 502,
//!   so the application can retry. Nothing acknowledged is lost (the file sink syncs first).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};
use sextant_domain::runtime_config::ConfiguredApplication;
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use crate::ConfigurationFeed;

/// The largest event accepted.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// How long a command or HTTP sink may take to accept an event.
const SINK_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many client → application answers are remembered.
const MAX_REMEMBERED: usize = 10_000;

/// Where events go: the runtime's subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventSink {
    /// `file:<path>`: one JSON line per event, appended and synced before the event is
    /// acknowledged.
    File(PathBuf),
    /// `command:<program> <args…>`: the program runs once per event (no shell; arguments
    /// split on whitespace) with the event's JSON on stdin; exit status 0 accepts it.
    Command(Vec<String>),
    /// `http://…` or `https://…`: the event's JSON is POSTed there; a 2xx accepts it.
    Http(url::Url),
}

/// Why a sink specification is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event sink {spec:?}: {reason}")]
pub struct SinkSpecError {
    spec: String,
    reason: &'static str,
}

impl std::str::FromStr for EventSink {
    type Err = SinkSpecError;

    fn from_str(spec: &str) -> Result<EventSink, SinkSpecError> {
        let error = |reason| SinkSpecError {
            spec: spec.to_owned(),
            reason,
        };
        if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err(error("the file path is empty"));
            }
            return Ok(EventSink::File(PathBuf::from(path)));
        }
        if let Some(command) = spec.strip_prefix("command:") {
            let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if words.is_empty() {
                return Err(error("the command is empty"));
            }
            return Ok(EventSink::Command(words));
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            let url = url::Url::parse(spec).map_err(|_| error("not a URL"))?;
            return Ok(EventSink::Http(url));
        }
        Err(error(
            "expected file:<path>, command:<program and arguments>, or an http(s) URL",
        ))
    }
}

/// A sink ready to deliver.
struct Delivery {
    sink: EventSink,
    /// Serializes appends to the file sink, so lines never interleave.
    file: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

impl Delivery {
    async fn deliver(&self, event: &[u8]) -> Result<(), String> {
        match &self.sink {
            EventSink::File(path) => {
                let _one_at_a_time = self.file.lock().await;
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .await
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                let mut line = event.to_vec();
                line.push(b'\n');
                file.write_all(&line)
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                file.sync_data()
                    .await
                    .map_err(|e| format!("cannot sync {}: {e}", path.display()))
            }
            EventSink::Command(words) => {
                let (program, args) = words.split_first().ok_or("the command is empty")?;
                let mut child = tokio::process::Command::new(program)
                    .args(args)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| format!("cannot run {program}: {e}"))?;
                let run = async {
                    if let Some(mut stdin) = child.stdin.take() {
                        stdin
                            .write_all(event)
                            .await
                            .map_err(|e| format!("cannot write to {program}: {e}"))?;
                        // Closing stdin ends the program's input.
                        drop(stdin);
                    }
                    child
                        .wait()
                        .await
                        .map_err(|e| format!("{program} failed: {e}"))
                };
                match tokio::time::timeout(SINK_TIMEOUT, run).await {
                    Ok(Ok(status)) if status.success() => Ok(()),
                    Ok(Ok(status)) => Err(format!("{program} refused the event ({status})")),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(format!("{program} did not finish within {SINK_TIMEOUT:?}")),
                }
            }
            EventSink::Http(url) => {
                let response = self
                    .http
                    .post(url.clone())
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(event.to_vec())
                    .send()
                    .await
                    .map_err(|e| format!("the event sink {url} cannot be reached: {e}"))?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!(
                        "the event sink {url} refused the event (HTTP {})",
                        response.status().as_u16()
                    ))
                }
            }
        }
    }
}

/// What [`ResolveClient`] answers.
pub type Resolved = Pin<Box<dyn Future<Output = Result<Option<Uuid>, String>> + Send>>;

/// Which application a client id (a client certificate's CN) stands for, as the management
/// plane says: `Ok(None)` when it is no application of this runtime's configuration, `Err`
/// when it cannot be told now.
pub type ResolveClient = Arc<dyn Fn(Uuid) -> Resolved + Send + Sync>;

#[derive(Clone)]
struct Events {
    configuration: ConfigurationFeed,
    resolve: ResolveClient,
    /// Client id → application id, as resolved before.
    known: Arc<Mutex<HashMap<Uuid, Uuid>>>,
    delivery: Arc<Delivery>,
}

/// The event gateway's routes, to be served over TLS requiring client certificates of the
/// management plane's client CA (e.g. with `sextant_tls::serve`, which provides the
/// verified chain as a `PeerCertificates` extension).
pub fn event_gateway(
    configuration: ConfigurationFeed,
    sink: EventSink,
    resolve: ResolveClient,
) -> Result<Router, String> {
    let http = reqwest::Client::builder()
        .timeout(SINK_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client of the event sink: {e}"))?;
    Ok(Router::new()
        .route("/v1/events", post(any_path))
        .route("/{application}/v1/events", post(named_path))
        .with_state(Events {
            configuration,
            resolve,
            known: Arc::default(),
            delivery: Arc::new(Delivery {
                sink,
                file: tokio::sync::Mutex::new(()),
                http,
            }),
        }))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": message, "status": status.as_u16()})),
    )
        .into_response()
}

async fn any_path(
    State(events): State<Events>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    body: Body,
) -> Response {
    publish(events, peer.map(|p| p.0), None, body).await
}

async fn named_path(
    State(events): State<Events>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    Path(application): Path<String>,
    body: Body,
) -> Response {
    publish(events, peer.map(|p| p.0), Some(application), body).await
}

/// The caller's application in the current configuration, or the refusal.
async fn caller(
    events: &Events,
    peer: Option<sextant_tls::PeerCertificates>,
) -> Result<(ConfiguredApplication, Uuid), Response> {
    let leaf = peer
        .as_ref()
        .and_then(|p| p.0.first())
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "a client certificate is required"))?;
    let client = sextant_pki::client_certificate_identity(leaf.as_ref())
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, &e.to_string()))?
        .client_id;
    let remembered = events
        .known
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&client)
        .copied();
    let application = match remembered {
        Some(application) => application,
        None => match (events.resolve)(client).await {
            Ok(Some(application)) => {
                let mut known = events.known.lock().unwrap_or_else(PoisonError::into_inner);
                if known.len() >= MAX_REMEMBERED {
                    known.clear();
                }
                known.insert(client, application);
                application
            }
            Ok(None) => {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "the caller is not an application of this runtime's configuration",
                ));
            }
            Err(e) => {
                tracing::warn!(%client, error = %e, "cannot tell which application a client is");
                return Err(refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the caller cannot be checked now; try again",
                ));
            }
        },
    };
    // The configuration as of now: an application removed from it is refused at once.
    let current = events.configuration.borrow().clone();
    let Some(configuration) = current else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime has no configuration yet",
        ));
    };
    configuration
        .applications
        .iter()
        .find(|app| app.id == application)
        .cloned()
        .map(|app| (app, configuration.runtime_id))
        .ok_or_else(|| {
            refuse(
                StatusCode::FORBIDDEN,
                "the caller is not an application of this runtime's configuration",
            )
        })
}

async fn publish(
    events: Events,
    peer: Option<sextant_tls::PeerCertificates>,
    named: Option<String>,
    body: Body,
) -> Response {
    // Who is calling first: nobody else's body is read.
    let (application, runtime) = match caller(&events, peer).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Some(named) = named
        && named != application.name.as_str()
        && named != application.id.to_string()
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "an application posts its own events only: the path names another application",
        );
    }
    let Ok(bytes) = to_bytes(body, MAX_EVENT_BYTES).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("an event is at most {MAX_EVENT_BYTES} bytes"),
        );
    };
    let mut event = match parse_event(&bytes) {
        Ok(event) => event,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let event_id = match event.get("event-id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => {
            let id = Uuid::new_v4().to_string();
            event.insert("event-id".into(), Value::String(id.clone()));
            id
        }
    };
    event.insert("application-id".into(), json!(application.id));
    event.insert("application-name".into(), json!(application.name));
    event.insert("runtime-id".into(), json!(runtime));
    let delivered = match serde_json::to_vec(&Value::Object(event)) {
        Ok(bytes) => bytes,
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    match events.delivery.deliver(&delivered).await {
        Ok(()) => axum::Json(json!({"event-id": event_id})).into_response(),
        Err(e) => {
            tracing::warn!(application = %application.id, error = %e, "the event sink refused an event");
            refuse(
                StatusCode::BAD_GATEWAY,
                "the runtime's event sink did not accept the event; try again",
            )
        }
    }
}

/// Checks a Kyma event and answers its fields (only the known ones).
fn parse_event(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the event is not JSON: {e}"))?;
    let Value::Object(mut fields) = value else {
        return Err("the event is not a JSON object".into());
    };
    let text = |fields: &Map<String, Value>, name: &str| -> Result<Option<String>, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let event_type = text(&fields, "event-type")?.ok_or("event-type is required")?;
    if event_type.is_empty()
        || event_type.len() > 253
        || !event_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("event-type must be 1 to 253 letters, digits, '.', '-' or '_'".into());
    }
    let version = text(&fields, "event-type-version")?.ok_or("event-type-version is required")?;
    if version.is_empty()
        || version.len() > 64
        || !version.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err("event-type-version must be 1 to 64 letters or digits (e.g. v1)".into());
    }
    if let Some(id) = text(&fields, "event-id")?
        && (id.is_empty() || id.len() > 256 || id.chars().any(char::is_control))
    {
        return Err("event-id must be 1 to 256 printable characters".into());
    }
    let time = text(&fields, "event-time")?.ok_or("event-time is required")?;
    time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "event-time must be an RFC 3339 time, e.g. 2019-12-24T18:00:00Z")?;
    match fields.get("data") {
        None | Some(Value::Null) => return Err("data is required".into()),
        Some(_) => {}
    }
    fields.retain(|name, _| {
        matches!(
            name.as_str(),
            "event-type" | "event-type-version" | "event-id" | "event-time" | "data"
        )
    });
    if fields.get("event-id").is_some_and(Value::is_null) {
        fields.remove("event-id");
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_parse() {
        assert_eq!(
            "file:/tmp/events.jsonl".parse::<EventSink>(),
            Ok(EventSink::File("/tmp/events.jsonl".into()))
        );
        assert_eq!(
            "command:/bin/sh -c true".parse::<EventSink>(),
            Ok(EventSink::Command(vec![
                "/bin/sh".into(),
                "-c".into(),
                "true".into()
            ]))
        );
        assert!(matches!(
            "http://127.0.0.1:9/events".parse::<EventSink>(),
            Ok(EventSink::Http(_))
        ));
        for bad in ["file:", "command:  ", "ftp://x", "events.jsonl"] {
            assert!(bad.parse::<EventSink>().is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_checked() {
        let good = json!({"event-type": "order.created", "event-type-version": "v1",
            "event-time": "2019-12-24T18:00:00Z", "data": {"id": 1}, "extra": 1});
        let parsed = parse_event(good.to_string().as_bytes()).unwrap();
        assert!(!parsed.contains_key("extra"));
        for (field, value, message) in [
            ("event-type", json!(null), "event-type is required"),
            ("event-type", json!("a b"), "event-type must"),
            ("event-type-version", json!(1), "must be a string"),
            ("event-time", json!("yesterday"), "RFC 3339"),
            ("data", json!(null), "data is required"),
            ("event-id", json!(""), "event-id must"),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            let error = parse_event(bad.to_string().as_bytes()).unwrap_err();
            assert!(error.contains(message), "{field}: {error}");
        }
        assert!(parse_event(b"[]").is_err());
        assert!(parse_event(b"{").is_err());
    }
}
