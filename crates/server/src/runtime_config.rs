//! Serving runtimes their configuration document over mTLS (`GET /runtime/configuration`)
//! and the specs it names (`GET /runtime/specs/{sha256}`).
//!
//! The steady state costs no statement: a certificate checked once is remembered until a
//! certificate is revoked or a client deleted (anywhere: the store announces it, and the
//! revocation watcher sees other servers' revocations); a document is built once per
//! configuration epoch, from parts runtimes share (`config_cache.rs`). A request whose
//! `If-None-Match` names the current version is answered 304 from memory; with `?wait=N`
//! (seconds, at most 60) it is held until the version changes or the time is up, woken by the
//! tenant's epoch (on PostgreSQL also when another replica commits the change). Woken long
//! polls answer in waves (`ConfigCache::wake_turn`), so a change that wakes a fleet does not
//! queue other requests behind all of it.
//!
//! The document is sent gzip-encoded to clients that accept it (assembled from pieces
//! compressed once, nothing compressed per request), with a weak `ETag` of the same version:
//! the content is the same, its encoding is not.
//!
//! Every answer is noted in memory (`agent_sightings.rs`: when the agent was last seen, the
//! epoch of the document it holds, requests per minute) and written in batches.
//!
//! A document names its specs by hash and holds no spec text, so what the server keeps per
//! runtime does not grow with the specs. A spec is read from the store when a runtime whose
//! document names it asks, through one spec cache shared by all runtimes (bounded in bytes,
//! in `config_cache.rs`), and is sent gzip-compressed to clients that accept it.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_auth::AuthError;
use sextant_domain::runtime_config::MAX_WAIT_SECONDS;
use sextant_domain::{RuntimeId, SystemAuthOwner, TenantId};

use sextant_director::runtime_config::compose::ComposedDocument;

use crate::config_cache::CachedDocument;
use crate::context::AppState;
use crate::peer::client_leaf;
use crate::response::ApiError;

/// Whether `Accept-Encoding` accepts gzip (listed without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

pub(crate) enum Refusal {
    Auth(AuthError),
    NotARuntime,
}

impl Refusal {
    /// The error answered; `not_a_runtime` says what only a runtime may do here.
    pub(crate) fn error(self, not_a_runtime: &str) -> ApiError {
        match self {
            Refusal::Auth(e) => ApiError::certificate_refused(e),
            Refusal::NotARuntime => ApiError::Forbidden(not_a_runtime.to_owned()),
        }
    }
}

/// How long a woken long poll that gets a new document holds its turn at least: with
/// `ConfigCache::wake_turn`'s turns, at most 16 per millisecond are answered, so the fetches
/// and polls that follow are spread out too and other requests (an administrator's writes,
/// health checks) find the server between waves.
const WAKE_PACE: Duration = Duration::from_millis(1);

/// Why the configuration and the specs refuse a certificate that is not a runtime's.
const RUNTIMES_ONLY: &str = "only a runtime's certificate reads a runtime configuration";

/// The runtime a client certificate stands for, from memory while nothing was revoked.
pub(crate) async fn runtime_of(
    state: &AppState,
    peer: Option<&sextant_tls::PeerCertificates>,
) -> Result<(RuntimeId, TenantId), Refusal> {
    let client = state
        .config_cache
        .certificate_client(state.store.as_ref(), client_leaf(peer))
        .await
        .map_err(Refusal::Auth)?;
    match client.auth.owner {
        SystemAuthOwner::Runtime(runtime) => Ok((runtime, client.tenant)),
        _ => Err(Refusal::NotARuntime),
    }
}

/// The runtime's document as of now (`config_cache.rs`: built once per epoch).
pub(crate) async fn document(
    state: &AppState,
    runtime: RuntimeId,
    tenant: TenantId,
) -> Result<CachedDocument, ApiError> {
    state
        .config_cache
        .document(&state.store, runtime, tenant)
        .await
}

#[derive(serde::Deserialize)]
pub struct ConfigQuery {
    /// Long poll: hold the request up to this many seconds while the version is unchanged.
    wait: Option<u64>,
}

fn etag(version: &str) -> String {
    format!("\"{version}\"")
}

/// Whether `If-None-Match` names this version (a list, weak or strong, or `*`).
fn matches(headers: &HeaderMap, version: &str) -> bool {
    let wanted = etag(version);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == wanted || tag == "*")
}

/// `GET /runtime/configuration[?wait=seconds]`.
pub async fn configuration(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    Query(query): Query<ConfigQuery>,
    headers: HeaderMap,
) -> Response {
    let peer = peer.map(|p| p.0);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_SECONDS));
    let deadline = tokio::time::Instant::now() + wait;
    let gzip = accepts_gzip(&headers);
    let mut woken = false;
    loop {
        // A change woke this poll: wait for a turn (released when this answer is made, and
        // held at least `WAKE_PACE`, so a woken fleet is answered in paced waves).
        let turn = if woken {
            state.config_cache.wake_turn().await
        } else {
            None
        };
        let turn_started = tokio::time::Instant::now();
        let (runtime, tenant) = match runtime_of(&state, peer.as_ref()).await {
            Ok(found) => found,
            Err(refusal) => return refusal.error(RUNTIMES_ONLY).into_response(),
        };
        // Subscribed before reading the document: a change after the read wakes us.
        let mut changes = state.store.config_epochs().subscribe(tenant);
        changes.borrow_and_update();
        let doc = match document(&state, runtime, tenant).await {
            Ok(doc) => doc,
            Err(e) => return e.into_response(),
        };
        let Some(built) = &doc.built else {
            return ApiError::NotFound("the runtime does not exist".into()).into_response();
        };
        if !matches(&headers, built.version()) {
            // The agent gets the document of this epoch.
            state.agents.saw(tenant, runtime, doc.epoch);
            state.agents.answered(tenant);
            let response = document_response(built, gzip);
            if turn.is_some() {
                tokio::time::sleep_until(turn_started + WAKE_PACE).await;
            }
            return response;
        }
        // The agent holds this epoch's document (its ETag names its version); remembered in
        // memory, written later in a batch: a 304 still costs no statement.
        state.agents.saw(tenant, runtime, doc.epoch);
        let not_modified = || {
            state.agents.answered(tenant);
            (
                StatusCode::NOT_MODIFIED,
                [(
                    header::ETAG,
                    HeaderValue::from_str(&etag(built.version()))
                        .unwrap_or(HeaderValue::from_static("\"\"")),
                )],
            )
                .into_response()
        };
        drop(turn);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return not_modified();
                }
                woken = true;
                state.config_cache.prefetch(&state.store, runtime, tenant);
            }
            _ = tokio::time::sleep_until(deadline) => return not_modified(),
        }
    }
}

/// A 200 with the document, gzip-encoded if the client accepts it.
fn document_response(built: &ComposedDocument, gzip: bool) -> Response {
    let (body, tag) = if gzip {
        (built.gzip(), format!("W/{}", etag(built.version())))
    } else {
        (built.json(), etag(built.version()))
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
            (
                header::ETAG,
                HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
            ),
        ],
        body,
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /runtime/specs/{sha256}`: a spec the runtime's current document names (gzip-encoded
/// if the client accepts it).
pub async fn spec(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (runtime, tenant) = match runtime_of(&state, peer.as_ref().map(|p| &p.0)).await {
        Ok(found) => found,
        Err(refusal) => return refusal.error(RUNTIMES_ONLY).into_response(),
    };
    let doc = match document(&state, runtime, tenant).await {
        Ok(doc) => doc,
        Err(e) => return e.into_response(),
    };
    let named = doc
        .built
        .as_ref()
        .is_some_and(|built| built.names_spec(&sha256));
    drop(doc);
    let not_found = || {
        ApiError::NotFound("no spec of this runtime's configuration has this hash".into())
            .into_response()
    };
    if !named {
        return not_found();
    }
    let gzip = accepts_gzip(&headers);
    let spec = match state
        .config_cache
        .spec(state.store.as_ref(), &sha256, gzip)
        .await
    {
        Ok(Some(spec)) => spec,
        // Deleted since the document was built.
        Ok(None) => return not_found(),
        Err(e) => return e.into_response(),
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            ),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        match (&spec.gzip, gzip) {
            (Some(compressed), true) => compressed.clone(),
            _ => spec.text.clone(),
        },
    )
        .into_response();
    if gzip && spec.gzip.is_some() {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}
