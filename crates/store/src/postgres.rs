//! The PostgreSQL adapter: any number of server replicas share one database. Label filters use
//! `jsonb` operators (`?|`, `@>`) backed by GIN indexes.

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sextant_domain::label::{LabelFilter, LabelQuery};
use sextant_domain::{
    Application, ApplicationStatusCondition, ApplicationTemplate, IntegrationSystem,
    LabelDefinition, ObjectKind, ObjectRef, Page, PageRequest, Placeholder, Runtime,
    RuntimeStatusCondition, TenantId,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Row};
use uuid::Uuid;

use crate::{
    Backend, PoolState, ResolvedFilter, StatementCounter, Store, StoreError, Tx, from_micros,
    label_table, to_micros,
};

const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
    counter: StatementCounter,
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
        Ok(PostgresStore {
            pool,
            counter: StatementCounter::default(),
        })
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        Ok(Box::new(PgTx {
            tx,
            counter: self.counter.clone(),
            write: false,
        }))
    }

    async fn write(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self.pool.begin().await?;
        Ok(Box::new(PgTx {
            tx,
            counter: self.counter.clone(),
            write: true,
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
}

/// A transaction on the PostgreSQL store.
pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
    counter: StatementCounter,
    /// Read transactions are READ ONLY, where row locks are not allowed (nor needed).
    write: bool,
}

impl PgTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    fn counter(&self) -> &StatementCounter {
        &self.counter
    }

    /// Label definitions read in a write transaction are share-locked (see
    /// [`Tx::label_definition`]).
    fn share_lock(&self) -> &'static str {
        if self.write { " FOR SHARE" } else { "" }
    }

    async fn resolve_filters(
        &mut self,
        _tenant: TenantId,
        _kind: ObjectKind,
        filters: &[LabelFilter],
    ) -> Result<Vec<ResolvedFilter>, StoreError> {
        Ok(filters
            .iter()
            .map(|filter| match &filter.query {
                LabelQuery::Exists => ResolvedFilter::Exists(filter.key.clone()),
                LabelQuery::AnyOf(values) => {
                    ResolvedFilter::AnyOf(filter.key.clone(), values.clone())
                }
                LabelQuery::Contains(value) => {
                    ResolvedFilter::Contains(filter.key.clone(), value.clone())
                }
            })
            .collect())
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
            ResolvedFilter::Exists(_) | ResolvedFilter::Ids(_) => {}
        }
    }
    fn push_id_list(qb: &mut sqlx::QueryBuilder<Postgres>, ids: &[Uuid]) {
        qb.push("(SELECT unnest(");
        qb.push_bind(ids.to_vec());
        qb.push("::uuid[]))");
    }
}

common_helpers!(PgTx, Postgres);

common_tx!(PgTx, Postgres);

catalog_tx!(PgTx, Postgres);

system_auth_tx!(PgTx, Postgres);
