//! What the servers saw of runtimes' agents (migration 0025) and the runtimes' client
//! certificates: [`AgentsTx`] is a supertrait of [`crate::Tx`], implemented once for both
//! backends by `agents_tx!`.
//!
//! A server keeps what its configuration endpoint saw in memory and writes it in batches
//! ([`AgentsTx::record_agent_sightings`], [`AgentsTx::record_fetch_counts`]): one statement
//! per batch and kind, whatever the number of runtimes. Sightings only move forward (the
//! larger time and epoch win), and fetch counts add up, so replicas sharing PostgreSQL write
//! the same rows without losing one another's.

use sextant_domain::{RuntimeId, SystemAuthId, TenantId};

use crate::error::StoreError;

/// What a server saw of one runtime's agent since its last batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentSighting {
    pub tenant: TenantId,
    pub runtime: RuntimeId,
    /// When the agent last asked for its configuration.
    pub last_seen: time::OffsetDateTime,
    /// The tenant's configuration epoch of the newest document the agent holds: it was sent
    /// that document, or confirmed it with its ETag (a 304).
    pub configuration_epoch: u64,
}

/// How many configuration requests a server answered for a tenant's runtimes in one minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchCount {
    pub tenant: TenantId,
    /// The minute's start (whole minutes since the Unix epoch).
    pub minute: time::OffsetDateTime,
    pub fetches: u64,
}

/// What is recorded of a runtime's agent, with its tenant's configuration epoch now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedAgent {
    pub runtime: RuntimeId,
    pub last_seen: time::OffsetDateTime,
    pub configuration_epoch: u64,
    /// The tenant's configuration epoch as the database holds it now.
    pub tenant_epoch: u64,
}

/// A runtime's newest client certificate that is neither revoked nor expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeCertificate {
    pub runtime: RuntimeId,
    /// The client (system auth) it was issued to.
    pub client: SystemAuthId,
    pub serial: Vec<u8>,
    pub not_before: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
}

/// The agent records of a transaction.
#[async_trait::async_trait]
pub trait AgentsTx: Send {
    /// Records sightings (one statement per run of rows under the bind limit): a runtime's
    /// time and epoch become the larger of the stored and the given ones.
    async fn record_agent_sightings(
        &mut self,
        sightings: &[AgentSighting],
    ) -> Result<(), StoreError>;
    /// Adds fetch counts to the stored ones (one statement per run of rows).
    async fn record_fetch_counts(&mut self, counts: &[FetchCount]) -> Result<(), StoreError>;
    /// Removes fetch counts of minutes before `before`, and sightings of runtimes that no
    /// longer exist; returns how many rows went.
    async fn prune_agent_records(
        &mut self,
        before: time::OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// What is recorded of these runtimes' agents (runtimes never seen are absent); one
    /// statement.
    async fn recorded_agents(
        &mut self,
        tenant: TenantId,
        runtimes: &[RuntimeId],
    ) -> Result<Vec<RecordedAgent>, StoreError>;
    /// Each of these runtimes' newest certificate that is valid at `now` (unrevoked, not
    /// expired); runtimes without one are absent. One statement.
    async fn runtime_certificates(
        &mut self,
        tenant: TenantId,
        runtimes: &[RuntimeId],
        now: time::OffsetDateTime,
    ) -> Result<Vec<RuntimeCertificate>, StoreError>;
    /// Fetch counts of the tenant per minute since `since` (minute start, count), oldest
    /// first; one statement.
    async fn fetch_counts(
        &mut self,
        tenant: TenantId,
        since: time::OffsetDateTime,
    ) -> Result<Vec<(time::OffsetDateTime, u64)>, StoreError>;
}

/// A `u64` as stored in a BIGINT (saturated).
pub(crate) fn stored_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A BIGINT read back as a `u64` (negatives, which are never written, as 0).
pub(crate) fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

macro_rules! agents_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::agents::AgentsTx for $Tx {
            async fn record_agent_sightings(
                &mut self,
                sightings: &[$crate::tx::agents::AgentSighting],
            ) -> Result<(), StoreError> {
                use $crate::tx::agents::stored_count;
                for chunk in $crate::tx::chunks::statement_chunks(sightings, 4, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(
                        "INSERT INTO runtime_agents (tenant_id, runtime_id, last_seen_at, \
                         configuration_epoch) ",
                    );
                    qb.push_values(chunk, |mut row, s| {
                        row.push_bind(s.tenant.0)
                            .push_bind(s.runtime.into_untyped())
                            .push_bind(to_micros(s.last_seen))
                            .push_bind(stored_count(s.configuration_epoch));
                    });
                    // Portable GREATEST: a replica's older batch never moves a row back.
                    qb.push(
                        " ON CONFLICT (tenant_id, runtime_id) DO UPDATE SET \
                         last_seen_at = CASE WHEN excluded.last_seen_at > \
                         runtime_agents.last_seen_at THEN excluded.last_seen_at \
                         ELSE runtime_agents.last_seen_at END, \
                         configuration_epoch = CASE WHEN excluded.configuration_epoch > \
                         runtime_agents.configuration_epoch THEN excluded.configuration_epoch \
                         ELSE runtime_agents.configuration_epoch END",
                    );
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn record_fetch_counts(
                &mut self,
                counts: &[$crate::tx::agents::FetchCount],
            ) -> Result<(), StoreError> {
                use $crate::tx::agents::stored_count;
                for chunk in $crate::tx::chunks::statement_chunks(counts, 3, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(
                        "INSERT INTO runtime_fetch_counts (tenant_id, minute, fetches) ",
                    );
                    qb.push_values(chunk, |mut row, c| {
                        row.push_bind(c.tenant.0)
                            .push_bind(to_micros(c.minute))
                            .push_bind(stored_count(c.fetches));
                    });
                    qb.push(
                        " ON CONFLICT (tenant_id, minute) DO UPDATE SET \
                         fetches = runtime_fetch_counts.fetches + excluded.fetches",
                    );
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn prune_agent_records(
                &mut self,
                before: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let counts = sqlx::query("DELETE FROM runtime_fetch_counts WHERE minute < $1")
                    .bind(to_micros(before))
                    .execute(self.conn())
                    .await?
                    .rows_affected();
                self.counter().inc();
                let agents = sqlx::query(
                    "DELETE FROM runtime_agents WHERE NOT EXISTS (SELECT 1 FROM runtimes r \
                     WHERE r.tenant_id = runtime_agents.tenant_id \
                     AND r.id = runtime_agents.runtime_id)",
                )
                .execute(self.conn())
                .await?
                .rows_affected();
                Ok(counts + agents)
            }

            async fn recorded_agents(
                &mut self,
                tenant: TenantId,
                runtimes: &[RuntimeId],
            ) -> Result<Vec<$crate::tx::agents::RecordedAgent>, StoreError> {
                use $crate::tx::agents::count_of;
                if runtimes.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT a.runtime_id, a.last_seen_at, a.configuration_epoch, \
                     COALESCE(e.epoch, 0) FROM runtime_agents a \
                     LEFT JOIN config_epochs e ON e.tenant_id = a.tenant_id \
                     WHERE a.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "a.runtime_id", runtimes);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::tx::agents::RecordedAgent {
                            runtime: RuntimeId::from_untyped(r.try_get::<Uuid, _>(0)?),
                            last_seen: from_micros(r.try_get(1)?)?,
                            configuration_epoch: count_of(r.try_get(2)?),
                            tenant_epoch: count_of(r.try_get(3)?),
                        })
                    })
                    .collect()
            }

            async fn runtime_certificates(
                &mut self,
                tenant: TenantId,
                runtimes: &[RuntimeId],
                now: time::OffsetDateTime,
            ) -> Result<Vec<$crate::tx::agents::RuntimeCertificate>, StoreError> {
                if runtimes.is_empty() {
                    return Ok(Vec::new());
                }
                // Every valid certificate of the runtimes' clients, newest first per runtime
                // (a runtime holds a few: renewal overlaps lives); the first of each is kept.
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT a.runtime_id, c.serial, c.not_after, c.client_id, c.not_before \
                     FROM system_auths a \
                     JOIN issued_certificates c ON c.client_id = a.id \
                     AND c.tenant_id = a.tenant_id \
                     WHERE a.tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "a.runtime_id", runtimes);
                qb.push(" AND c.revoked_at IS NULL AND c.not_after > ");
                qb.push_bind(to_micros(now));
                qb.push(" ORDER BY a.runtime_id, c.not_after DESC, c.serial");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                let mut out: Vec<$crate::tx::agents::RuntimeCertificate> = Vec::new();
                for r in &rows {
                    let runtime = RuntimeId::from_untyped(r.try_get::<Uuid, _>(0)?);
                    if out.last().is_some_and(|c| c.runtime == runtime) {
                        continue;
                    }
                    out.push($crate::tx::agents::RuntimeCertificate {
                        runtime,
                        client: sextant_domain::SystemAuthId::from_untyped(r.try_get(3)?),
                        serial: r.try_get(1)?,
                        not_before: from_micros(r.try_get(4)?)?,
                        not_after: from_micros(r.try_get(2)?)?,
                    });
                }
                Ok(out)
            }

            async fn fetch_counts(
                &mut self,
                tenant: TenantId,
                since: time::OffsetDateTime,
            ) -> Result<Vec<(time::OffsetDateTime, u64)>, StoreError> {
                use $crate::tx::agents::count_of;
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT minute, fetches FROM runtime_fetch_counts \
                     WHERE tenant_id = $1 AND minute >= $2 ORDER BY minute",
                )
                .bind(tenant.0)
                .bind(to_micros(since))
                .fetch_all(self.conn())
                .await?;
                rows.iter()
                    .map(|r| Ok((from_micros(r.try_get(0)?)?, count_of(r.try_get(1)?))))
                    .collect()
            }
        }
    };
}
