//! The spec texts runtimes' documents name, read from the store when a runtime asks and
//! kept for all runtimes together (bounded in bytes, oldest forgotten first), with their
//! gzip forms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::locks::lock;
use crate::response::ApiError;

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
pub(crate) struct SpecCache {
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
    /// The bytes held (texts and their compressed forms).
    pub(crate) fn held(&self) -> usize {
        lock(&self.entries).bytes
    }

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
    pub(crate) async fn load(
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
