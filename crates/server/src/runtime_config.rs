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
//!
//! A document names its specs by hash and holds no spec text, so what the server keeps per
//! runtime does not grow with the specs. A spec is read from the store when a runtime whose
//! document names it asks, through one [`SpecCache`] shared by all runtimes (bounded in
//! bytes), and is sent gzip-compressed to clients that accept it.

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

use crate::http::{AppState, client_leaf, error_body};

/// At most this many certificates and documents are remembered; beyond, the memory is
/// cleared (and refilled by the next requests).
const MAX_CACHED: usize = 100_000;

/// What the server remembers between requests.
#[derive(Default)]
pub struct ConfigCache {
    /// Spec texts, shared by every runtime.
    specs: SpecCache,
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

    /// How many runtime documents are remembered, and the bytes they keep (their JSON and
    /// the hashes of their specs).
    pub fn documents_held(&self) -> (usize, usize) {
        let documents = lock(&self.documents);
        let bytes = documents
            .values()
            .filter_map(|doc| doc.built.as_ref())
            .map(BuiltConfiguration::held_bytes)
            .sum();
        (documents.len(), bytes)
    }

    /// The bytes the shared spec cache holds (texts and their compressed forms).
    pub fn specs_held(&self) -> usize {
        lock(&self.specs.entries).bytes
    }
}

/// The most bytes of spec texts (and their gzip forms) kept in memory for all runtimes
/// together; beyond, the oldest are forgotten.
pub const SPEC_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// At most this many specs are read from the store (and compressed) at once: a fleet asking
/// for the same large spec waits for one read instead of holding a copy each.
const SPEC_LOADS_AT_ONCE: usize = 2;

/// A spec as served: its text and, once a client asked for it, its gzip form.
struct CachedSpec {
    text: axum::body::Bytes,
    gzip: Option<axum::body::Bytes>,
}

impl CachedSpec {
    fn bytes(&self) -> usize {
        self.text.len() + self.gzip.as_ref().map_or(0, |g| g.len())
    }
}

#[derive(Default)]
struct SpecEntries {
    by_hash: HashMap<String, Arc<CachedSpec>>,
    /// Insertion order, for forgetting the oldest.
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

/// Spec texts shared by all runtimes, bounded by [`SPEC_CACHE_BYTES`].
struct SpecCache {
    entries: Mutex<SpecEntries>,
    loads: tokio::sync::Semaphore,
}

impl Default for SpecCache {
    fn default() -> Self {
        SpecCache {
            entries: Mutex::default(),
            loads: tokio::sync::Semaphore::new(SPEC_LOADS_AT_ONCE),
        }
    }
}

impl SpecCache {
    fn get(&self, sha256: &str) -> Option<Arc<CachedSpec>> {
        lock(&self.entries).by_hash.get(sha256).cloned()
    }

    fn put(&self, sha256: &str, spec: Arc<CachedSpec>) {
        let size = spec.bytes();
        if size > SPEC_CACHE_BYTES {
            return;
        }
        let mut entries = lock(&self.entries);
        if let Some(old) = entries.by_hash.remove(sha256) {
            entries.bytes -= old.bytes();
            entries.order.retain(|h| h != sha256);
        }
        while entries.bytes + size > SPEC_CACHE_BYTES {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(old) = entries.by_hash.remove(&oldest) {
                entries.bytes -= old.bytes();
            }
        }
        entries.bytes += size;
        entries.order.push_back(sha256.to_owned());
        entries.by_hash.insert(sha256.to_owned(), spec);
    }

    /// The spec with this hash (from memory, else from the store), with its gzip form if
    /// `gzip`; `None` if the store has no such spec.
    async fn load(
        &self,
        store: &dyn sextant_store::Store,
        sha256: &str,
        gzip: bool,
    ) -> Result<Option<Arc<CachedSpec>>, Response> {
        if let Some(found) = self.get(sha256)
            && (!gzip || found.gzip.is_some())
        {
            return Ok(Some(found));
        }
        let _slot = self.loads.acquire().await.map_err(|_| unavailable())?;
        // Whoever held the slot before may have loaded it.
        let cached = self.get(sha256);
        if let Some(found) = &cached
            && (!gzip || found.gzip.is_some())
        {
            return Ok(cached);
        }
        let text = match cached {
            Some(found) => found.text.clone(),
            None => {
                let mut tx = store.read().await.map_err(|e| {
                    tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot read a spec");
                    unavailable()
                })?;
                match tx.spec(sha256).await {
                    Ok(Some(text)) => axum::body::Bytes::from(text),
                    Ok(None) => return Ok(None),
                    Err(e) => {
                        tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot read a spec");
                        return Err(unavailable());
                    }
                }
            }
        };
        let gzip = if gzip {
            let text = text.clone();
            let compressed = tokio::task::spawn_blocking(move || gzip_bytes(&text))
                .await
                .map_err(|_| unavailable())?
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot compress a spec");
                    unavailable()
                })?;
            Some(axum::body::Bytes::from(compressed))
        } else {
            None
        };
        let spec = Arc::new(CachedSpec { text, gzip });
        self.put(sha256, spec.clone());
        Ok(Some(spec))
    }
}

/// gzip at the fastest level: specs are text and shrink several times over even so, and a
/// large one is compressed in tens of milliseconds.
fn gzip_bytes(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

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

fn unavailable() -> Response {
    error_body(
        StatusCode::SERVICE_UNAVAILABLE,
        "the spec cannot be read now; try again",
    )
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
    let leaf = client_leaf(peer);
    let serial = leaf
        .and_then(|leaf| sextant_pki::client_certificate_identity(leaf).ok())
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
    let client = sextant_connector::certificate_client(state.store.as_ref(), leaf)
        .await
        .map_err(Refusal::Auth)?;
    let SystemAuthOwner::Runtime(runtime) = client.auth.owner else {
        return Err(Refusal::NotARuntime);
    };
    let tenant = client.tenant;
    let epoch = epochs.current(tenant);
    if epochs.changes() == changes {
        let mut identities = lock(&cache.identities);
        if identities.len() >= MAX_CACHED {
            identities.clear();
        }
        identities.insert(
            client.serial,
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
        tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot build a runtime configuration");
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
        Err(refusal) => return refusal.response(),
    };
    let doc = match document(&state, runtime, tenant).await {
        Ok(doc) => doc,
        Err(response) => return response,
    };
    let named = doc
        .built
        .as_ref()
        .is_some_and(|built| built.specs.contains(&sha256));
    drop(doc);
    let not_found = || {
        error_body(
            StatusCode::NOT_FOUND,
            "no spec of this runtime's configuration has this hash",
        )
    };
    if !named {
        return not_found();
    }
    let gzip = accepts_gzip(&headers);
    let spec = match state
        .config_cache
        .specs
        .load(state.store.as_ref(), &sha256, gzip)
        .await
    {
        Ok(Some(spec)) => spec,
        // Deleted since the document was built.
        Ok(None) => return not_found(),
        Err(response) => return response,
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
