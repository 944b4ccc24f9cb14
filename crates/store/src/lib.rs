//! Sextant's storage facade: a narrow [`Store`] trait over transactions ([`Tx`]), with an
//! SQLite adapter (the embedded default) and a PostgreSQL adapter (scale-out). Both run one
//! contract test suite (`tests/contract.rs`).
//!
//! Invariants:
//! - No SQL dialect leaks out of this crate; callers see domain types only.
//! - Every tenant-scoped statement is filtered by tenant; objects of another tenant are
//!   indistinguishable from objects that do not exist.
//! - Most SQL is shared between the backends (`tx/`, one module per resource, instantiated
//!   per backend by a macro so that each copy is checked against its concrete driver types);
//!   what differs (label filters, id lists, transaction start) lives in each adapter.
#![forbid(unsafe_code)]

use std::sync::Arc;

mod epochs;
mod error;
mod store;
#[macro_use]
mod tx;
mod postgres;
mod sqlite;

pub use epochs::ConfigEpochs;
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::{Backend, PoolState, StatementCounter, Store};
pub use tx::Tx;
pub use tx::agents::{AgentSighting, AgentsTx, FetchCount, RecordedAgent, RuntimeCertificate};
pub use tx::applications::{ApplicationSearch, ApplicationsTx};
pub use tx::catalog::apis::ApiDefinitionsTx;
pub use tx::catalog::credentials::CredentialsTx;
pub use tx::catalog::default_eventing::{DefaultEventing, DefaultEventingTx};
pub use tx::catalog::definitions::DefinitionsTx;
pub use tx::catalog::documents::DocumentsTx;
pub use tx::catalog::events::EventDefinitionsTx;
pub use tx::catalog::specs::{SpecTexts, SpecUsage, SpecsTx, spec_sha256};
pub use tx::catalog::webhooks::WebhooksTx;
pub use tx::catalog::{CatalogTx, ChildKind};
pub use tx::chunks::{MAX_BIND_PARAMETERS, MAX_STATEMENT_BYTES};
pub use tx::console::{ConsoleGrant, ConsoleLoginLink, ConsoleSession, ConsoleTx};
pub use tx::delivery::deliveries::{ATTEMPTS_KEPT, AttemptMeasure, AttemptOutcome, DeliveriesTx};
pub use tx::delivery::fan_outs::{EventFanOut, FanOutKind, FanOutsTx, PendingFanOut};
pub use tx::integration_systems::IntegrationSystemsTx;
pub use tx::label_definitions::LabelDefinitionsTx;
pub use tx::labels::{KeyedLabel, LabelsTx, LockedLabel, StoredLabel, StringCount};
pub use tx::overview::{
    AttentionRuntime, CountedKind, DeliveryMinute, ExpiringCertificate, FailedFetch,
    FailingWebhook, Listed, OverviewTx, StatusCount,
};
pub use tx::provisioning::{Lease, ProvisioningTx};
pub use tx::runtimes::{RuntimeSearch, RuntimesTx};
pub use tx::system_auths::{
    ApplicationCertificate, CertificatesOf, IssuedCertificate, OwnerKind, PairingTokenState,
    SystemAuthTx,
};
pub use tx::templates::ApplicationTemplatesTx;

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
