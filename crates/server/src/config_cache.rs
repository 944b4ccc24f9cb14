//! What the server remembers between requests to serve runtimes cheaply: the certificates
//! found valid, each runtime's last built configuration document, and the spec texts those
//! documents name (one cache for all runtimes, bounded in bytes).
//!
//! A remembered certificate is good while its tenant's configuration epoch and the revocation
//! generation are those it was checked at; a document while its tenant's epoch is the one it
//! was built at.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sextant_director::runtime_config::BuiltConfiguration;
use sextant_domain::{RuntimeId, TenantId};
use sextant_store::ConfigEpochs;

use crate::response::ApiError;

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
    documents: Mutex<HashMap<RuntimeId, Arc<CachedDocument>>>,
    /// Raised by the revocation watcher whenever the set of revoked certificates changed (a
    /// revocation through another replica, found by polling).
    revocations: AtomicU64,
}

/// What a certificate was found to stand for, and when.
#[derive(Clone, Copy)]
pub(crate) struct CachedIdentity {
    pub(crate) runtime: RuntimeId,
    pub(crate) tenant: TenantId,
    /// The tenant's configuration epoch when the certificate was checked.
    pub(crate) epoch: u64,
    /// The revocation generation ([`ConfigCache::revocation_generation`]) when it was checked.
    pub(crate) revocations: u64,
}

pub(crate) struct CachedDocument {
    /// The tenant's configuration epoch the document was built at.
    pub(crate) epoch: u64,
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

    /// How many times the revoked set changed: read it before checking a certificate, and
    /// remember the answer with it.
    pub(crate) fn revocation_generation(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    /// The runtime and tenant the certificate `serial` was found to stand for, if that still
    /// holds: neither its tenant's epoch nor the revocation generation moved since.
    pub(crate) fn remembered_runtime(
        &self,
        serial: &[u8],
        epochs: &ConfigEpochs,
    ) -> Option<(RuntimeId, TenantId)> {
        let known = lock(&self.identities).get(serial).copied()?;
        (known.epoch == epochs.current(known.tenant)
            && known.revocations == self.revocation_generation())
        .then_some((known.runtime, known.tenant))
    }

    /// Remembers what the certificate `serial` stands for.
    pub(crate) fn remember_runtime(&self, serial: Vec<u8>, identity: CachedIdentity) {
        let mut identities = lock(&self.identities);
        if identities.len() >= MAX_CACHED {
            identities.clear();
        }
        identities.insert(serial, identity);
    }

    /// The runtime's remembered document, if it was built at `epoch`.
    pub(crate) fn document(&self, runtime: RuntimeId, epoch: u64) -> Option<Arc<CachedDocument>> {
        lock(&self.documents)
            .get(&runtime)
            .filter(|doc| doc.epoch == epoch)
            .cloned()
    }

    /// Remembers the runtime's document, built at `epoch` (read before building: a change
    /// committed meanwhile makes it stale at once, never the other way round).
    pub(crate) fn remember_document(
        &self,
        runtime: RuntimeId,
        epoch: u64,
        built: Option<BuiltConfiguration>,
    ) -> Arc<CachedDocument> {
        let doc = Arc::new(CachedDocument { epoch, built });
        let mut documents = lock(&self.documents);
        if documents.len() >= MAX_CACHED {
            documents.clear();
        }
        documents.insert(runtime, doc.clone());
        doc
    }

    /// The spec with this hash, with its gzip form if `gzip`, from memory or the store;
    /// `None` if the store has no such spec.
    pub(crate) async fn spec(
        &self,
        store: &dyn sextant_store::Store,
        sha256: &str,
        gzip: bool,
    ) -> Result<Option<Arc<CachedSpec>>, ApiError> {
        self.specs.load(store, sha256, gzip).await
    }
}

/// The most bytes of spec texts (and their gzip forms) kept in memory for all runtimes
/// together; beyond, the oldest are forgotten.
pub const SPEC_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// At most this many specs are read from the store (and compressed) at once: a fleet asking
/// for the same large spec waits for one read instead of holding a copy each.
const SPEC_LOADS_AT_ONCE: usize = 2;

/// A spec as served: its text and, once a client asked for it, its gzip form.
pub(crate) struct CachedSpec {
    pub(crate) text: axum::body::Bytes,
    pub(crate) gzip: Option<axum::body::Bytes>,
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
    ) -> Result<Option<Arc<CachedSpec>>, ApiError> {
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
                let mut tx = store
                    .read()
                    .await
                    .map_err(|e| unavailable_because("cannot read a spec", e))?;
                match tx.spec(sha256).await {
                    Ok(Some(text)) => axum::body::Bytes::from(text),
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(unavailable_because("cannot read a spec", e)),
                }
            }
        };
        let gzip = if gzip {
            let text = text.clone();
            let compressed = tokio::task::spawn_blocking(move || gzip_bytes(&text))
                .await
                .map_err(|_| unavailable())?
                .map_err(|e| unavailable_because("cannot compress a spec", e))?;
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

const SPEC_UNAVAILABLE: &str = "the spec cannot be read now; try again";

fn unavailable() -> ApiError {
    ApiError::Unavailable {
        message: SPEC_UNAVAILABLE.into(),
        cause: None,
    }
}

fn unavailable_because(
    context: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> ApiError {
    ApiError::unavailable(SPEC_UNAVAILABLE, context, e)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
