//! The SQLite adapter: the embedded default. One file in the data directory, WAL journal,
//! foreign keys on. Writers take the lock at `BEGIN IMMEDIATE` and queue on the busy timeout.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use sextant_domain::label::{LabelFilter, LabelQuery, json_contains};
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, ApplicationTemplate, IntegrationSystem,
    IntegrationSystemId, LabelDefinition, ObjectKind, ObjectRef, Page, PageRequest, Placeholder,
    Runtime, RuntimeId, RuntimeStatusCondition, TemplateId, TenantId,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::epochs::ConfigEpochs;
use crate::error::StoreError;
use crate::store::{Backend, PoolState, StatementCounter, Store};
use crate::tx::Tx;
use crate::tx::labels::{
    MAX_INDEXED_STRING_BYTES, ResolvedFilter, ValueMatch, indexed_filter, label_table,
    label_values_table,
};
use crate::tx::values::{from_micros, to_micros};

const MAX_CONNECTIONS: u32 = 8;
/// The page cache of the writer's connection, in KiB: the pages a write touches (the B-tree
/// interiors of every table and index) stay in it between transactions.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    /// Read transactions.
    pool: SqlitePool,
    /// Write transactions: one connection, so its page cache stays valid from one write to
    /// the next (SQLite drops a connection's cache whenever another connection has written;
    /// writes spread over the read pool re-read every page they touch).
    writer_pool: SqlitePool,
    counter: StatementCounter,
    /// One process writes the file, so the mirror is complete once loaded at start.
    epochs: Arc<ConfigEpochs>,
    /// SQLite has one writer at a time. Queueing writers here, in order, instead of in
    /// SQLite's busy handler (which sleeps in steps of up to 100 ms) keeps the write latency
    /// tail short. Other processes on the same file still meet the busy timeout.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Requests waiting for the writer: background transactions (the notifier expanding
    /// fan-outs, recording attempts; the Provisioner) give them the writer first.
    requests_waiting: Arc<AtomicUsize>,
    /// Whether this handle is a background task's ([`Store::for_background`]).
    background: bool,
    /// Checkpoints the WAL after the writer's commits, beside it.
    checkpointer: Arc<Checkpointer>,
}

/// How many commits of the writer may pass before the WAL is checkpointed again (SQLite's own
/// default, 1,000 frames, was about 9 registrations of the benchmark's applications).
const CHECKPOINT_EVERY_COMMITS: u64 = 16;
/// The WAL size (in pages) at which the writer checkpoints in its own COMMIT after all: a
/// safety net should the checkpoints beside it fall behind, and what lets the WAL start
/// over under a steady stream of writes (40 MiB with 4 KiB pages).
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Copies the WAL's pages into the database file on a connection of the read pool, after
/// every [`CHECKPOINT_EVERY_COMMITS`] commits of the writer and one at a time, so that
/// neither the copy nor its `fsync` happens inside the writer's COMMIT, which holds the one
/// write lock every other writer waits for. The writer's own automatic checkpoint (which
/// SQLite runs in the COMMIT that crosses its threshold) is moved to
/// [`WRITER_AUTOCHECKPOINT_PAGES`]. `PASSIVE`: it never waits for readers or the writer; what
/// it cannot copy now, the next one copies.
pub(crate) struct Checkpointer {
    pool: SqlitePool,
    commits: std::sync::atomic::AtomicU64,
    running: std::sync::atomic::AtomicBool,
}

impl Checkpointer {
    fn new(pool: SqlitePool) -> Checkpointer {
        Checkpointer {
            pool,
            commits: std::sync::atomic::AtomicU64::new(0),
            running: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Counts a commit of the writer; starts a checkpoint when one is due and none runs.
    fn committed(self: Arc<Self>) {
        let commits = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if !commits.is_multiple_of(CHECKPOINT_EVERY_COMMITS)
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        tokio::spawn(async move {
            if let Err(e) = self.checkpoint().await {
                tracing::warn!(error = %sextant_domain::ErrorChain(&e), "WAL checkpoint failed");
            }
            self.running.store(false, Ordering::Release);
        });
    }

    /// One passive checkpoint; answers the WAL's size and how much of it is copied (pages).
    async fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let (_busy, wal, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.pool)
                .await?;
        Ok((wal, copied))
    }
}

/// Counts a request waiting for the writer while it lives (also when the wait is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long a background transaction lets requests go first before it queues regardless, so
/// a steady stream of requests does not starve the notifier.
const BACKGROUND_YIELD: Duration = Duration::from_millis(50);

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a killed process (the WAL is written before COMMIT
            // returns); only an OS crash or power loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let file = (!url.contains(":memory:") && !url.contains("mode=memory"))
            .then(|| options.get_filename().to_path_buf());
        if let Some(file) = &file {
            owner_only(file)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        move_inline_specs(&pool).await?;
        // The WAL and shared-memory files exist now; SQLite gives new ones the database's
        // mode, and this fixes those of databases created before.
        if let Some(file) = &file {
            owner_only(file)?;
        }
        // Kept open for the life of the store: a reopened connection starts with a cold cache.
        let writer_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                options
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
                    .pragma(
                        "wal_autocheckpoint",
                        WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                    ),
            )
            .await?;
        let checkpointer = Arc::new(Checkpointer::new(pool.clone()));
        let epochs = Arc::new(ConfigEpochs::default());
        let rows: Vec<(Uuid, i64)> = sqlx::query_as("SELECT tenant_id, epoch FROM config_epochs")
            .fetch_all(&pool)
            .await?;
        for (tenant, epoch) in rows {
            epochs.advance(TenantId(tenant), u64::try_from(epoch).unwrap_or(0));
        }
        Ok(SqliteStore {
            pool,
            writer_pool,
            counter: StatementCounter::default(),
            epochs,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            requests_waiting: Arc::new(AtomicUsize::new(0)),
            background: false,
            checkpointer,
        })
    }
}

/// Moves specs an older version stored in the definitions' rows into `specs` (once).
async fn move_inline_specs(pool: &SqlitePool) -> Result<(), StoreError> {
    use crate::tx::catalog::specs::SpecsTx;
    let mut tx = SqliteTx {
        tx: pool.begin_with("BEGIN IMMEDIATE").await?,
        counter: StatementCounter::default(),
        _writer: None,
        epochs: Arc::new(ConfigEpochs::default()),
        bumped: Vec::new(),
        announced: crate::epochs::Announced::default(),
        checkpointer: None,
    };
    let moved = tx.move_inline_specs().await?;
    tx.tx.commit().await?;
    if moved > 0 {
        tracing::info!(moved, "specs moved into the content-addressed spec table");
    }
    Ok(())
}

/// Makes the database file, its WAL (`-wal`) and its shared-memory index (`-shm`) readable
/// and writable by the owner only (0600), like the server's other secrets: they hold hashed
/// tokens, API credentials and webhook secrets. A missing database file is created 0600
/// before SQLite opens it, so it is never readable by others, not even for a moment.
fn owner_only(file: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let failed = |path: &std::path::Path, source: std::io::Error| StoreError::File {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(failed(file, e)),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = std::path::PathBuf::from(name);
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&path, e)),
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let pool = self.pool.clone();
        let tx = crate::store::detached(async move { pool.begin().await }).await?;
        Ok(Box::new(SqliteTx {
            tx,
            counter: self.counter.clone(),
            _writer: None,
            epochs: self.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
            checkpointer: None,
        }))
    }

    async fn write(&self) -> Result<Box<dyn Tx>, StoreError> {
        let writer = if self.background {
            // Requests first: wait while one waits for the writer (at most
            // BACKGROUND_YIELD), then queue; a request arriving later waits for this one
            // transaction at most.
            let started = tokio::time::Instant::now();
            while self.requests_waiting.load(Ordering::SeqCst) > 0
                && started.elapsed() < BACKGROUND_YIELD
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            self.writer.clone().lock_owned().await
        } else {
            let _waiting = Waiting::on(&self.requests_waiting);
            self.writer.clone().lock_owned().await
        };
        let pool = self.writer_pool.clone();
        let tx =
            crate::store::detached(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await?;
        Ok(Box::new(SqliteTx {
            tx,
            counter: self.counter.clone(),
            _writer: Some(writer),
            epochs: self.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
            checkpointer: Some(self.checkpointer.clone()),
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_state(&self) -> PoolState {
        PoolState {
            size: self.pool.size() + self.writer_pool.size(),
            idle: (self.pool.num_idle() + self.writer_pool.num_idle()) as u32,
            max: MAX_CONNECTIONS + 1,
        }
    }

    fn statements(&self) -> &StatementCounter {
        &self.counter
    }

    fn config_epochs(&self) -> &Arc<ConfigEpochs> {
        &self.epochs
    }

    fn for_background(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore {
            counter: StatementCounter::default(),
            background: true,
            ..self.clone()
        })
    }
}

/// A transaction on the SQLite store.
pub struct SqliteTx {
    // Declared before the writer guard: the transaction ends before the next writer starts.
    tx: sqlx::Transaction<'static, Sqlite>,
    counter: StatementCounter,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    epochs: Arc<ConfigEpochs>,
    /// Epochs raised in this transaction, published when it commits.
    bumped: Vec<(TenantId, u64)>,
    /// What this transaction announces at commit (queued deliveries, revoked credentials).
    announced: crate::epochs::Announced,
    /// A write transaction's: told of its commit, it checkpoints the WAL beside the writer.
    checkpointer: Option<Arc<Checkpointer>>,
}

impl SqliteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Nothing to tell before a commit: there are no other replicas.
    async fn before_commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn counter(&self) -> &StatementCounter {
        &self.counter
    }

    /// What to do once this transaction committed: let the checkpointer know.
    fn after_commit(&mut self) -> impl FnOnce() + use<> {
        let checkpointer = self.checkpointer.take();
        move || {
            if let Some(checkpointer) = checkpointer {
                checkpointer.committed();
            }
        }
    }

    /// Stores the spec texts of `chunk` not stored yet. SQLite serializes writers: no other
    /// transaction can remove a stored spec before this one commits.
    async fn put_spec_chunk(
        &mut self,
        chunk: &[crate::tx::catalog::specs::SpecText<'_>],
    ) -> Result<(), StoreError> {
        let mut qb = sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO specs (sha256, size, data) ");
        crate::tx::catalog::specs::push_spec_values(&mut qb, chunk);
        qb.push(" ON CONFLICT (sha256) DO NOTHING");
        self.counter().inc();
        qb.build().execute(self.conn()).await?;
        Ok(())
    }

    /// SQLite serializes writers: a quota check needs no lock of its own.
    async fn lock_spec_quota(&mut self, _tenant: TenantId) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite serializes writers; row locks do not exist and are not needed.
    fn share_lock(&self) -> &'static str {
        ""
    }

    /// SQLite serializes writers: a row read in a write transaction is the writer's alone.
    fn lock_waiting() -> &'static str {
        ""
    }

    /// As [`SqliteTx::lock_waiting`].
    fn lock_skipping() -> &'static str {
        ""
    }

    /// What precedes a label's key column in a condition that must not pick an index by the
    /// key: SQLite without statistics prefers an index on `(tenant_id, key)` to a range on the
    /// primary key; a unary `+` on the key column keeps it to the range.
    fn no_index() -> &'static str {
        "+"
    }

    /// SQLite has no `jsonb @>`: containment of a scalar is expressed in SQL
    /// (`push_value_match`); containment of an array or object is evaluated here, in Rust,
    /// over the labels with the filter's key, and becomes an id list.
    async fn resolve_filters(
        &mut self,
        tenant: TenantId,
        kind: ObjectKind,
        filters: &[LabelFilter],
    ) -> Result<Vec<ResolvedFilter>, StoreError> {
        let mut resolved = Vec::with_capacity(filters.len());
        for filter in filters {
            if let Some(indexed) = indexed_filter(filter) {
                resolved.push(indexed);
                continue;
            }
            resolved.push(match &filter.query {
                LabelQuery::Exists => ResolvedFilter::Exists(filter.key.clone()),
                LabelQuery::AnyOf(values) => {
                    ResolvedFilter::AnyOf(filter.key.clone(), values.clone())
                }
                // A scalar (the common `"prod"` case) is matched in SQL: an equal scalar, or a
                // top-level array holding it.
                LabelQuery::Contains(wanted)
                    if wanted.is_string() || wanted.is_number() || wanted.is_boolean() =>
                {
                    ResolvedFilter::Contains(filter.key.clone(), wanted.clone())
                }
                LabelQuery::Contains(wanted) => {
                    let (table, column) = label_table(kind);
                    self.counter().inc();
                    let rows = sqlx::query(AssertSqlSafe(format!(
                        "SELECT {column}, value FROM {table} WHERE tenant_id = $1 AND key = $2"
                    )))
                    .bind(tenant.0)
                    .bind(&filter.key)
                    .fetch_all(self.conn())
                    .await?;
                    let mut ids = Vec::new();
                    for row in &rows {
                        let value: Json<Value> = row.try_get(1)?;
                        if json_contains(&value.0, wanted) {
                            ids.push(row.try_get::<Uuid, _>(0)?);
                        }
                    }
                    ResolvedFilter::Ids(ids)
                }
            });
        }
        Ok(resolved)
    }

    /// `SELECT` of the label value rows of the labels `l` of `labels` (object column
    /// `column`), for an `INSERT INTO` the value table, ending in a `WHERE` the caller
    /// extends with `AND ...`; migration 0022 backfilled with the same. A row per string,
    /// number or boolean that is the label's value or an element of its array: json_each
    /// gives the value itself for a scalar, the elements for an array.
    fn label_values_source(labels: &str, column: &str) -> String {
        format!(
            "(tenant_id, key, value_type, value, {column}, in_array) \
             SELECT l.tenant_id, l.key, CASE j.type WHEN 'text' THEN 'string' \
             WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE 'number' END, \
             j.value, l.{column}, json_type(l.value) = 'array' \
             FROM {labels} l, json_each(l.value) j \
             WHERE json_type(l.value) <> 'object' \
             AND (j.type IN ('integer', 'real', 'true', 'false') \
             OR (j.type = 'text' AND length(CAST(j.value AS BLOB)) <= {MAX_INDEXED_STRING_BYTES}))"
        )
    }

    /// The condition that the label value row `alias` holds a string.
    fn is_string_value(alias: &str) -> String {
        format!("{alias}.value_type = 'string'")
    }

    /// The string a label value row `alias` holds, as text (given [`Self::is_string_value`]).
    fn string_value_text(alias: &str) -> String {
        format!("{alias}.value")
    }

    /// The condition that the label value rows `alias` equal the scalar `value`: same type
    /// (integers and reals are both numbers, compared by value), same value.
    fn push_value_eq(qb: &mut sqlx::QueryBuilder<Sqlite>, alias: &str, value: &Value) {
        match value {
            Value::String(s) => {
                qb.push(format!(
                    " AND {alias}.value_type = 'string' AND {alias}.value = "
                ));
                qb.push_bind(s.clone());
            }
            Value::Number(n) => {
                qb.push(format!(
                    " AND {alias}.value_type = 'number' AND {alias}.value = "
                ));
                match n.as_i64() {
                    Some(i) => qb.push_bind(i),
                    None => qb.push_bind(n.as_f64().unwrap_or(f64::NAN)),
                };
            }
            Value::Bool(b) => {
                qb.push(format!(
                    " AND {alias}.value_type = 'boolean' AND {alias}.value = "
                ));
                qb.push_bind(i64::from(*b));
            }
            // `indexed_filter` gives only strings, numbers and booleans; anything else
            // must not widen the result, so it matches nothing.
            Value::Null | Value::Array(_) | Value::Object(_) => {
                qb.push(" AND 1 = 0");
            }
        }
    }

    /// The condition that the label value rows `alias` are one of the strings.
    fn push_string_in(qb: &mut sqlx::QueryBuilder<Sqlite>, alias: &str, values: &[String]) {
        qb.push(format!(" AND {alias}.value_type = 'string' AND "));
        let texts: Vec<&str> = values.iter().map(String::as_str).collect();
        Self::push_text_in(qb, &format!("{alias}.value"), &texts);
    }

    /// A text column compared byte by byte (SQLite's default `BINARY` collation), so that a
    /// prefix is one range of its index.
    fn byte_ordered(column: &str) -> String {
        column.to_owned()
    }

    /// What makes a statement answer its plan.
    #[cfg(test)]
    fn explain() -> &'static str {
        "EXPLAIN QUERY PLAN "
    }

    /// One node of a plan (`EXPLAIN QUERY PLAN`'s `detail`).
    #[cfg(test)]
    fn plan_line(row: &sqlx::sqlite::SqliteRow) -> Result<String, StoreError> {
        Ok(row.try_get::<String, _>(3)?)
    }

    /// The condition on a label's value `l.value` (after its key matched).
    fn push_value_match(qb: &mut sqlx::QueryBuilder<Sqlite>, filter: &ResolvedFilter) {
        match filter {
            ResolvedFilter::AnyOf(_, values) => {
                // A cheap substring test first: stored JSON is serde_json's canonical text,
                // so a label holding a value contains that value's JSON string literally.
                // Only labels that pass it are parsed with `json_each`.
                qb.push(" AND (");
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        qb.push(" OR ");
                    }
                    qb.push("instr(l.value, ");
                    qb.push_bind(Value::from(value.as_str()).to_string());
                    qb.push(") > 0");
                }
                if values.is_empty() {
                    qb.push("1 = 0");
                }
                qb.push(")");
                qb.push(
                    " AND json_type(l.value) = 'array' \
                     AND EXISTS (SELECT 1 FROM json_each(l.value) j WHERE j.type = 'text' \
                     AND j.value IN (SELECT value FROM json_each(",
                );
                qb.push_bind(Value::from(values.clone()).to_string());
                qb.push(")))");
            }
            ResolvedFilter::Contains(_, Value::String(s)) => {
                qb.push(" AND ((json_type(l.value) = 'text' AND l.value ->> '$' = ");
                qb.push_bind(s.clone());
                qb.push(
                    ") OR (json_type(l.value) = 'array' AND EXISTS (SELECT 1 FROM \
                     json_each(l.value) j WHERE j.type = 'text' AND j.value = ",
                );
                qb.push_bind(s.clone());
                qb.push(")))");
            }
            ResolvedFilter::Contains(_, Value::Number(n)) => {
                // SQLite compares integers and reals by value, as `jsonb` does.
                let push_number = |qb: &mut sqlx::QueryBuilder<Sqlite>| match n.as_i64() {
                    Some(i) => {
                        qb.push_bind(i);
                    }
                    None => {
                        qb.push_bind(n.as_f64().unwrap_or(f64::NAN));
                    }
                };
                qb.push(" AND ((json_type(l.value) IN ('integer', 'real') AND l.value ->> '$' = ");
                push_number(qb);
                qb.push(
                    ") OR (json_type(l.value) = 'array' AND EXISTS (SELECT 1 FROM \
                     json_each(l.value) j WHERE j.type IN ('integer', 'real') AND j.value = ",
                );
                push_number(qb);
                qb.push(")))");
            }
            ResolvedFilter::Contains(_, Value::Bool(b)) => {
                let ty = if *b { "'true'" } else { "'false'" };
                qb.push(format!(
                    " AND (json_type(l.value) = {ty} OR (json_type(l.value) = 'array' AND \
                     EXISTS (SELECT 1 FROM json_each(l.value) j WHERE j.type = {ty})))"
                ));
            }
            // `resolve_filters` turns structured containment into `Ids`; should one get here,
            // it must not widen the result, so it matches nothing.
            ResolvedFilter::Contains(..) => {
                qb.push(" AND 1 = 0");
            }
            ResolvedFilter::Exists(_)
            | ResolvedFilter::Values(..)
            | ResolvedFilter::Ids(_)
            | ResolvedFilter::NamePrefix(_)
            | ResolvedFilter::Status(_) => {}
        }
    }

    /// SQL for the 8 lowercase hex digits of the integer `expr`.
    fn sql_hex8(expr: &str) -> String {
        format!("printf('%08x', {expr})")
    }

    /// What encloses a UUID's hyphenated text to make it an id value.
    fn sql_uuid_of_text() -> (&'static str, &'static str) {
        ("unhex(replace(", ", '-', ''))")
    }

    /// SQL for the hyphenated lowercase text of the id `column` (16 bytes).
    /// SQL for the text of a top-level field of the JSON in `column` (NULL if absent).
    fn sql_json_text(column: &str, key: &str) -> String {
        format!("json_extract({column}, '$.{key}')")
    }

    fn sql_uuid_text(column: &str) -> String {
        let part = |from: usize, len: usize| format!("substr(hex({column}), {from}, {len})");
        format!(
            "lower({} || '-' || {} || '-' || {} || '-' || {} || '-' || {})",
            part(1, 8),
            part(9, 4),
            part(13, 4),
            part(17, 4),
            part(21, 12)
        )
    }

    /// `column IN (SELECT ...)`: the ids as one bound JSON array of hex strings, so any
    /// number of ids costs one parameter.
    fn push_id_in<I: Copy + Into<Uuid>>(
        qb: &mut sqlx::QueryBuilder<Sqlite>,
        column: &str,
        ids: &[I],
    ) {
        let hex: Vec<Value> = ids
            .iter()
            .map(|id| Value::from((*id).into().simple().to_string()))
            .collect();
        qb.push(format!("{column} IN (SELECT unhex(value) FROM json_each("));
        qb.push_bind(Value::from(hex).to_string());
        qb.push("))");
    }

    /// `column IN (SELECT ...)`: the texts as one bound JSON array.
    fn push_text_in(qb: &mut sqlx::QueryBuilder<Sqlite>, column: &str, texts: &[&str]) {
        qb.push(format!("{column} IN (SELECT value FROM json_each("));
        qb.push_bind(Value::from(texts.to_vec()).to_string());
        qb.push("))");
    }
}

tx_impls!(SqliteTx, Sqlite);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sextant_test_support::{Backend, TestDatabase};

    use super::*;
    use crate::tx::labels::plan_cases::{cases, first_page, seed};

    /// A transaction on the writer's connection for the plan tests (rolled back when
    /// dropped), without the writer's queue or checkpoints.
    async fn plan_tx(store: &SqliteStore) -> SqliteTx {
        SqliteTx {
            tx: store.writer_pool.begin().await.unwrap(),
            counter: StatementCounter::default(),
            _writer: None,
            epochs: store.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
            checkpointer: None,
        }
    }

    /// The writer's commits do not copy the WAL into the database file (SQLite would, in the
    /// COMMIT that crosses its threshold, with two fsyncs, while every other writer waits):
    /// the checkpointer does, beside the writer. Without it, nothing would reach the file
    /// before the WAL held WRITER_AUTOCHECKPOINT_PAGES pages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_beside_the_writer() {
        let db = TestDatabase::create(Backend::Sqlite).await;
        let store = SqliteStore::connect(&db.url).await.unwrap();
        let file = store.pool.connect_options().get_filename().to_path_buf();
        // Start from a copied WAL: what migrations wrote is in the file.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&store.pool)
            .await
            .unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        let commits = 4 * CHECKPOINT_EVERY_COMMITS;
        for _ in 0..commits {
            let mut tx = store.write().await.unwrap();
            for _ in 0..50 {
                tx.bump_config_epoch(TenantId(Uuid::new_v4()))
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&file).unwrap().len() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no page of {commits} commits reached the database file"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            store.checkpointer.commits.load(Ordering::Relaxed) >= commits,
            "the checkpointer counted the commits"
        );
    }

    /// A filtered list, and its count, read label values from an index range: no step of
    /// either plan scans a table (the labels' above all) or sorts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filtered_lists_read_an_index_range() {
        let db = TestDatabase::create(Backend::Sqlite).await;
        let store = SqliteStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        let mut tx = plan_tx(&store).await;
        seed(&mut tx, tenant, 200).await;
        for (kind, filters) in cases() {
            let (page, count) = tx
                .list_plans(kind, tenant, &filters, &first_page())
                .await
                .unwrap();
            for line in page.iter().chain(&count) {
                // The bound list of a multi-value query is a json_each table; nothing else
                // may be scanned.
                let scan = line.starts_with("SCAN") && !line.contains("json_each");
                assert!(
                    !scan && !line.contains("TEMP B-TREE"),
                    "{kind:?} {filters:?}: page {page:#?}, count {count:#?}"
                );
            }
            assert!(
                page.iter()
                    .chain(&count)
                    .all(|line| !line.contains(label_table(kind).0) || line.contains("COVERING")),
                "{kind:?} {filters:?}: page {page:#?}, count {count:#?}"
            );
            // The value rows are found by their value index, whether they drive the page
            // (`d`) or make an `IN` set (`v`).
            if !matches!(filters[0].query, LabelQuery::Exists) {
                let by_value = format!(
                    "USING COVERING INDEX {}_value (tenant_id=? AND key=? AND value_type=? \
                     AND value=?",
                    label_values_table(kind)
                );
                assert!(
                    page.iter().any(|line| line.contains(&by_value)),
                    "{kind:?} {filters:?}: {page:#?}"
                );
            }
        }
    }

    /// The dashboard's failed spec fetches read the partial indexes of migration 0029, never
    /// the tenant's definitions (whose predicate must stay the statement's word for word).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_fetches_read_only_the_failed() {
        let db = TestDatabase::create(Backend::Sqlite).await;
        let store = SqliteStore::connect(&db.url).await.unwrap();
        let mut tx = plan_tx(&store).await;
        let mut qb = sqlx::QueryBuilder::<Sqlite>::new(SqliteTx::explain());
        SqliteTx::push_failed_fetches(&mut qb, TenantId(Uuid::new_v4()), 10);
        let rows = qb.build().fetch_all(tx.conn()).await.unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|row| SqliteTx::plan_line(row).unwrap())
            .collect();
        for index in [
            "api_definitions_fetch_failed",
            "event_definitions_fetch_failed",
        ] {
            assert!(
                plan.iter().any(|line| line.contains(index)),
                "{index} in {plan:#?}"
            );
        }
        assert!(
            !plan
                .iter()
                .any(|line| line.starts_with("SCAN api_definitions")
                    || line.starts_with("SCAN event_definitions")),
            "{plan:#?}"
        );
    }

    /// A search of applications or runtimes by status or name prefix reads one range of an
    /// index on those columns (migrations 0026 and 0028, the `UNIQUE (tenant_id, name)`
    /// indexes), never the tenant's whole table; beside a label driver it is an `IN` set
    /// read the same way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_read_an_index_range() {
        let db = TestDatabase::create(Backend::Sqlite).await;
        let store = SqliteStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        let mut tx = plan_tx(&store).await;
        seed(&mut tx, tenant, 200).await;
        for (kind, table, alias, prefix) in [
            (ObjectKind::Application, "applications", "a", "app-1"),
            (ObjectKind::Runtime, "runtimes", "r", "rt-1"),
        ] {
            let status = || ResolvedFilter::Status("READY".to_owned());
            let prefix = || ResolvedFilter::NamePrefix(prefix.to_owned());
            let by_status =
                format!("USING COVERING INDEX {table}_status (tenant_id=? AND status_condition=?");
            let by_status_rows =
                format!("USING INDEX {table}_status (tenant_id=? AND status_condition=?");
            let by_name = "(tenant_id=? AND name>? AND name<?)".to_owned();
            let env = sextant_domain::label::LabelFilter::parse("env", None).unwrap();
            for (filters, columns, wanted) in [
                (vec![], vec![status()], [&by_status_rows, &by_status]),
                (vec![], vec![prefix()], [&by_name, &by_name]),
                (vec![env.clone()], vec![status()], [&by_status, &by_status]),
                (vec![env], vec![prefix()], [&by_name, &by_name]),
            ] {
                let (page, count) = tx
                    .search_plans(kind, tenant, &filters, columns, &first_page())
                    .await
                    .unwrap();
                for (plan, wanted) in [(&page, wanted[0]), (&count, wanted[1])] {
                    assert!(
                        plan.iter().any(|line| line.contains(wanted.as_str())),
                        "{wanted} in {plan:#?} ({kind:?} {filters:?})"
                    );
                    assert!(
                        !plan
                            .iter()
                            .any(|line| line.starts_with(&format!("SCAN {alias}"))
                                || line.starts_with("SCAN o")
                                || line.starts_with(&format!("SCAN {table}"))),
                        "{plan:#?}"
                    );
                }
            }
        }
    }

    /// A label write finds the value rows of the object's labels by the primary key's
    /// prefix (tenant, object, key), and so does the cascade of a deleted label: never the
    /// rows of every object with the key. Without statistics, SQLite 3.51 read the primary
    /// key's (tenant, key) prefix when the object was a secondary index's column (0022),
    /// which made every registration cost more with every application in the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn label_writes_find_an_objects_values_by_primary_key() {
        let db = TestDatabase::create(Backend::Sqlite).await;
        let store = SqliteStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        let mut tx = plan_tx(&store).await;
        seed(&mut tx, tenant, 200).await;
        let objects = [
            ObjectRef::Application(ApplicationId::new_v4()),
            ObjectRef::Runtime(RuntimeId::new_v4()),
        ];
        for object in objects {
            let column = label_table(object.kind()).1;
            let by_object = format!("USING PRIMARY KEY (tenant_id=? AND {column}=? AND key=?)");
            let [delete, insert, cascade] = tx
                .refresh_plans(tenant, object, &["scenarios", "env"])
                .await
                .unwrap();
            assert!(
                delete.iter().any(|line| line.contains(&by_object)),
                "{object:?}: {delete:#?}"
            );
            assert!(
                cascade.iter().any(|line| line.contains(&by_object)),
                "{object:?}: {cascade:#?}"
            );
            let labels_by_object = format!("{column}=?");
            assert!(
                insert
                    .iter()
                    .any(|line| line.starts_with("SEARCH l ") && line.contains(&labels_by_object)),
                "{object:?}: {insert:#?}"
            );
            for line in delete.iter().chain(&insert).chain(&cascade) {
                // json_each's tables (the bound keys, a label's elements) are the only scans.
                let scan = line.starts_with("SCAN") && !line.contains("VIRTUAL TABLE");
                assert!(!scan, "{object:?}: {delete:#?} {insert:#?} {cascade:#?}");
            }
        }
    }
}
