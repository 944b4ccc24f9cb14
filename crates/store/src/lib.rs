//! Sextant's storage facade: a narrow [`Store`] trait over transactions ([`Tx`]), with an
//! SQLite adapter (the embedded default) and a PostgreSQL adapter (scale-out). Both run one
//! contract test suite (`tests/contract.rs`).
//!
//! Invariants:
//! - No SQL dialect leaks out of this crate; callers see domain types only.
//! - Every tenant-scoped statement is filtered by tenant; objects of another tenant are
//!   indistinguishable from objects that do not exist.
//! - Most SQL is shared between the backends (`common.rs`, instantiated per backend by a
//!   macro so that each copy is checked against its concrete driver types); what differs
//!   (label filters, id lists, transaction start) lives in each adapter.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sextant_domain::label::LabelFilter;
use sextant_domain::{
    Application, ApplicationTemplate, IntegrationSystem, LabelDefinition, ObjectKind, ObjectRef,
    Page, PageRequest, Runtime, TenantId,
};
use uuid::Uuid;

pub use epochs::ConfigEpochs;

/// Begins a transaction in a task of its own. A caller cancelled while `BEGIN` is under way
/// (a dropped request) would otherwise hand the connection back to the pool inside a
/// half-begun transaction, where the next user's statements fail ("there is already a
/// transaction in progress", or a read-only transaction refusing a write). Here the task
/// always finishes, and a transaction nobody takes is dropped, which rolls it back.
async fn detached<T: Send + 'static>(
    begin: impl std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(begin)
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
        .map_err(StoreError::from)
}

#[macro_use]
mod common;
mod epochs;
#[macro_use]
mod catalog;
#[macro_use]
mod system_auth;
#[macro_use]
mod provisioning;
#[macro_use]
mod delivery;
mod postgres;
mod sqlite;

pub use catalog::{
    CatalogTx, ChildKind, MAX_BIND_PARAMETERS, MAX_STATEMENT_BYTES, SpecUsage, spec_sha256,
};
pub use delivery::{AttemptOutcome, DeliveryTx, EventFanOut, FanOutKind, PendingFanOut};
pub use postgres::PostgresStore;
pub use provisioning::ProvisioningTx;
pub use sqlite::SqliteStore;
pub use system_auth::{CertificatesOf, OwnerKind, SystemAuthTx};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (a name or key taken).
    #[error("unique constraint violated")]
    NotUnique,
    /// A foreign key refused the write (a referenced object is missing or still referenced).
    #[error("foreign key constraint violated")]
    ForeignKey,
    /// A stored value could not be read back into the domain model.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The SQLite database file could not be created or restricted to its owner.
    #[error("database file {path}")]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::NotUnique;
            }
            // SQLite reports a RESTRICT foreign key refusing a delete as a trigger constraint
            // (extended code 1811), which sqlx does not classify as a foreign-key violation.
            if db.is_foreign_key_violation()
                || (db.code().as_deref() == Some("1811")
                    && db.message().contains("FOREIGN KEY constraint failed"))
            {
                return StoreError::ForeignKey;
            }
        }
        StoreError::Database(e)
    }
}

/// Which backend a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connection pool state, for `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Counts the SQL statements a store runs (apart from BEGIN/COMMIT/ROLLBACK), for tests that
/// prove a request costs a bounded number of statements, and for `/metrics`.
#[derive(Clone, Default, Debug)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sextant_db_statements_total").increment(1);
    }
}

/// The storage facade.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// A transaction for reading: a consistent snapshot, rolled back when dropped.
    async fn read(&self) -> Result<Box<dyn Tx>, StoreError>;
    /// A transaction for writing; nothing it did persists unless [`Tx::commit`] succeeds.
    /// On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so concurrent writers
    /// queue instead of failing on a lock upgrade.
    async fn write(&self) -> Result<Box<dyn Tx>, StoreError>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    fn pool_state(&self) -> PoolState;
    fn statements(&self) -> &StatementCounter;
    /// The tenants' configuration epochs as this process last heard them.
    fn config_epochs(&self) -> &Arc<ConfigEpochs>;
    /// The same store (pool, epochs, writer queue) with a statement counter of its own, for
    /// background tasks (the notifier, the Provisioner): their polling then does not show in
    /// [`Store::statements`], which counts what requests cost. `/metrics` counts both.
    fn for_background(&self) -> Arc<dyn Store>;
}

/// One transaction. Methods take the tenant explicitly; an integration system or template
/// looked up by id alone is for rules that check its tenant themselves.
#[async_trait::async_trait]
pub trait Tx: CatalogTx + SystemAuthTx + ProvisioningTx + DeliveryTx + Send {
    /// Commits; then publishes the configuration epochs raised in this transaction to
    /// [`Store::config_epochs`].
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Raises the tenant's configuration epoch (see [`ConfigEpochs`]): call it in every
    /// write transaction that may change what a runtime of the tenant is configured with.
    /// On PostgreSQL it also notifies the other replicas when the transaction commits.
    async fn bump_config_epoch(&mut self, tenant: TenantId) -> Result<u64, StoreError>;

    // --- applications ---
    async fn insert_application(&mut self, app: &Application) -> Result<(), StoreError>;
    /// Writes the scalar fields; false if the application does not exist.
    async fn update_application(&mut self, app: &Application) -> Result<bool, StoreError>;
    async fn application(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<Application>, StoreError>;
    async fn delete_application(&mut self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    async fn applications(
        &mut self,
        tenant: TenantId,
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Application>, StoreError>;
    /// Like [`Tx::applications`], restricted to the given ids.
    async fn applications_among(
        &mut self,
        tenant: TenantId,
        among: &[Uuid],
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Application>, StoreError>;
    /// The applications of a tenant that this integration system manages.
    async fn application_ids_of_integration_system(
        &mut self,
        tenant: TenantId,
        integration_system: Uuid,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// How many applications (in any tenant) name this integration system.
    async fn count_applications_of_integration_system(
        &mut self,
        integration_system: Uuid,
    ) -> Result<i64, StoreError>;

    // --- runtimes ---
    async fn insert_runtime(&mut self, runtime: &Runtime) -> Result<(), StoreError>;
    async fn update_runtime(&mut self, runtime: &Runtime) -> Result<bool, StoreError>;
    async fn runtime(&mut self, tenant: TenantId, id: Uuid) -> Result<Option<Runtime>, StoreError>;
    async fn delete_runtime(&mut self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    async fn runtimes(
        &mut self,
        tenant: TenantId,
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Runtime>, StoreError>;

    /// Like [`Tx::runtimes`], restricted to the given ids.
    async fn runtimes_among(
        &mut self,
        tenant: TenantId,
        among: &[Uuid],
        filters: &[LabelFilter],
        page: &PageRequest,
    ) -> Result<Page<Runtime>, StoreError>;

    // --- labels ---
    /// The labels of several objects of one kind in one statement: (object id, key, value).
    async fn labels(
        &mut self,
        tenant: TenantId,
        kind: ObjectKind,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, String, Value)>, StoreError>;
    /// Inserts or replaces a label. The object must exist (else [`StoreError::ForeignKey`]).
    async fn set_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
        value: &Value,
    ) -> Result<(), StoreError>;
    /// Inserts or replaces several labels of one object (distinct keys) in one statement. The
    /// object must exist (else [`StoreError::ForeignKey`]).
    async fn set_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        labels: &[(&str, &Value)],
    ) -> Result<(), StoreError>;
    /// Removes a label and returns its value, if it was there.
    async fn delete_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
    ) -> Result<Option<Value>, StoreError>;
    async fn delete_all_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
    ) -> Result<(), StoreError>;
    /// Every label of a tenant with this key, on objects of either kind.
    async fn labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Vec<(ObjectRef, Value)>, StoreError>;
    async fn delete_labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<u64, StoreError>;

    // --- label definitions ---
    /// The definition of a key. In a write transaction on PostgreSQL the row is share-locked,
    /// so a concurrent schema update waits for labels validated against the old schema.
    async fn label_definition(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<LabelDefinition>, StoreError>;
    /// The definitions of these keys (those that exist) in one statement, share-locked like
    /// [`Tx::label_definition`]'s.
    async fn label_definitions_of(
        &mut self,
        tenant: TenantId,
        keys: &[&str],
    ) -> Result<Vec<LabelDefinition>, StoreError>;
    async fn label_definitions(
        &mut self,
        tenant: TenantId,
    ) -> Result<Vec<LabelDefinition>, StoreError>;
    async fn insert_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<(), StoreError>;
    /// Inserts the definition unless one exists for the key; true if it inserted. Safe under
    /// concurrency: two writers ensuring the same key both succeed.
    async fn ensure_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<bool, StoreError>;
    async fn update_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<bool, StoreError>;
    /// Removes a definition and returns it, if it was there.
    async fn delete_label_definition(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<LabelDefinition>, StoreError>;

    // --- integration systems (owned by a tenant, acting where granted) ---
    async fn insert_integration_system(
        &mut self,
        system: &IntegrationSystem,
    ) -> Result<(), StoreError>;
    /// Writes name and description (the owner never changes); false if it does not exist.
    async fn update_integration_system(
        &mut self,
        system: &IntegrationSystem,
    ) -> Result<bool, StoreError>;
    /// A system by id, whoever owns it: only for rules that then check the tenant.
    async fn integration_system(
        &mut self,
        id: Uuid,
    ) -> Result<Option<IntegrationSystem>, StoreError>;
    /// A system the tenant owns or granted access; `None` for any other.
    async fn visible_integration_system(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<IntegrationSystem>, StoreError>;
    /// Removes a system and its grants; [`StoreError::ForeignKey`] while applications name it.
    async fn delete_integration_system(&mut self, id: Uuid) -> Result<bool, StoreError>;
    /// The systems the tenant owns or granted access.
    async fn integration_systems(
        &mut self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<IntegrationSystem>, StoreError>;
    /// Lets the system act in the tenant; true if it was not granted before.
    /// [`StoreError::ForeignKey`] if the system does not exist.
    async fn grant_integration_system(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Withdraws the tenant's grant; true if there was one.
    async fn revoke_integration_system(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    /// Whether the tenant granted the system access (what its clients are checked against).
    async fn integration_system_granted(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<bool, StoreError>;

    // --- application templates (a tenant's, or global) ---
    async fn insert_application_template(
        &mut self,
        template: &ApplicationTemplate,
    ) -> Result<(), StoreError>;
    /// Writes every field, the tenant included, by id; false if it does not exist.
    async fn update_application_template(
        &mut self,
        template: &ApplicationTemplate,
    ) -> Result<bool, StoreError>;
    /// A template of the tenant, or a global one; `None` for another tenant's.
    async fn application_template(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<ApplicationTemplate>, StoreError>;
    /// The tenant's template of this name, else the global one of this name.
    async fn application_template_by_name(
        &mut self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<ApplicationTemplate>, StoreError>;
    async fn delete_application_template(&mut self, id: Uuid) -> Result<bool, StoreError>;
    /// The tenant's templates and the global ones.
    async fn application_templates(
        &mut self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<ApplicationTemplate>, StoreError>;
}

/// Opens the store a URL names (`sqlite://path` or `postgres://...`) and migrates it.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

fn to_micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

fn from_micros(us: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}

/// The stored access level of a template: global, or one tenant's.
fn access_level(tenant: Option<TenantId>) -> &'static str {
    if tenant.is_some() { "TENANT" } else { "GLOBAL" }
}

/// The label table and object column of a kind.
fn label_table(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::Application => ("application_labels", "app_id"),
        ObjectKind::Runtime => ("runtime_labels", "runtime_id"),
    }
}

/// A label filter made ready for SQL by a backend.
enum ResolvedFilter {
    Exists(String),
    AnyOf(String, Vec<String>),
    Contains(String, Value),
    /// Objects already found by the adapter (SQLite evaluates `@>` in Rust).
    Ids(Vec<Uuid>),
}
