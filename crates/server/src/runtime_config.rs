//! Serving runtimes their configuration document over mTLS (`GET /runtime/configuration`)
//! and the specs it names (`GET /runtime/specs/{sha256}`).
//!
//! The steady state costs no statement: a certificate checked once is remembered until its
//! tenant's configuration epoch moves (every change of the tenant raises it, revocations
//! included) or the revocation watcher sees a change; a document built once is remembered
//! with the epoch it was built at. A request whose `If-None-Match` names the current version
//! is answered 304 from memory; with `?wait=N` (seconds, at most 60) it is held until the
//! version changes or the time is up, woken by the tenant's epoch (on PostgreSQL also when
//! another replica commits the change).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_auth::AuthError;
use sextant_director::runtime_config::BuiltConfiguration;
use sextant_domain::runtime_config::MAX_WAIT_SECONDS;
use sextant_domain::{SystemAuthOwner, TenantId};
use uuid::Uuid;

use crate::http::{AppState, certificate_client, error_body};

/// At most this many certificates and documents are remembered; beyond, the memory is
/// cleared (and refilled by the next requests).
const MAX_CACHED: usize = 100_000;

/// What the server remembers between requests.
#[derive(Default)]
pub struct ConfigCache {
    /// Certificates found valid: serial → (runtime, tenant, epoch when checked, revocation
    /// generation when checked). Only runtimes are remembered.
    identities: Mutex<HashMap<Vec<u8>, CachedIdentity>>,
    /// Runtime → its last built document.
    documents: Mutex<HashMap<Uuid, Arc<CachedDocument>>>,
    /// Raised by the revocation watcher whenever the set of revoked certificates changed (a
    /// revocation through another replica, found by polling).
    revocations: AtomicU64,
}

#[derive(Clone, Copy)]
struct CachedIdentity {
    runtime: Uuid,
    tenant: TenantId,
    epoch: u64,
    revocations: u64,
}

pub(crate) struct CachedDocument {
    epoch: u64,
    /// `None`: the runtime does not exist.
    pub(crate) built: Option<BuiltConfiguration>,
}

impl ConfigCache {
    /// Forgets every remembered certificate (the revoked set changed).
    pub fn revocations_changed(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) enum Refusal {
    Auth(AuthError),
    NotARuntime,
}

impl Refusal {
    pub(crate) fn response(self) -> Response {
        match self {
            Refusal::Auth(AuthError::Unavailable(m)) => {
                error_body(StatusCode::SERVICE_UNAVAILABLE, &m)
            }
            Refusal::Auth(AuthError::Forbidden(m)) => error_body(StatusCode::FORBIDDEN, &m),
            Refusal::Auth(e) => error_body(StatusCode::UNAUTHORIZED, &e.to_string()),
            Refusal::NotARuntime => error_body(
                StatusCode::FORBIDDEN,
                "only a runtime's certificate reads a runtime configuration",
            ),
        }
    }
}

/// The runtime a client certificate stands for, from memory while nothing changed.
pub(crate) async fn runtime_of(
    state: &AppState,
    peer: Option<&sextant_tls::PeerCertificates>,
) -> Result<(Uuid, TenantId), Refusal> {
    let cache = &state.config_cache;
    let epochs = state.store.config_epochs();
    let serial = peer
        .and_then(|p| p.0.first())
        .and_then(|leaf| sextant_pki::client_certificate_identity(leaf.as_ref()).ok())
        .map(|identity| identity.serial);
    if let Some(serial) = &serial {
        let remembered = lock(&cache.identities).get(serial).copied();
        if let Some(known) = remembered
            && known.epoch == epochs.current(known.tenant)
            && known.revocations == cache.revocations.load(Ordering::SeqCst)
        {
            return Ok((known.runtime, known.tenant));
        }
    }
    // Read before the check: whatever commits during it (a revocation included) moves one of
    // them, and then the answer is used but not remembered.
    let revocations = cache.revocations.load(Ordering::SeqCst);
    let changes = epochs.changes();
    let (auth, tenant, serial) = certificate_client(state, peer)
        .await
        .map_err(Refusal::Auth)?;
    let SystemAuthOwner::Runtime(runtime) = auth.owner else {
        return Err(Refusal::NotARuntime);
    };
    let epoch = epochs.current(tenant);
    if epochs.changes() == changes {
        let mut identities = lock(&cache.identities);
        if identities.len() >= MAX_CACHED {
            identities.clear();
        }
        identities.insert(
            serial,
            CachedIdentity {
                runtime,
                tenant,
                epoch,
                revocations,
            },
        );
    }
    Ok((runtime, tenant))
}

/// The runtime's document as of now: from memory if the tenant's epoch has not moved since
/// it was built, else built again (one read transaction).
pub(crate) async fn document(
    state: &AppState,
    runtime: Uuid,
    tenant: TenantId,
) -> Result<Arc<CachedDocument>, Response> {
    let epoch = state.store.config_epochs().current(tenant);
    if let Some(doc) = lock(&state.config_cache.documents).get(&runtime)
        && doc.epoch == epoch
    {
        return Ok(doc.clone());
    }
    let built = async {
        let mut tx = state.store.read().await.map_err(|e| {
            sextant_domain::DomainError::Internal(Box::new(e))
        })?;
        sextant_director::runtime_config::build(&mut *tx, tenant, runtime).await
    }
    .await
    .map_err(|e| {
        tracing::error!(error = %sextant_director::ErrorChain(&e), "cannot build a runtime configuration");
        error_body(
            StatusCode::SERVICE_UNAVAILABLE,
            "the configuration cannot be read now; try again",
        )
    })?;
    // Tagged with the epoch read before building: a change committed meanwhile makes it
    // stale at once, never the other way round.
    let doc = Arc::new(CachedDocument { epoch, built });
    let mut documents = lock(&state.config_cache.documents);
    if documents.len() >= MAX_CACHED {
        documents.clear();
    }
    documents.insert(runtime, doc.clone());
    Ok(doc)
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
    loop {
        let (runtime, tenant) = match runtime_of(&state, peer.as_ref()).await {
            Ok(found) => found,
            Err(refusal) => return refusal.response(),
        };
        // Subscribed before reading the document: a change after the read wakes us.
        let mut changes = state.store.config_epochs().subscribe(tenant);
        changes.borrow_and_update();
        let doc = match document(&state, runtime, tenant).await {
            Ok(doc) => doc,
            Err(response) => return response,
        };
        let Some(built) = &doc.built else {
            return error_body(StatusCode::NOT_FOUND, "the runtime does not exist");
        };
        if !matches(&headers, &built.version) {
            return (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    (
                        header::ETAG,
                        HeaderValue::from_str(&etag(&built.version))
                            .unwrap_or(HeaderValue::from_static("\"\"")),
                    ),
                ],
                built.json.clone(),
            )
                .into_response();
        }
        let not_modified = || {
            (
                StatusCode::NOT_MODIFIED,
                [(
                    header::ETAG,
                    HeaderValue::from_str(&etag(&built.version))
                        .unwrap_or(HeaderValue::from_static("\"\"")),
                )],
            )
                .into_response()
        };
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return not_modified();
                }
            }
            _ = tokio::time::sleep_until(deadline) => return not_modified(),
        }
    }
}

/// `GET /runtime/specs/{sha256}`: a spec the runtime's current document names.
pub async fn spec(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    Path(sha256): Path<String>,
) -> Response {
    let (runtime, tenant) = match runtime_of(&state, peer.as_ref().map(|p| &p.0)).await {
        Ok(found) => found,
        Err(refusal) => return refusal.response(),
    };
    let doc = match document(&state, runtime, tenant).await {
        Ok(doc) => doc,
        Err(response) => return response,
    };
    let Some(data) = doc
        .built
        .as_ref()
        .and_then(|built| built.specs.get(&sha256))
    else {
        return error_body(
            StatusCode::NOT_FOUND,
            "no spec of this runtime's configuration has this hash",
        );
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            ),
        ],
        data.to_string(),
    )
        .into_response()
}
