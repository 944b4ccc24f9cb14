//! When runtimes' agents were last seen, and which configuration they hold, kept in memory
//! by the configuration endpoint (so a 304 costs no statement) and written in batches by a
//! background task ([`AgentFlush`]): one statement per batch for the sightings and one for
//! the per-minute fetch counts, every [`AGENT_FLUSH_INTERVAL`] and at shutdown.
//!
//! A sighting carries the tenant's configuration epoch of the document the agent holds:
//! the epoch the document sent (200) or confirmed by its ETag (304, or a long poll that is
//! still waiting after the document was rebuilt with the same version) was built at. The
//! Director compares it with the tenant's current epoch (`Runtime.agent`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_domain::{RuntimeId, TenantId};
use sextant_store::{AgentSighting, FetchCount, Store};
use time::OffsetDateTime;

/// How often what the configuration endpoint saw is written.
pub const AGENT_FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// How long per-minute fetch counts are kept (the dashboard shows the last hour).
const FETCH_COUNTS_KEPT: time::Duration = time::Duration::hours(2);

/// How often old fetch counts, and sightings of deleted runtimes, are removed.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// What the configuration endpoint saw since the last batch.
#[derive(Default)]
pub(crate) struct AgentSightings {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    sightings: HashMap<RuntimeId, AgentSighting>,
    /// (tenant, minute start in whole minutes since the Unix epoch) → requests answered.
    fetches: HashMap<(TenantId, i64), u64>,
}

impl Pending {
    fn see(&mut self, s: AgentSighting) {
        self.sightings
            .entry(s.runtime)
            .and_modify(|known| {
                known.last_seen = known.last_seen.max(s.last_seen);
                known.configuration_epoch = known.configuration_epoch.max(s.configuration_epoch);
            })
            .or_insert(s);
    }
}

fn minute_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(60)
}

impl AgentSightings {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The runtime's agent holds the document built at `epoch` of its tenant, now.
    pub(crate) fn saw(&self, tenant: TenantId, runtime: RuntimeId, epoch: u64) {
        self.pending().see(AgentSighting {
            tenant,
            runtime,
            last_seen: OffsetDateTime::now_utc(),
            configuration_epoch: epoch,
        });
    }

    /// A configuration request of a runtime of `tenant` was answered now.
    pub(crate) fn answered(&self, tenant: TenantId) {
        let minute = minute_of(OffsetDateTime::now_utc());
        *self.pending().fetches.entry((tenant, minute)).or_insert(0) += 1;
    }

    /// Takes what waits to be written.
    fn take(&self) -> (Vec<AgentSighting>, Vec<FetchCount>) {
        let pending = std::mem::take(&mut *self.pending());
        let mut sightings: Vec<AgentSighting> = pending.sightings.into_values().collect();
        // One order for every batch, so concurrent batches of replicas lock rows alike.
        sightings.sort_unstable_by_key(|s| (s.tenant.0, s.runtime.into_untyped()));
        let mut fetches: Vec<FetchCount> = pending
            .fetches
            .into_iter()
            .filter_map(|((tenant, minute), fetches)| {
                Some(FetchCount {
                    tenant,
                    minute: OffsetDateTime::from_unix_timestamp(minute.checked_mul(60)?).ok()?,
                    fetches,
                })
            })
            .collect();
        fetches.sort_unstable_by_key(|c| (c.tenant.0, c.minute));
        (sightings, fetches)
    }

    /// Puts back a batch that could not be written (merged with what came since).
    fn put_back(&self, sightings: Vec<AgentSighting>, fetches: Vec<FetchCount>) {
        let mut pending = self.pending();
        for s in sightings {
            pending.see(s);
        }
        for c in fetches {
            *pending
                .fetches
                .entry((c.tenant, minute_of(c.minute)))
                .or_insert(0) += c.fetches;
        }
    }
}

/// Writes what the configuration endpoint saw, every [`AGENT_FLUSH_INTERVAL`].
pub(crate) struct AgentFlush {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sightings: Arc<AgentSightings>,
    pub(crate) last_prune: Option<tokio::time::Instant>,
}

impl AgentFlush {
    pub(crate) fn schedule(interval: Duration) -> Schedule {
        Schedule::every(interval).after_first_period()
    }

    /// Writes one batch (and prunes when due): one transaction.
    pub(crate) async fn flush(&mut self) -> Result<(), TaskError> {
        let prune = self
            .last_prune
            .is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL);
        let (sightings, fetches) = self.sightings.take();
        if sightings.is_empty() && fetches.is_empty() && !prune {
            return Ok(());
        }
        match self.write(&sightings, &fetches, prune).await {
            Ok(()) => {
                if prune {
                    self.last_prune = Some(tokio::time::Instant::now());
                }
                Ok(())
            }
            Err(e) => {
                self.sightings.put_back(sightings, fetches);
                Err(e)
            }
        }
    }

    async fn write(
        &self,
        sightings: &[AgentSighting],
        fetches: &[FetchCount],
        prune: bool,
    ) -> Result<(), TaskError> {
        let mut tx = self.store.write().await?;
        tx.record_agent_sightings(sightings).await?;
        tx.record_fetch_counts(fetches).await?;
        if prune {
            tx.prune_agent_records(OffsetDateTime::now_utc() - FETCH_COUNTS_KEPT)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl BackgroundTask for AgentFlush {
    fn name(&self) -> &'static str {
        "runtime agent sightings"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        self.flush().await?;
        Ok(Progress::Idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sightings_keep_the_latest_time_and_epoch_and_counts_add_up() {
        let seen = AgentSightings::default();
        let tenant = TenantId(uuid::Uuid::new_v4());
        let runtime = RuntimeId::from_untyped(uuid::Uuid::new_v4());
        seen.saw(tenant, runtime, 5);
        seen.saw(tenant, runtime, 3);
        seen.answered(tenant);
        seen.answered(tenant);
        let (sightings, fetches) = seen.take();
        assert_eq!(sightings.len(), 1);
        assert_eq!(sightings[0].configuration_epoch, 5);
        assert_eq!(fetches.iter().map(|c| c.fetches).sum::<u64>(), 2);
        seen.saw(tenant, runtime, 4);
        seen.put_back(sightings, fetches);
        let (sightings, fetches) = seen.take();
        assert_eq!(sightings[0].configuration_epoch, 5);
        assert_eq!(fetches.iter().map(|c| c.fetches).sum::<u64>(), 2);
        assert_eq!(seen.take(), (Vec::new(), Vec::new()));
    }
}
