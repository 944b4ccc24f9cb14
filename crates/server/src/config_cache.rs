//! What the server remembers between requests to serve runtimes cheaply: the certificates
//! found valid, the documents of the current configuration epoch of each tenant, and the spec
//! texts those documents name (`spec_cache.rs`).
//!
//! A remembered certificate is good while nothing was revoked or deleted since it was checked
//! (the store's credentials generation, and the revocation watcher's generation for what
//! other servers revoked); a configuration change does not touch it, so a fleet woken by a
//! change is not checked again.
//!
//! **Documents are built once per epoch and served many times** ([`TenantView`]): per tenant
//! and configuration epoch, the applications of each distinct set of scenarios are read and
//! serialised once (an `ApplicationsPart`), the runtimes' own facts are read in batches (the
//! runtimes asking while a batch is read wait for the next one, read with all of them: a few
//! statements for a woken fleet, not some per runtime), and each runtime's document is
//! composed from its facts around the shared part and kept until the epoch moves. A change
//! committed while a view is being filled moves the epoch, so whatever was read for the old
//! view is never used for the new one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sextant_auth::AuthError;
use sextant_connector::CertificateClient;
use sextant_director::runtime_config::compose::{ApplicationsPart, ComposedDocument};
use sextant_director::runtime_config::read::{RuntimeFacts, read_applications, read_runtimes};
use sextant_domain::{DomainError, RuntimeId, TenantId};
use sextant_store::Store;

use crate::locks::lock;
use crate::response::ApiError;
use crate::spec_cache::{CachedSpec, SpecCache};

/// At most this many certificates and documents are remembered; beyond, the memory is
/// cleared (and refilled by the next requests).
const MAX_CACHED: usize = 100_000;
/// At most this many runtimes' facts are read in one batch.
const FACTS_BATCH: usize = 1_000;
/// Long polls woken by a change that answer at once; the others wait their turn, so a woken
/// fleet never queues a writer's request behind thousands of answers. (Their facts are asked
/// for before they wait, [`ConfigCache::prefetch`], so they are still read in large batches.)
const WAKE_CONCURRENCY: usize = 16;

/// What the server remembers between requests.
pub struct ConfigCache {
    /// Spec texts, shared by every runtime.
    specs: SpecCache,
    /// Certificates found valid: SHA-256 of the certificate (DER) → the client it stands for
    /// (a hash of the bytes costs less than reading the certificate again).
    identities: Mutex<HashMap<[u8; 32], CachedClient>>,
    /// Each tenant's view of its current configuration epoch.
    tenants: Mutex<HashMap<TenantId, Arc<TenantView>>>,
    /// Raised by the revocation watcher whenever the set of revoked certificates changed (a
    /// revocation through another replica, found by polling).
    revocations: AtomicU64,
    /// Permits of woken long polls ([`WAKE_CONCURRENCY`]).
    wakeups: tokio::sync::Semaphore,
}

impl Default for ConfigCache {
    fn default() -> Self {
        ConfigCache {
            specs: SpecCache::default(),
            identities: Mutex::default(),
            tenants: Mutex::default(),
            revocations: AtomicU64::new(0),
            wakeups: tokio::sync::Semaphore::new(WAKE_CONCURRENCY),
        }
    }
}

/// What a certificate was found to stand for, and when.
struct CachedClient {
    client: Arc<CertificateClient>,
    /// The store's credentials generation when it was checked.
    credentials: u64,
    /// The revocation generation ([`ConfigCache::revocation_generation`]) when it was checked.
    revocations: u64,
}

/// A runtime's document as of an epoch.
pub(crate) struct CachedDocument {
    /// The tenant's configuration epoch the document was built at.
    pub(crate) epoch: u64,
    /// `None`: the runtime does not exist.
    pub(crate) built: Option<Arc<ComposedDocument>>,
}

impl ConfigCache {
    /// Forgets every remembered certificate (the revoked set changed).
    pub fn revocations_changed(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
    }

    /// How many runtime documents are remembered, and the bytes they keep (their own bytes
    /// and, once each, the parts they share).
    pub fn documents_held(&self) -> (usize, usize) {
        let views: Vec<Arc<TenantView>> = lock(&self.tenants).values().cloned().collect();
        views
            .iter()
            .map(|view| view.held())
            .fold((0, 0), |(n, b), (vn, vb)| (n + vn, b + vb))
    }

    /// The bytes the shared spec cache holds (texts and their compressed forms).
    pub fn specs_held(&self) -> usize {
        self.specs.held()
    }

    /// How many times the revoked set changed: read it before checking a certificate, and
    /// remember the answer with it.
    pub(crate) fn revocation_generation(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    /// The client a certificate stands for (`sextant_connector::certificate_client`), from
    /// memory while nothing was revoked or deleted since it was checked.
    pub(crate) async fn certificate_client(
        &self,
        store: &dyn Store,
        leaf: Option<&[u8]>,
    ) -> Result<Arc<CertificateClient>, AuthError> {
        let epochs = store.config_epochs();
        let fingerprint = leaf.map(|leaf| {
            let mut digest = [0u8; 32];
            digest.copy_from_slice(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf).as_ref(),
            );
            digest
        });
        if let Some(fingerprint) = &fingerprint
            && let Some(known) = lock(&self.identities).get(fingerprint)
            && known.credentials == epochs.credentials()
            && known.revocations == self.revocation_generation()
        {
            return Ok(known.client.clone());
        }
        // Read before the check: whatever is revoked or deleted during it moves one of them,
        // and then what is remembered is not trusted.
        let revocations = self.revocation_generation();
        let credentials = epochs.credentials();
        let client = Arc::new(sextant_connector::certificate_client(store, leaf).await?);
        let mut identities = lock(&self.identities);
        if identities.len() >= MAX_CACHED {
            identities.clear();
        }
        let Some(fingerprint) = fingerprint else {
            return Ok(client);
        };
        identities.insert(
            fingerprint,
            CachedClient {
                client: client.clone(),
                credentials,
                revocations,
            },
        );
        Ok(client)
    }

    /// Asks for the runtime's facts for the tenant's current epoch without waiting for them
    /// (a long poll woken by a change, before it waits for its turn): the facts of a woken
    /// fleet are then read in batches of [`FACTS_BATCH`] whatever the size of a turn.
    pub(crate) fn prefetch(&self, store: &Arc<dyn Store>, runtime: RuntimeId, tenant: TenantId) {
        let epoch = store.config_epochs().current(tenant);
        let view = self.view(tenant, epoch);
        if view.remembered(runtime).is_none() {
            view.facts.enqueue(store, tenant, runtime);
        }
    }

    /// Waits for a turn to answer a long poll a change woke.
    pub(crate) async fn wake_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.wakeups.acquire().await.ok()
    }

    /// The runtime's document as of the tenant's current epoch: remembered, or composed from
    /// its facts (read in a batch with other runtimes asking) around its scenarios' part
    /// (read and serialised once per epoch).
    pub(crate) async fn document(
        &self,
        store: &Arc<dyn Store>,
        runtime: RuntimeId,
        tenant: TenantId,
    ) -> Result<CachedDocument, ApiError> {
        // Read before anything else: a change committed meanwhile moves the epoch, so what is
        // read below is never newer-tagged than it is.
        let epoch = store.config_epochs().current(tenant);
        let view = self.view(tenant, epoch);
        if let Some(built) = view.remembered(runtime) {
            return Ok(CachedDocument {
                epoch: view.epoch,
                built,
            });
        }
        let built = match view.facts(store, runtime).await? {
            None => None,
            Some(facts) => {
                let part = view.part(store, facts.scenario_set()).await?;
                let composed = ComposedDocument::compose(&facts, part).map_err(unreadable)?;
                Some(Arc::new(composed))
            }
        };
        view.remember(runtime, built.clone());
        Ok(CachedDocument {
            epoch: view.epoch,
            built,
        })
    }

    /// The tenant's view of `epoch`, or of a later one if a request already opened it (its
    /// documents are then tagged with that later epoch, which their data is as new as).
    fn view(&self, tenant: TenantId, epoch: u64) -> Arc<TenantView> {
        let mut tenants = lock(&self.tenants);
        match tenants.get(&tenant) {
            Some(view) if view.epoch >= epoch => view.clone(),
            _ => {
                let view = Arc::new(TenantView::new(tenant, epoch));
                tenants.insert(tenant, view.clone());
                view
            }
        }
    }

    /// The spec with this hash, with its gzip form if `gzip`, from memory or the store;
    /// `None` if the store has no such spec.
    pub(crate) async fn spec(
        &self,
        store: &dyn Store,
        sha256: &str,
        gzip: bool,
    ) -> Result<Option<Arc<CachedSpec>>, ApiError> {
        self.specs.load(store, sha256, gzip).await
    }
}

fn unreadable(e: DomainError) -> ApiError {
    ApiError::unavailable(
        "the configuration cannot be read now; try again",
        "cannot build a runtime configuration",
        e,
    )
}

type SharedPart = Arc<tokio::sync::OnceCell<Arc<ApplicationsPart>>>;

/// One tenant's documents at one configuration epoch.
struct TenantView {
    tenant: TenantId,
    epoch: u64,
    /// Runtime → its document (`None`: it does not exist).
    documents: Mutex<HashMap<RuntimeId, Option<Arc<ComposedDocument>>>>,
    /// Scenario set (sorted) → the part of its applications, read and built once.
    parts: Mutex<HashMap<Vec<String>, SharedPart>>,
    facts: Arc<FactsLoader>,
}

impl TenantView {
    fn new(tenant: TenantId, epoch: u64) -> TenantView {
        TenantView {
            tenant,
            epoch,
            documents: Mutex::default(),
            parts: Mutex::default(),
            facts: Arc::default(),
        }
    }

    fn remembered(&self, runtime: RuntimeId) -> Option<Option<Arc<ComposedDocument>>> {
        lock(&self.documents).get(&runtime).cloned()
    }

    fn remember(&self, runtime: RuntimeId, built: Option<Arc<ComposedDocument>>) {
        let mut documents = lock(&self.documents);
        if documents.len() >= MAX_CACHED {
            documents.clear();
        }
        documents.insert(runtime, built);
    }

    /// Documents held, and their bytes with each shared part once.
    fn held(&self) -> (usize, usize) {
        let documents = lock(&self.documents);
        let mut parts = HashSet::new();
        let mut bytes = 0;
        for doc in documents.values().flatten() {
            bytes += doc.held_bytes();
            if parts.insert(Arc::as_ptr(doc.part())) {
                bytes += doc.part().held_bytes();
            }
        }
        (documents.len(), bytes)
    }

    async fn facts(
        &self,
        store: &Arc<dyn Store>,
        runtime: RuntimeId,
    ) -> Result<Option<Arc<RuntimeFacts>>, ApiError> {
        self.facts.load(store, self.tenant, runtime).await
    }

    /// The part of these scenarios' applications: read and built by the first runtime that
    /// needs it, the others waiting for it.
    async fn part(
        &self,
        store: &Arc<dyn Store>,
        scenarios: Vec<String>,
    ) -> Result<Arc<ApplicationsPart>, ApiError> {
        let cell = lock(&self.parts)
            .entry(scenarios.clone())
            .or_default()
            .clone();
        let tenant = self.tenant;
        let part = cell
            .get_or_try_init(|| async move {
                let applications = async {
                    let mut tx = store
                        .read()
                        .await
                        .map_err(|e| DomainError::Internal(Box::new(e)))?;
                    read_applications(&mut *tx, tenant, &scenarios).await
                }
                .await
                .map_err(unreadable)?;
                // Serialising and compressing many applications is CPU work: off the async
                // workers.
                tokio::task::spawn_blocking(move || ApplicationsPart::build(applications))
                    .await
                    .map_err(|e| unreadable(DomainError::Internal(Box::new(e))))?
                    .map(Arc::new)
                    .map_err(unreadable)
            })
            .await?;
        Ok(part.clone())
    }
}

/// The facts of the runtimes asking, read in batches: while one batch is read, the runtimes
/// that ask queue for the next, which reads them all at once.
#[derive(Default)]
struct FactsLoader {
    state: Mutex<LoaderState>,
    /// Signalled when a batch was read (or failed).
    loaded: tokio::sync::Notify,
}

#[derive(Default)]
struct LoaderState {
    /// Runtimes waiting for the next batch, in the order they asked.
    queued: Vec<RuntimeId>,
    /// The runtimes queued or in the batch being read.
    pending: HashSet<RuntimeId>,
    /// Read and not yet taken: `Err` if the batch failed.
    results: HashMap<RuntimeId, Result<Option<Arc<RuntimeFacts>>, ()>>,
    /// Whether a batch is being read.
    loading: bool,
}

impl FactsLoader {
    /// Queues `runtime` for the next batch (unless it is queued, being read or read), and
    /// starts reading a batch if none is being read.
    fn enqueue(self: &Arc<Self>, store: &Arc<dyn Store>, tenant: TenantId, runtime: RuntimeId) {
        let mut state = lock(&self.state);
        if state.results.contains_key(&runtime) {
            return;
        }
        if state.pending.insert(runtime) {
            state.queued.push(runtime);
        }
        self.start_batch(&mut state, store, tenant);
    }

    /// Starts reading the next batch, unless one is being read (its end starts the next).
    fn start_batch(
        self: &Arc<Self>,
        state: &mut LoaderState,
        store: &Arc<dyn Store>,
        tenant: TenantId,
    ) {
        if state.loading || state.queued.is_empty() {
            return;
        }
        state.loading = true;
        let take = state.queued.len().min(FACTS_BATCH);
        let batch: Vec<RuntimeId> = state.queued.drain(..take).collect();
        tokio::spawn(self.clone().read_batch(store.clone(), tenant, batch));
    }

    /// The facts of `runtime` (`None`: it does not exist), read in the next batch. The batch
    /// is read by a task of its own, so a request that goes away while it is read (a client
    /// that disconnects) leaves nobody waiting for ever.
    async fn load(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        tenant: TenantId,
        runtime: RuntimeId,
    ) -> Result<Option<Arc<RuntimeFacts>>, ApiError> {
        loop {
            let notified = self.loaded.notified();
            tokio::pin!(notified);
            {
                let mut state = lock(&self.state);
                if let Some(result) = state.results.remove(&runtime) {
                    return result.map_err(|()| {
                        unreadable(DomainError::Internal(
                            "the runtime's facts could not be read".into(),
                        ))
                    });
                }
                if state.pending.insert(runtime) {
                    state.queued.push(runtime);
                }
                // Registered before the lock is released: the batch's end cannot be missed.
                notified.as_mut().enable();
                self.start_batch(&mut state, store, tenant);
            }
            notified.await;
        }
    }

    /// Reads a batch and publishes its results (a failure, logged with its cause, as a failure
    /// of each runtime in it).
    async fn read_batch(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        tenant: TenantId,
        batch: Vec<RuntimeId>,
    ) {
        let read = async {
            let mut tx = store
                .read()
                .await
                .map_err(|e| DomainError::Internal(Box::new(e)))?;
            read_runtimes(&mut *tx, tenant, &batch).await
        }
        .await;
        let mut found = match read {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::warn!(error = %sextant_domain::ErrorChain(&e), runtimes = batch.len(), "cannot read runtimes' facts for their configuration");
                None
            }
        };
        {
            let mut state = lock(&self.state);
            state.loading = false;
            for id in &batch {
                state.pending.remove(id);
                let result = match &mut found {
                    Some(found) => Ok(found.remove(id).map(Arc::new)),
                    None => Err(()),
                };
                state.results.insert(*id, result);
            }
            // Runtimes queued meanwhile are read next (after a failure too: each batch is
            // tried once, and a failed one tells its runtimes so).
            self.start_batch(&mut state, &store, tenant);
        }
        self.loaded.notify_waiters();
    }
}
