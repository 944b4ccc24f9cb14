//! Fan-outs: the events a change causes, recorded as one row (`webhook_fan_outs`) that names
//! them by scenarios and ids, until the notifier (or a later change that would alter their
//! set) expands them into deliveries.

use sextant_domain::{ApiDefinitionId, ApplicationId, RuntimeId, TenantId};
use uuid::Uuid;

use crate::error::StoreError;

/// A set of events a change causes, described by scenarios and ids, so that the store finds
/// the applications, runtimes and APIs concerned and queues their deliveries whatever their
/// number. Only applications with a webhook are looked at: the others have nobody to tell.
#[derive(Clone, Copy, Debug)]
pub enum EventFanOut<'a> {
    /// `CONFIGURATION_CHANGED` about `runtime` to each application in any of `scenarios`.
    ConfigurationChanged {
        runtime: RuntimeId,
        scenarios: &'a [String],
    },
    /// `CREDENTIALS_REQUESTED` by `runtime`, which newly sees the applications in any of
    /// `joined` and in none of `seen`: one per API of theirs without a default auth for which
    /// the runtime has no credentials.
    RuntimeSeesApplications {
        runtime: RuntimeId,
        joined: &'a [String],
        seen: &'a [String],
    },
    /// `CREDENTIALS_REQUESTED` to `app`, newly seen by the runtimes in any of `joined` and in
    /// none of `seen`: one per runtime and API of `app` (only those of `apis`, when given)
    /// without a default auth for which the runtime has no credentials.
    RuntimesSeeApplication {
        app: ApplicationId,
        apis: Option<&'a [ApiDefinitionId]>,
        joined: &'a [String],
        seen: &'a [String],
    },
}

/// The kind of a recorded fan-out, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanOutKind {
    /// [`EventFanOut::ConfigurationChanged`].
    ConfigurationChanged,
    /// [`EventFanOut::RuntimeSeesApplications`].
    RuntimeSeesApplications,
    /// [`EventFanOut::RuntimesSeeApplication`].
    RuntimesSeeApplication,
}

impl FanOutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FanOutKind::ConfigurationChanged => "configuration_changed",
            FanOutKind::RuntimeSeesApplications => "runtime_sees_applications",
            FanOutKind::RuntimesSeeApplication => "runtimes_see_application",
        }
    }

    pub fn parse(text: &str) -> Option<FanOutKind> {
        [
            FanOutKind::ConfigurationChanged,
            FanOutKind::RuntimeSeesApplications,
            FanOutKind::RuntimesSeeApplication,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// A fan-out recorded by a change and not yet (or not completely) expanded into deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFanOut {
    /// Its place in the order of recording.
    pub seq: i64,
    pub tenant: TenantId,
    pub kind: FanOutKind,
    /// The runtime of `ConfigurationChanged` and `RuntimeSeesApplications`.
    pub runtime: Option<RuntimeId>,
    /// The application of `RuntimesSeeApplication`.
    pub app: Option<ApplicationId>,
    /// The APIs of `RuntimesSeeApplication`, when limited to some.
    pub apis: Option<Vec<ApiDefinitionId>>,
    /// The scenarios told (`ConfigurationChanged`) or joined.
    pub joined: Vec<String>,
    /// The scenarios seen before (empty for `ConfigurationChanged`).
    pub seen: Vec<String>,
    /// The events' time.
    pub time: time::OffsetDateTime,
    /// Keys (application or runtime ids) up to this one are expanded already.
    pub done_through: Option<Uuid>,
}

impl PendingFanOut {
    /// The fan-out it records; None if the row is incomplete.
    pub fn fan_out(&self) -> Option<EventFanOut<'_>> {
        Some(match self.kind {
            FanOutKind::ConfigurationChanged => EventFanOut::ConfigurationChanged {
                runtime: self.runtime?,
                scenarios: &self.joined,
            },
            FanOutKind::RuntimeSeesApplications => EventFanOut::RuntimeSeesApplications {
                runtime: self.runtime?,
                joined: &self.joined,
                seen: &self.seen,
            },
            FanOutKind::RuntimesSeeApplication => EventFanOut::RuntimesSeeApplication {
                app: self.app?,
                apis: self.apis.as_deref(),
                joined: &self.joined,
                seen: &self.seen,
            },
        })
    }

    /// Whether any of `scenarios` is one the fan-out's set is decided by.
    pub fn concerns_scenarios<'a>(&self, scenarios: impl IntoIterator<Item = &'a String>) -> bool {
        scenarios
            .into_iter()
            .any(|s| self.joined.contains(s) || self.seen.contains(s))
    }
}

impl EventFanOut<'_> {
    /// Whether it cannot cause any event, whatever the state.
    pub fn is_empty(&self) -> bool {
        match self {
            EventFanOut::ConfigurationChanged { scenarios, .. } => scenarios.is_empty(),
            EventFanOut::RuntimeSeesApplications { joined, .. } => joined.is_empty(),
            EventFanOut::RuntimesSeeApplication { apis, joined, .. } => {
                joined.is_empty() || apis.is_some_and(|a| a.is_empty())
            }
        }
    }
}

/// The fan-out operations of a transaction.
#[async_trait::async_trait]
pub trait FanOutsTx: Send {
    /// Records the events of `fan_out` in `tenant`, stamped `time`, as one row (one
    /// statement, whatever the number of events), to be expanded into deliveries for every
    /// webhook of their application by [`FanOutsTx::expand_next_fan_out`] (the notifier) or
    /// [`FanOutsTx::expand_fan_out`]. Each event then gets its own id, shared by its
    /// deliveries, and the body [`sextant_domain::delivery::WebhookEvent::body`] gives it. Nothing is recorded (false)
    /// when the fan-out cannot cause an event or the tenant has no webhook.
    ///
    /// The deliveries are those of the state when they are expanded: a change that alters
    /// the set a pending fan-out concerns must expand it first (see
    /// [`FanOutsTx::pending_fan_outs`]).
    async fn enqueue_webhook_events(
        &mut self,
        tenant: TenantId,
        fan_out: EventFanOut<'_>,
        time: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The fan-outs of `tenant` not yet completely expanded, oldest first: those of the
    /// `kinds`, and those of the application `app` or the runtime `runtime`.
    async fn pending_fan_outs(
        &mut self,
        tenant: TenantId,
        kinds: &[FanOutKind],
        app: Option<ApplicationId>,
        runtime: Option<RuntimeId>,
    ) -> Result<Vec<PendingFanOut>, StoreError>;
    /// Expands what remains of the fan-out `seq` (waiting for a replica expanding it now)
    /// into deliveries and removes it; how many deliveries were queued (0 if it is gone).
    /// Costs three statements whatever the number of events.
    async fn expand_fan_out(&mut self, seq: i64) -> Result<u64, StoreError>;
    /// Expands the next batch of the oldest fan-out no other replica is expanding (the
    /// events of at most `keys` applications with a webhook, or runtimes with scenarios),
    /// and while that finishes it and little was queued, the next fan-outs likewise (up to
    /// 64); the deliveries queued, or None when no fan-out waits.
    async fn expand_next_fan_out(&mut self, keys: i64) -> Result<Option<u64>, StoreError>;
    /// Whether any fan-out waits to be expanded (a cheap read).
    async fn has_pending_fan_outs(&mut self) -> Result<bool, StoreError>;
}

/// At most this many fan-outs are expanded in one transaction of the notifier...
pub(crate) const FAN_OUTS_PER_TRANSACTION: usize = 64;
/// ... and it stops after a fan-out that brought the deliveries queued to this many.
pub(crate) const DELIVERIES_PER_TRANSACTION: u64 = 128;

pub(crate) const FAN_OUT_COLUMNS: &str = "seq, tenant_id, kind, runtime_id, app_id, apis, joined, seen, \
     event_time, done_through";

macro_rules! fan_outs_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn fan_out_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<$crate::tx::delivery::fan_outs::PendingFanOut, StoreError> {
                let kind: String = row.try_get(2)?;
                let list = |i: usize| -> Result<Vec<String>, StoreError> {
                    let text: String = row.try_get(i)?;
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("fan-out scenarios: {e}")))
                };
                let apis: Option<String> = row.try_get(5)?;
                Ok($crate::tx::delivery::fan_outs::PendingFanOut {
                    seq: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    kind: $crate::tx::delivery::fan_outs::FanOutKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("fan-out kind {kind}")))?,
                    runtime: row
                        .try_get::<Option<Uuid>, _>(3)?
                        .map(sextant_domain::RuntimeId::from_untyped),
                    app: row
                        .try_get::<Option<Uuid>, _>(4)?
                        .map(sextant_domain::ApplicationId::from_untyped),
                    apis: apis
                        .map(|text| serde_json::from_str(&text))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("fan-out APIs: {e}")))?,
                    joined: list(6)?,
                    seen: list(7)?,
                    time: from_micros(row.try_get(8)?)?,
                    done_through: row.try_get(9)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::delivery::fan_outs::FanOutsTx for $Tx {
            async fn enqueue_webhook_events(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::tx::delivery::fan_outs::EventFanOut<'_>,
                time: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                use $crate::tx::delivery::fan_outs::{EventFanOut as F, FanOutKind as K};
                if fan_out.is_empty() {
                    return Ok(false);
                }
                let (kind, runtime, app, apis, joined, seen) = match fan_out {
                    F::ConfigurationChanged { runtime, scenarios } => (
                        K::ConfigurationChanged,
                        Some(runtime),
                        None,
                        None,
                        scenarios,
                        &[][..],
                    ),
                    F::RuntimeSeesApplications {
                        runtime,
                        joined,
                        seen,
                    } => (
                        K::RuntimeSeesApplications,
                        Some(runtime),
                        None,
                        None,
                        joined,
                        seen,
                    ),
                    F::RuntimesSeeApplication {
                        app,
                        apis,
                        joined,
                        seen,
                    } => (
                        K::RuntimesSeeApplication,
                        None,
                        Some(app),
                        apis,
                        joined,
                        seen,
                    ),
                };
                let apis = apis
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let joined = serde_json::to_string(joined)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let seen =
                    serde_json::to_string(seen).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                self.counter().inc();
                // Only tenants with a webhook have anybody to tell.
                let done = sqlx::query(
                    "INSERT INTO webhook_fan_outs (tenant_id, kind, runtime_id, app_id, apis, \
                     joined, seen, event_time, done_through) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, NULL \
                     WHERE EXISTS (SELECT 1 FROM webhooks WHERE tenant_id = $1)",
                )
                .bind(tenant.0)
                .bind(kind.as_str())
                .bind(runtime.map(sextant_domain::RuntimeId::into_untyped))
                .bind(app.map(sextant_domain::ApplicationId::into_untyped))
                .bind(apis)
                .bind(joined)
                .bind(seen)
                .bind(to_micros(time))
                .execute(self.conn())
                .await?;
                let recorded = done.rows_affected() > 0;
                if recorded {
                    self.announced.note($crate::epochs::Announcement::Outbox);
                }
                Ok(recorded)
            }

            async fn pending_fan_outs(
                &mut self,
                tenant: TenantId,
                kinds: &[$crate::tx::delivery::fan_outs::FanOutKind],
                app: Option<sextant_domain::ApplicationId>,
                runtime: Option<sextant_domain::RuntimeId>,
            ) -> Result<Vec<$crate::tx::delivery::fan_outs::PendingFanOut>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {} FROM webhook_fan_outs WHERE tenant_id = ",
                    $crate::tx::delivery::fan_outs::FAN_OUT_COLUMNS
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND (1 = 0");
                for kind in kinds {
                    qb.push(" OR kind = ");
                    qb.push_bind(kind.as_str());
                }
                if let Some(app) = app {
                    qb.push(" OR app_id = ");
                    qb.push_bind(app.into_untyped());
                }
                if let Some(runtime) = runtime {
                    qb.push(" OR runtime_id = ");
                    qb.push_bind(runtime.into_untyped());
                }
                qb.push(") ORDER BY seq");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::fan_out_from_row).collect()
            }

            async fn expand_fan_out(&mut self, seq: i64) -> Result<u64, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM webhook_fan_outs WHERE seq = $1{}",
                    $crate::tx::delivery::fan_outs::FAN_OUT_COLUMNS,
                    Self::lock_waiting()
                )))
                .bind(seq)
                .fetch_optional(self.conn())
                .await?;
                let Some(row) = row else { return Ok(0) };
                let pending = Self::fan_out_from_row(&row)?;
                Ok(self.expand_batch(&pending, None).await?.0)
            }

            async fn expand_next_fan_out(&mut self, keys: i64) -> Result<Option<u64>, StoreError> {
                let mut queued_total: Option<u64> = None;
                // Small fan-outs (a handful of applications) are expanded several to a
                // transaction; a large one one batch at a time.
                for _ in 0..$crate::tx::delivery::fan_outs::FAN_OUTS_PER_TRANSACTION {
                    self.counter().inc();
                    let row = sqlx::query(AssertSqlSafe(format!(
                        "SELECT {} FROM webhook_fan_outs ORDER BY seq LIMIT 1{}",
                        $crate::tx::delivery::fan_outs::FAN_OUT_COLUMNS,
                        Self::lock_skipping()
                    )))
                    .fetch_optional(self.conn())
                    .await?;
                    let Some(row) = row else { break };
                    let pending = Self::fan_out_from_row(&row)?;
                    let (queued, finished) = self.expand_batch(&pending, Some(keys)).await?;
                    let total = queued_total.unwrap_or(0) + queued;
                    queued_total = Some(total);
                    if !finished
                        || total >= $crate::tx::delivery::fan_outs::DELIVERIES_PER_TRANSACTION
                    {
                        break;
                    }
                }
                Ok(queued_total)
            }

            async fn has_pending_fan_outs(&mut self) -> Result<bool, StoreError> {
                self.counter().inc();
                let row = sqlx::query("SELECT 1 FROM webhook_fan_outs LIMIT 1")
                    .fetch_optional(self.conn())
                    .await?;
                Ok(row.is_some())
            }
        }
    };
}
