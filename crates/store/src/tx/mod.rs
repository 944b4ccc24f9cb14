//! One transaction: the [`Tx`] trait, made of one trait per resource, each declared in a
//! module of its own beside its SQL (`applications.rs` holds [`ApplicationsTx`] and the SQL of
//! applications).
//!
//! The SQL is shared by both adapters. Each resource module has a macro (`applications_tx!`,
//! ...) that implements its trait, and `tx_impls!` expands them all inside each adapter with
//! the adapter's concrete database type, so every statement is type-checked against the real
//! driver types of both backends. Both SQLite and PostgreSQL accept `$N` placeholders, `ON
//! CONFLICT ... DO UPDATE` and `RETURNING`, which is what this shared SQL relies on. The
//! macros name domain types, `sqlx` items and the crate's own (`StoreError`, `to_micros`,
//! `ResolvedFilter`, ...) without a path: the adapter imports them.
//!
//! The adapter provides, as inherent items of its transaction type:
//! - the fields `tx` (the `sqlx::Transaction`), `epochs`, `bumped` and `announced` (what the
//!   transaction announces at commit: `announced.note(Announcement)`)
//! - `fn conn(&mut self) -> &mut <Db as Database>::Connection`
//! - `fn counter(&self) -> &StatementCounter`
//! - `async fn before_commit(&mut self)` (tells other replicas what the transaction raised and
//!   announced, delivered at commit: on PostgreSQL one statement of `NOTIFY`s)
//! - `async fn lock_spec_quota(&mut self, tenant)` (serializes a tenant's quota checks)
//! - `fn share_lock(&self) -> &'static str` (row lock clause for reads in write transactions)
//! - `fn lock_waiting() -> &'static str`, `fn lock_skipping() -> &'static str` (row lock
//!   clauses that wait for, or skip, rows another transaction holds)
//! - `fn no_index() -> &'static str` (what keeps a label key condition off an index)
//! - `async fn resolve_filters(&mut self, tenant, kind, &[LabelFilter]) -> Result<Vec<ResolvedFilter>>`
//! - `fn push_value_match(&mut QueryBuilder<Db>, &ResolvedFilter)` (the condition on a label's
//!   value for one filter)
//! - `fn label_values_source(labels, column) -> String` (the `SELECT` of the label value rows
//!   of labels, as migration 0022 backfilled them), `fn push_value_eq(&mut QueryBuilder<Db>,
//!   alias, &Value)` and `fn push_string_in(&mut QueryBuilder<Db>, alias, &[String])` (the
//!   conditions on label value rows)
//! - `fn push_id_in(&mut QueryBuilder<Db>, column, &[impl Into<Uuid>])` and
//!   `fn push_text_in(&mut QueryBuilder<Db>, column, &[&str])` (the condition that a column
//!   is one of the values, bound as one parameter)
//! - `fn byte_ordered(column) -> String` (a text column compared byte by byte, so that a
//!   name prefix is one index range)
//! - `fn sql_hex8(&str) -> String`, `fn sql_uuid_of_text() -> (&str, &str)`,
//!   `fn sql_uuid_text(&str) -> String` (ids made and written as text in SQL, for the outbox)
//! - `fn sql_json_text(column, key) -> String` (a top-level field of stored JSON as text)

use sextant_domain::TenantId;

use crate::error::StoreError;
use agents::AgentsTx;
use applications::ApplicationsTx;
use catalog::CatalogTx;
use catalog::apis::ApiDefinitionsTx;
use catalog::credentials::CredentialsTx;
use catalog::default_eventing::DefaultEventingTx;
use catalog::definitions::DefinitionsTx;
use catalog::documents::DocumentsTx;
use catalog::events::EventDefinitionsTx;
use catalog::specs::SpecsTx;
use catalog::webhooks::WebhooksTx;
use console::ConsoleTx;
use delivery::deliveries::DeliveriesTx;
use delivery::fan_outs::FanOutsTx;
use integration_systems::IntegrationSystemsTx;
use label_definitions::LabelDefinitionsTx;
use labels::LabelsTx;
use overview::OverviewTx;
use provisioning::ProvisioningTx;
use runtimes::RuntimesTx;
use system_auths::SystemAuthTx;
use templates::ApplicationTemplatesTx;

pub(crate) mod chunks;
pub(crate) mod values;
#[macro_use]
pub(crate) mod pages;
#[macro_use]
pub(crate) mod labels;
#[macro_use]
pub(crate) mod label_definitions;
#[macro_use]
pub(crate) mod applications;
#[macro_use]
pub(crate) mod runtimes;
#[macro_use]
pub(crate) mod integration_systems;
#[macro_use]
pub(crate) mod templates;
#[macro_use]
pub(crate) mod catalog;
#[macro_use]
pub(crate) mod delivery;
#[macro_use]
pub(crate) mod system_auths;
#[macro_use]
pub(crate) mod provisioning;
#[macro_use]
pub(crate) mod console;
#[macro_use]
pub(crate) mod agents;
#[macro_use]
pub(crate) mod overview;

/// One transaction. Methods take the tenant explicitly; an integration system or template
/// looked up by id alone is for rules that check its tenant themselves.
#[async_trait::async_trait]
pub trait Tx:
    ApplicationsTx
    + RuntimesTx
    + LabelsTx
    + LabelDefinitionsTx
    + IntegrationSystemsTx
    + ApplicationTemplatesTx
    + CatalogTx
    + DefinitionsTx
    + ApiDefinitionsTx
    + EventDefinitionsTx
    + SpecsTx
    + DocumentsTx
    + WebhooksTx
    + CredentialsTx
    + DefaultEventingTx
    + SystemAuthTx
    + ProvisioningTx
    + ConsoleTx
    + AgentsTx
    + OverviewTx
    + FanOutsTx
    + DeliveriesTx
    + Send
{
    /// Commits; then publishes the configuration epochs raised in this transaction to
    /// [`crate::Store::config_epochs`].
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Raises the tenant's configuration epoch (see [`crate::ConfigEpochs`]): call it in every
    /// write transaction that may change what a runtime of the tenant is configured with.
    /// On PostgreSQL the other replicas are told when the transaction commits.
    async fn bump_config_epoch(&mut self, tenant: TenantId) -> Result<u64, StoreError>;
}

macro_rules! transaction_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::Tx for $Tx {
            async fn commit(self: Box<Self>) -> Result<(), StoreError> {
                let mut this = *self;
                this.before_commit().await?;
                let bumped = std::mem::take(&mut this.bumped);
                let announced = this.announced;
                let epochs = this.epochs.clone();
                let after_commit = this.after_commit();
                this.tx.commit().await.map_err(StoreError::from)?;
                after_commit();
                for (tenant, epoch) in bumped {
                    epochs.advance(tenant, epoch);
                }
                epochs.announced(announced);
                Ok(())
            }

            async fn bump_config_epoch(&mut self, tenant: TenantId) -> Result<u64, StoreError> {
                self.counter().inc();
                let epoch: i64 = sqlx::query_scalar(
                    "INSERT INTO config_epochs (tenant_id, epoch) VALUES ($1, 1) \
                     ON CONFLICT (tenant_id) DO UPDATE SET epoch = config_epochs.epoch + 1 \
                     RETURNING epoch",
                )
                .bind(tenant.0)
                .fetch_one(self.conn())
                .await?;
                let epoch = u64::try_from(epoch).unwrap_or(0);
                self.bumped.push((tenant, epoch));
                Ok(epoch)
            }
        }
    };
}

/// Implements [`Tx`] and every trait it is made of for an adapter's transaction type.
macro_rules! tx_impls {
    ($Tx:ident, $Db:ty) => {
        transaction_tx!($Tx, $Db);
        page_helpers!($Tx, $Db);
        labels_tx!($Tx, $Db);
        label_definitions_tx!($Tx, $Db);
        applications_tx!($Tx, $Db);
        runtimes_tx!($Tx, $Db);
        integration_systems_tx!($Tx, $Db);
        templates_tx!($Tx, $Db);
        catalog_tx!($Tx, $Db);
        specs_tx!($Tx, $Db);
        apis_tx!($Tx, $Db);
        events_tx!($Tx, $Db);
        definitions_tx!($Tx, $Db);
        documents_tx!($Tx, $Db);
        webhooks_tx!($Tx, $Db);
        credentials_tx!($Tx, $Db);
        default_eventing_tx!($Tx, $Db);
        system_auth_tx!($Tx, $Db);
        provisioning_tx!($Tx, $Db);
        console_tx!($Tx, $Db);
        agents_tx!($Tx, $Db);
        overview_tx!($Tx, $Db);
        fan_outs_tx!($Tx, $Db);
        fan_out_expansion!($Tx, $Db);
        deliveries_tx!($Tx, $Db);
    };
}
