//! The storage facade: the [`Store`] trait a backend implements (transactions, health,
//! pool state, statement counting), and what it shares with its adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::epochs::ConfigEpochs;
use crate::error::StoreError;
use crate::tx::Tx;

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
    pub(crate) fn inc(&self) {
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

/// Begins a transaction in a task of its own. A caller cancelled while `BEGIN` is under way
/// (a dropped request) would otherwise hand the connection back to the pool inside a
/// half-begun transaction, where the next user's statements fail ("there is already a
/// transaction in progress", or a read-only transaction refusing a write). Here the task
/// always finishes, and a transaction nobody takes is dropped, which rolls it back.
pub(crate) async fn detached<T: Send + 'static>(
    begin: impl std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(begin)
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
        .map_err(StoreError::from)
}
