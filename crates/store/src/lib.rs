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

use serde_json::Value;
use sextant_domain::label::LabelFilter;
use sextant_domain::{
    Application, ApplicationTemplate, IntegrationSystem, LabelDefinition, ObjectKind, ObjectRef,
    Page, PageRequest, Runtime, TenantId,
};
use uuid::Uuid;

pub use epochs::ConfigEpochs;
pub use error::StoreError;
pub use store::{Backend, PoolState, StatementCounter, Store};

#[macro_use]
mod common;
mod epochs;
mod error;
mod store;
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
