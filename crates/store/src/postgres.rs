//! The PostgreSQL adapter: any number of server replicas share one database. Label filters use
//! `jsonb` operators (`?|`, `@>`) backed by GIN indexes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_domain::label::{LabelFilter, LabelQuery};
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, ApplicationTemplate, IntegrationSystem,
    IntegrationSystemId, LabelDefinition, ObjectKind, ObjectRef, Page, PageRequest, Placeholder,
    Runtime, RuntimeId, RuntimeStatusCondition, TemplateId, TenantId,
};
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgListener, PgNotification, PgPool, PgPoolOptions,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Row};
use tokio_util::sync::CancellationToken;
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

const MAX_CONNECTIONS: u32 = 16;
/// How often a spec write retries texts that concurrent writers stored and removed under it.
const PUT_SPEC_ATTEMPTS: usize = 8;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    counter: StatementCounter,
    epochs: Arc<ConfigEpochs>,
    /// The task that listens for other replicas' epoch changes; stopped when the last clone
    /// of the store is dropped (held only for that).
    _listener: Arc<Listener>,
}

struct Listener(CancellationToken);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The channel on which committed epoch changes are announced, as `<tenant>:<epoch>`, and
/// the other announcements ([`crate::epochs::Announcement::payload`]).
const EPOCH_CHANNEL: &str = "sextant_config_epochs";
/// How often the whole epoch table is read again, in case a notification was missed.
const EPOCH_RESYNC: Duration = Duration::from_secs(5);

async fn load_epochs(pool: &PgPool, epochs: &ConfigEpochs) -> Result<(), StoreError> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as("SELECT tenant_id, epoch FROM config_epochs")
        .fetch_all(pool)
        .await?;
    for (tenant, epoch) in rows {
        epochs.advance(TenantId(tenant), u64::try_from(epoch).unwrap_or(0));
    }
    Ok(())
}

/// Follows other replicas' epoch changes and announcements: `LISTEN`, and a full re-read of
/// the epochs after a lost connection and every [`EPOCH_RESYNC`]. A notification is applied as it arrives (it wakes
/// the task); a failed connection is dropped and made again after the driver's backoff.
struct EpochFollower {
    pool: PgPool,
    epochs: Arc<ConfigEpochs>,
    listener: Option<PgListener>,
    /// What the listener received since the last activation.
    received: Option<Result<Option<PgNotification>, sqlx::Error>>,
}

impl BackgroundTask for EpochFollower {
    fn name(&self) -> &'static str {
        "configuration epoch listener"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        match self.received.take() {
            Some(Ok(Some(notification))) => {
                let payload = notification.payload();
                if crate::epochs::Announcement::is_announcement(payload) {
                    if let Some(what) = crate::epochs::Announcement::heard(payload, &self.epochs) {
                        let mut announced = crate::epochs::Announced::default();
                        announced.note(what);
                        self.epochs.announced(announced);
                    }
                    return Ok(Progress::Idle);
                }
                let parsed = payload
                    .split_once(':')
                    .and_then(|(t, e)| Some((Uuid::parse_str(t).ok()?, e.parse::<u64>().ok()?)));
                if let Some((tenant, epoch)) = parsed {
                    self.epochs.advance(TenantId(tenant), epoch);
                }
                return Ok(Progress::Idle);
            }
            // The connection was lost (notifications may have been missed): re-read below.
            Some(Ok(None)) | None => {}
            Some(Err(e)) => {
                self.listener = None;
                return Err(Box::new(StoreError::from(e)));
            }
        }
        if self.listener.is_none() {
            let mut listener = PgListener::connect_with(&self.pool)
                .await
                .map_err(StoreError::from)?;
            listener
                .listen(EPOCH_CHANNEL)
                .await
                .map_err(StoreError::from)?;
            self.listener = Some(listener);
            // Announcements made while nobody listened are lost: whoever relies on them
            // looks again (deliveries due, certificates revoked).
            self.epochs.announced(crate::epochs::Announced {
                outbox: true,
                credentials: true,
                system_auths: true,
            });
        }
        // Whatever happened before the LISTEN took effect, or was missed.
        load_epochs(&self.pool, &self.epochs).await?;
        Ok(Progress::Idle)
    }

    async fn woken(&mut self) {
        match &mut self.listener {
            Some(listener) if self.received.is_none() => {
                self.received = Some(listener.try_recv().await);
            }
            _ => std::future::pending().await,
        }
    }
}

impl PostgresStore {
    /// Connects to `url` and migrates the database.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        move_inline_specs(&pool).await?;
        let epochs = Arc::new(ConfigEpochs::default());
        load_epochs(&pool, &epochs).await?;
        let stop = CancellationToken::new();
        let follower = EpochFollower {
            pool: pool.clone(),
            epochs: epochs.clone(),
            listener: None,
            received: None,
        };
        tokio::spawn(sextant_background::run(
            follower,
            Schedule::every(EPOCH_RESYNC),
            stop.clone(),
        ));
        Ok(PostgresStore {
            pool,
            counter: StatementCounter::default(),
            epochs,
            _listener: Arc::new(Listener(stop)),
        })
    }
}

/// Moves specs an older version stored in the definitions' rows into `specs` (once; replicas
/// starting together do the same idempotent work).
async fn move_inline_specs(pool: &PgPool) -> Result<(), StoreError> {
    use crate::tx::catalog::specs::SpecsTx;
    let mut tx = PgTx {
        tx: pool.begin().await?,
        counter: StatementCounter::default(),
        write: true,
        epochs: Arc::new(ConfigEpochs::default()),
        bumped: Vec::new(),
        announced: crate::epochs::Announced::default(),
    };
    let moved = tx.move_inline_specs().await?;
    tx.tx.commit().await?;
    if moved > 0 {
        tracing::info!(moved, "specs moved into the content-addressed spec table");
    }
    Ok(())
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let pool = self.pool.clone();
        let tx = crate::store::detached(async move {
            pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
        })
        .await?;
        Ok(Box::new(PgTx {
            tx,
            counter: self.counter.clone(),
            write: false,
            epochs: self.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
        }))
    }

    async fn write(&self) -> Result<Box<dyn Tx>, StoreError> {
        let pool = self.pool.clone();
        let tx = crate::store::detached(async move { pool.begin().await }).await?;
        Ok(Box::new(PgTx {
            tx,
            counter: self.counter.clone(),
            write: true,
            epochs: self.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_state(&self) -> PoolState {
        PoolState {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: MAX_CONNECTIONS,
        }
    }

    fn statements(&self) -> &StatementCounter {
        &self.counter
    }

    fn config_epochs(&self) -> &Arc<ConfigEpochs> {
        &self.epochs
    }

    fn for_background(&self) -> Arc<dyn Store> {
        Arc::new(PostgresStore {
            counter: StatementCounter::default(),
            ..self.clone()
        })
    }
}

/// A transaction on the PostgreSQL store.
pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
    counter: StatementCounter,
    /// Read transactions are READ ONLY, where row locks are not allowed (nor needed).
    write: bool,
    epochs: Arc<ConfigEpochs>,
    /// Epochs raised in this transaction, published when it commits.
    bumped: Vec<(TenantId, u64)>,
    /// What this transaction announces at commit (queued deliveries, revoked credentials).
    announced: crate::epochs::Announced,
}

impl PgTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Tells the other replicas what this transaction raised and announced: one `NOTIFY` per
    /// epoch and announcement, all in one statement, delivered when (and only if) the
    /// transaction commits.
    async fn before_commit(&mut self) -> Result<(), StoreError> {
        use crate::epochs::Announcement;
        let mut payloads: Vec<String> = self
            .bumped
            .iter()
            .map(|(tenant, epoch)| format!("{}:{epoch}", tenant.0))
            .collect();
        let announced = self.announced;
        for (what, flag) in [
            (Announcement::Outbox, announced.outbox),
            (Announcement::Credentials, announced.credentials),
            (Announcement::SystemAuths, announced.system_auths),
        ] {
            if flag {
                payloads.push(what.payload(&self.epochs));
            }
        }
        if payloads.is_empty() {
            return Ok(());
        }
        self.counter().inc();
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(EPOCH_CHANNEL)
            .bind(payloads)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    fn counter(&self) -> &StatementCounter {
        &self.counter
    }

    /// Nothing to do once a transaction committed.
    fn after_commit(&mut self) -> impl FnOnce() + use<> {
        || {}
    }

    /// Stores the spec texts of `chunk` that are not stored yet, and key-share-locks the rows
    /// of those that are, in one statement: a concurrent removal of a stored spec's last
    /// reference then waits for this transaction and finds the new reference (its foreign
    /// key refuses the delete, migration 0014), while writers naming the same spec share the
    /// lock instead of queueing on it. A text that another transaction stored after this
    /// statement's snapshot is neither locked nor inserted; it is tried again with a new
    /// snapshot.
    async fn put_spec_chunk(
        &mut self,
        chunk: &[crate::tx::catalog::specs::SpecText<'_>],
    ) -> Result<(), StoreError> {
        let mut pending: Vec<&crate::tx::catalog::specs::SpecText<'_>> = chunk.iter().collect();
        for _ in 0..PUT_SPEC_ATTEMPTS {
            let mut qb =
                sqlx::QueryBuilder::<Postgres>::new("WITH given (sha256, size, data) AS (");
            crate::tx::catalog::specs::push_spec_values(&mut qb, pending.iter().copied());
            qb.push(
                "), locked AS (SELECT specs.sha256 FROM specs JOIN given USING (sha256) \
                 ORDER BY specs.sha256 FOR KEY SHARE OF specs), \
                 inserted AS (INSERT INTO specs (sha256, size, data) \
                 SELECT sha256, size, data FROM given \
                 WHERE sha256 NOT IN (SELECT sha256 FROM locked) ORDER BY sha256 \
                 ON CONFLICT (sha256) DO NOTHING RETURNING sha256) \
                 SELECT sha256 FROM locked UNION ALL SELECT sha256 FROM inserted",
            );
            self.counter().inc();
            let held: std::collections::HashSet<String> = qb
                .build_query_scalar::<String>()
                .fetch_all(self.conn())
                .await?
                .into_iter()
                .collect();
            pending.retain(|text| !held.contains(&text.sha256));
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Contended(
            "specs stored and removed concurrently",
        ))
    }

    /// The tenant's spec quota lock, held to the end of a write transaction: quota checks of
    /// one tenant run one after another (a transaction-level advisory lock; the first key
    /// names the purpose, the second the tenant).
    async fn lock_spec_quota(&mut self, tenant: TenantId) -> Result<(), StoreError> {
        if !self.write {
            return Ok(());
        }
        self.counter().inc();
        sqlx::query("SELECT pg_advisory_xact_lock(1936745843, hashtext($1::text))")
            .bind(tenant.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Label definitions read in a write transaction are share-locked (see
    /// [`crate::LabelDefinitionsTx::label_definition`]).
    fn share_lock(&self) -> &'static str {
        if self.write { " FOR SHARE" } else { "" }
    }

    /// Locks the rows read, waiting for another transaction holding them.
    fn lock_waiting() -> &'static str {
        " FOR UPDATE"
    }

    /// Locks the rows read, skipping those another transaction holds.
    fn lock_skipping() -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    /// What precedes a label's key column in a condition that must not pick an index by the
    /// key: PostgreSQL plans by its statistics: nothing to steer.
    fn no_index() -> &'static str {
        ""
    }

    async fn resolve_filters(
        &mut self,
        _tenant: TenantId,
        _kind: ObjectKind,
        filters: &[LabelFilter],
    ) -> Result<Vec<ResolvedFilter>, StoreError> {
        // A key alone, a scenarios query and scalar containment use the label value
        // table; the rest is matched on the labels' JSON (`push_value_match`).
        Ok(filters
            .iter()
            .map(|filter| {
                indexed_filter(filter).unwrap_or_else(|| match &filter.query {
                    LabelQuery::Exists => ResolvedFilter::Exists(filter.key.clone()),
                    LabelQuery::AnyOf(values) => {
                        ResolvedFilter::AnyOf(filter.key.clone(), values.clone())
                    }
                    LabelQuery::Contains(value) => {
                        ResolvedFilter::Contains(filter.key.clone(), value.clone())
                    }
                })
            })
            .collect())
    }

    /// The condition that the label value row `alias` holds a string.
    fn is_string_value(alias: &str) -> String {
        format!("jsonb_typeof({alias}.value) = 'string'")
    }

    /// The string a label value row `alias` holds, as text (given [`Self::is_string_value`]).
    fn string_value_text(alias: &str) -> String {
        format!("{alias}.value #>> '{{}}'")
    }

    /// `SELECT` of the label value rows of the labels `l` of `labels` (object column
    /// `column`), for an `INSERT INTO` the value table, ending in a `WHERE` the caller
    /// extends with `AND ...`; migration 0022 backfilled with the same. A row per string,
    /// number or boolean that is the label's value or an element of its array.
    fn label_values_source(labels: &str, column: &str) -> String {
        format!(
            "(tenant_id, key, value, {column}, in_array) \
             SELECT l.tenant_id, l.key, e.value, l.{column}, jsonb_typeof(l.value) = 'array' \
             FROM {labels} l CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(l.value) \
             WHEN 'array' THEN l.value ELSE jsonb_build_array(l.value) END) AS e (value) \
             WHERE (jsonb_typeof(e.value) IN ('number', 'boolean') \
             OR (jsonb_typeof(e.value) = 'string' \
             AND octet_length(e.value #>> '{{}}') <= {MAX_INDEXED_STRING_BYTES}))"
        )
    }

    /// The condition that the label value rows `alias` equal the scalar `value`: `jsonb`
    /// equality, which is what `@>` applies to scalars.
    fn push_value_eq(qb: &mut sqlx::QueryBuilder<Postgres>, alias: &str, value: &Value) {
        qb.push(format!(" AND {alias}.value = "));
        qb.push_bind(Json(value.clone()));
    }

    /// The condition that the label value rows `alias` are one of the strings.
    fn push_string_in(qb: &mut sqlx::QueryBuilder<Postgres>, alias: &str, values: &[String]) {
        qb.push(format!(" AND {alias}.value IN ("));
        let mut separated = qb.separated(", ");
        for value in values {
            separated.push_bind(Json(Value::from(value.as_str())));
        }
        qb.push(")");
    }

    /// What makes a statement answer its plan.
    /// A text column compared byte by byte (the `C` collation, whatever the database's), so
    /// that a prefix is one range of the `(tenant_id, name COLLATE "C")` index (migration
    /// 0026).
    fn byte_ordered(column: &str) -> String {
        format!("{column} COLLATE \"C\"")
    }

    #[cfg(test)]
    fn explain() -> &'static str {
        "EXPLAIN "
    }

    /// One line of a plan.
    #[cfg(test)]
    fn plan_line(row: &sqlx::postgres::PgRow) -> Result<String, StoreError> {
        Ok(row.try_get::<String, _>(0)?)
    }

    /// The condition on a label's value `l.value` (after its key matched).
    fn push_value_match(qb: &mut sqlx::QueryBuilder<Postgres>, filter: &ResolvedFilter) {
        match filter {
            ResolvedFilter::AnyOf(_, values) => {
                // `?|` is true when the array holds any of the strings (or an object any of
                // the keys); scenarios are arrays of strings.
                qb.push(" AND jsonb_typeof(l.value) = 'array' AND l.value ?| ");
                qb.push_bind(values.clone());
            }
            ResolvedFilter::Contains(_, value) => {
                qb.push(" AND l.value @> ");
                qb.push_bind(Json(value.clone()));
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
        format!("lpad(to_hex({expr}), 8, '0')")
    }

    /// What encloses a UUID's hyphenated text to make it an id value.
    fn sql_uuid_of_text() -> (&'static str, &'static str) {
        ("CAST(", " AS uuid)")
    }

    /// SQL for the hyphenated lowercase text of the id `column`.
    /// SQL for the text of a top-level field of the JSON in `column` (NULL if absent).
    fn sql_json_text(column: &str, key: &str) -> String {
        format!("({column} ->> '{key}')")
    }

    fn sql_uuid_text(column: &str) -> String {
        format!("{column}::text")
    }

    /// `column = ANY($n)`: one bound array, so any number of ids costs one parameter, and an
    /// index on the column serves it in generic plans too (an `IN (SELECT unnest(...))`
    /// semi-join made PostgreSQL scan the tenant's rows when it had no statistics).
    fn push_id_in<I: Copy + Into<Uuid>>(
        qb: &mut sqlx::QueryBuilder<Postgres>,
        column: &str,
        ids: &[I],
    ) {
        qb.push(format!("{column} = ANY("));
        qb.push_bind(ids.iter().map(|id| (*id).into()).collect::<Vec<Uuid>>());
        qb.push("::uuid[])");
    }

    /// `column = ANY($n)` for texts.
    fn push_text_in(qb: &mut sqlx::QueryBuilder<Postgres>, column: &str, texts: &[&str]) {
        qb.push(format!("{column} = ANY("));
        qb.push_bind(texts.to_vec());
        qb.push("::text[])");
    }
}

tx_impls!(PgTx, Postgres);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sextant_test_support::{Backend, TestDatabase};

    use super::*;
    use crate::tx::labels::plan_cases::{cases, first_page, seed};

    /// Objects of `kind` in `tenant` with the labels `plan_cases::seed` gives, written in
    /// bulk (`n` at once), and their label values written by the store's own `SELECT`.
    async fn bulk_seed(pool: &PgPool, tenant: TenantId, kind: ObjectKind, n: i64) {
        let (table, extra, prefix) = match kind {
            ObjectKind::Application => ("applications", ", provider_name", "'acme', "),
            ObjectKind::Runtime => ("runtimes", "", ""),
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (id, tenant_id, name, status_condition, status_timestamp, \
             created_at{extra}) SELECT gen_random_uuid(), $1, 'o-' || i, 'INITIAL', 0, 0{} \
             FROM generate_series(1, $2) i",
            if prefix.is_empty() { "" } else { ", 'acme'" }
        )))
        .bind(tenant.0)
        .bind(n)
        .execute(pool)
        .await
        .unwrap();
        let (labels, column) = label_table(kind);
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {labels} (tenant_id, {column}, key, value) \
             SELECT o.tenant_id, o.id, l.key, l.value FROM {table} o, \
             LATERAL (SELECT abs(hashtext(o.id::text)) AS h) x, \
             LATERAL (VALUES \
               ('env', to_jsonb((ARRAY['prod', 'dev', 'test', 'stage', 'qa'])[1 + x.h % 5])), \
               ('scenarios', jsonb_build_array('DEFAULT', 'S' || (x.h % 10))), \
               ('size', to_jsonb(x.h % 7)), \
               ('flag', to_jsonb(x.h % 2 = 0))) AS l (key, value) \
             WHERE o.tenant_id = $1"
        )))
        .bind(tenant.0)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} {} AND l.tenant_id = $1",
            label_values_table(kind),
            PgTx::label_values_source(labels, column)
        )))
        .bind(tenant.0)
        .execute(pool)
        .await
        .unwrap();
    }

    /// At the benchmark's size (GOALS.md P9: 100,000 runtimes, 10,000 applications) and with
    /// fresh statistics, a filtered list and its count read label values through an index:
    /// no sequential scan of any table, and the label value table's primary key (or the label
    /// table's key index, for a key alone) in the page's plan. The planner decides by
    /// statistics and sizes, so this is what it chooses here; on tiny tables it may rightly
    /// hash a whole table instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filtered_lists_read_an_index_range() {
        let db = TestDatabase::create(Backend::Postgres).await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        // Another tenant's objects, so the tenant's are not the whole table.
        let other = TenantId(Uuid::new_v4());
        bulk_seed(&store.pool, other, ObjectKind::Runtime, 10_000).await;
        bulk_seed(&store.pool, tenant, ObjectKind::Runtime, 100_000).await;
        bulk_seed(&store.pool, tenant, ObjectKind::Application, 10_000).await;
        // And some written through the store's label writes.
        let mut tx = PgTx {
            tx: store.pool.begin().await.unwrap(),
            counter: StatementCounter::default(),
            write: true,
            epochs: store.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
        };
        seed(&mut tx, tenant, 50).await;
        tx.tx.commit().await.unwrap();
        sqlx::query("VACUUM ANALYZE")
            .execute(&store.pool)
            .await
            .unwrap();
        let mut tx = PgTx {
            tx: store.pool.begin().await.unwrap(),
            counter: StatementCounter::default(),
            write: false,
            epochs: store.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
        };
        for (kind, filters) in cases() {
            let (page, count) = tx
                .list_plans(kind, tenant, &filters, &first_page())
                .await
                .unwrap();
            let plans = format!(
                "{kind:?} {filters:?}:\n{}\n--\n{}",
                page.join("\n"),
                count.join("\n")
            );
            assert!(
                !page
                    .iter()
                    .chain(&count)
                    .any(|line| line.contains("Seq Scan")),
                "{plans}"
            );
            let index = match filters[0].query {
                LabelQuery::Exists => format!("{}_key", label_table(kind).0),
                _ => format!("{}_pkey", label_values_table(kind)),
            };
            // Several values of one key are several ranges: their page is merged with the
            // objects in id order (PostgreSQL picks the index it likes); their count reads
            // the ranges.
            let several = matches!(&filters[0].query, LabelQuery::AnyOf(v) if v.len() > 1);
            let plan = if several { &count } else { &page };
            assert!(plan.iter().any(|line| line.contains(&index)), "{plans}");
        }
    }

    /// Lists of ids are bound as one array compared with `= ANY`, which an index on the column
    /// serves in a generic plan and without statistics. (`IN (SELECT unnest(...))` made the
    /// planner scan all of the tenant's labels and hash them against the list: milliseconds
    /// per read at 10,000 applications, the PostgreSQL P3 regression found on 2026-12-07.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn id_lists_use_an_index_without_statistics() {
        let db = TestDatabase::create(Backend::Postgres).await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        bulk_seed(&store.pool, tenant, ObjectKind::Application, 10_000).await;
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM applications WHERE tenant_id = $1 LIMIT 5")
                .bind(tenant.0)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let mut qb = sqlx::QueryBuilder::<Postgres>::new(
            "SELECT app_id, key, value FROM application_labels WHERE tenant_id = ",
        );
        qb.push_bind(tenant.0);
        qb.push(" AND ");
        PgTx::push_id_in(&mut qb, "app_id", &ids);
        qb.push(" ORDER BY app_id, key");
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET plan_cache_mode = force_generic_plan; \
             PREPARE labels_of (uuid, uuid[]) AS {}",
            qb.sql().as_str()
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
        let list: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "EXPLAIN EXECUTE labels_of ('{}', '{{{}}}')",
            tenant.0,
            list.join(",")
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.lines()
                .any(|l| l.contains("Index Cond") && l.contains("app_id = ANY")),
            "{plan}"
        );
        assert!(
            !plan.contains("Semi Join") && !plan.contains("Seq Scan"),
            "{plan}"
        );
    }

    /// A label write finds the value rows of the object's labels through the
    /// `(tenant, object, key)` index, and so does the cascade of a deleted label, without
    /// statistics (as on a machine without autovacuum): never a scan of the tenant's rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn label_writes_find_an_objects_values_by_index() {
        let db = TestDatabase::create(Backend::Postgres).await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let tenant = TenantId(Uuid::new_v4());
        bulk_seed(&store.pool, tenant, ObjectKind::Application, 10_000).await;
        bulk_seed(&store.pool, tenant, ObjectKind::Runtime, 10_000).await;
        let mut tx = PgTx {
            tx: store.pool.begin().await.unwrap(),
            counter: StatementCounter::default(),
            write: true,
            epochs: store.epochs.clone(),
            bumped: Vec::new(),
            announced: crate::epochs::Announced::default(),
        };
        let objects = [
            ObjectRef::Application(ApplicationId::new_v4()),
            ObjectRef::Runtime(RuntimeId::new_v4()),
        ];
        for object in objects {
            let [delete, insert, cascade] = tx
                .refresh_plans(tenant, object, &["scenarios", "env"])
                .await
                .unwrap();
            let plans = format!(
                "{object:?}:\n{}\n--\n{}\n--\n{}",
                delete.join("\n"),
                insert.join("\n"),
                cascade.join("\n")
            );
            let by_object = format!("{}_label", label_values_table(object.kind()));
            assert!(delete.iter().any(|l| l.contains(&by_object)), "{plans}");
            assert!(cascade.iter().any(|l| l.contains(&by_object)), "{plans}");
            assert!(
                !delete
                    .iter()
                    .chain(&insert)
                    .chain(&cascade)
                    .any(|l| l.contains("Seq Scan")),
                "{plans}"
            );
        }
    }
}
