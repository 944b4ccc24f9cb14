//! The webhook outbox in a transaction: [`DeliveryTx`] is a supertrait of [`crate::Tx`],
//! implemented once for both backends by `delivery_tx!`.

use sextant_domain::TenantId;
use sextant_domain::delivery::Delivery;
use uuid::Uuid;

use crate::StoreError;

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered { at: time::OffsetDateTime },
    /// Failed; try again at `next`.
    Retry {
        at: time::OffsetDateTime,
        error: String,
        next: time::OffsetDateTime,
    },
    /// Failed and the retry period is over (or the webhook is gone): give up.
    GaveUp {
        at: time::OffsetDateTime,
        error: String,
    },
}

/// A set of events a change causes, described by scenarios and ids, so that the store finds
/// the applications, runtimes and APIs concerned and queues their deliveries whatever their
/// number. Only applications with a webhook are looked at: the others have nobody to tell.
#[derive(Clone, Copy, Debug)]
pub enum EventFanOut<'a> {
    /// `CONFIGURATION_CHANGED` about `runtime` to each application in any of `scenarios`.
    ConfigurationChanged {
        runtime: Uuid,
        scenarios: &'a [String],
    },
    /// `CREDENTIALS_REQUESTED` by `runtime`, which newly sees the applications in any of
    /// `joined` and in none of `seen`: one per API of theirs without a default auth for which
    /// the runtime has no credentials.
    RuntimeSeesApplications {
        runtime: Uuid,
        joined: &'a [String],
        seen: &'a [String],
    },
    /// `CREDENTIALS_REQUESTED` to `app`, newly seen by the runtimes in any of `joined` and in
    /// none of `seen`: one per runtime and API of `app` (only those of `apis`, when given)
    /// without a default auth for which the runtime has no credentials.
    RuntimesSeeApplication {
        app: Uuid,
        apis: Option<&'a [Uuid]>,
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
    pub runtime: Option<Uuid>,
    /// The application of `RuntimesSeeApplication`.
    pub app: Option<Uuid>,
    /// The APIs of `RuntimesSeeApplication`, when limited to some.
    pub apis: Option<Vec<Uuid>>,
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

/// The outbox operations of a transaction.
#[async_trait::async_trait]
pub trait DeliveryTx: Send {
    /// Records the events of `fan_out` in `tenant`, stamped `time`, as one row (one
    /// statement, whatever the number of events), to be expanded into deliveries for every
    /// webhook of their application by [`DeliveryTx::expand_next_fan_out`] (the notifier) or
    /// [`DeliveryTx::expand_fan_out`]. Each event then gets its own id, shared by its
    /// deliveries, and the body [`sextant_domain::delivery::WebhookEvent::body`] gives it. Nothing is recorded (false)
    /// when the fan-out cannot cause an event or the tenant has no webhook.
    ///
    /// The deliveries are those of the state when they are expanded: a change that alters
    /// the set a pending fan-out concerns must expand it first (see
    /// [`DeliveryTx::pending_fan_outs`]).
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
        app: Option<Uuid>,
        runtime: Option<Uuid>,
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
    /// Leases up to `limit` due pending deliveries (next attempt at or before `now`, no live
    /// lease) to `owner` until `until`, oldest due first. Of concurrent claims on any replica,
    /// each delivery goes to one.
    async fn claim_deliveries(
        &mut self,
        owner: Uuid,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt if `owner` still holds the delivery's lease; false otherwise.
    async fn finish_attempt(
        &mut self,
        id: Uuid,
        owner: Uuid,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;
    /// A webhook's deliveries, newest first.
    async fn deliveries_of_webhook(
        &mut self,
        tenant: TenantId,
        webhook: Uuid,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Whether any pending delivery is due at `now` (a cheap read before claiming).
    async fn has_due_deliveries(&mut self, now: time::OffsetDateTime) -> Result<bool, StoreError>;
    /// How many deliveries wait (the queue's depth).
    async fn pending_deliveries(&mut self) -> Result<i64, StoreError>;
    /// Replaces a webhook's signing secret; false if there is no such webhook.
    async fn set_webhook_secret(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        secret: &str,
    ) -> Result<bool, StoreError>;
    /// Marks a webhook failing since `since`, or (None) not failing.
    async fn set_webhook_failing(
        &mut self,
        tenant: TenantId,
        id: Uuid,
        since: Option<time::OffsetDateTime>,
    ) -> Result<(), StoreError>;
}

/// The hyphenated text of a random UUID without its last 8 hex digits: with a per-row
/// counter appended it gives a statement's rows distinct UUIDs (90 random bits shared by the
/// statement, then the counter), computed in SQL on both backends.
pub(crate) fn uuid_prefix() -> String {
    let mut text = Uuid::new_v4().hyphenated().to_string();
    text.truncate(28);
    text
}

/// At most this many fan-outs are expanded in one transaction of the notifier...
pub(crate) const FAN_OUTS_PER_TRANSACTION: usize = 64;
/// ... and it stops after a fan-out that brought the deliveries queued to this many.
pub(crate) const DELIVERIES_PER_TRANSACTION: u64 = 128;

pub(crate) const FAN_OUT_COLUMNS: &str = "seq, tenant_id, kind, runtime_id, app_id, apis, joined, seen, \
     event_time, done_through";

pub(crate) const DELIVERY_COLUMNS: &str = "id, event_id, tenant_id, webhook_id, app_id, event_type, body, state, \
     attempts, created_at, next_attempt_at, last_attempt_at, last_error, delivered_at";

macro_rules! delivery_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn delivery_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::delivery::Delivery, StoreError> {
                use sextant_domain::delivery::{DeliveryState, WebhookEventType};
                let ty: String = row.try_get(5)?;
                let state: String = row.try_get(7)?;
                let attempts: i64 = row.try_get(8)?;
                let time = |i: usize| -> Result<Option<time::OffsetDateTime>, StoreError> {
                    row.try_get::<Option<i64>, _>(i)?
                        .map(from_micros)
                        .transpose()
                };
                Ok(sextant_domain::delivery::Delivery {
                    id: row.try_get(0)?,
                    event_id: row.try_get(1)?,
                    tenant: TenantId(row.try_get(2)?),
                    webhook_id: row.try_get(3)?,
                    application_id: row.try_get(4)?,
                    event_type: WebhookEventType::parse(&ty)
                        .ok_or_else(|| StoreError::Corrupt(format!("event type {ty}")))?,
                    body: row.try_get(6)?,
                    state: DeliveryState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state}")))?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    created_at: from_micros(row.try_get(9)?)?,
                    next_attempt_at: from_micros(row.try_get(10)?)?,
                    last_attempt_at: time(11)?,
                    last_error: row.try_get(12)?,
                    delivered_at: time(13)?,
                })
            }

            /// Pushes the `SELECT` of the events of `fan_out` (their varying ids, one row per
            /// event: `app_id`, `app_id, api_id` or `runtime_id, api_id`), limited to the keys
            /// (the first column) after `after` and up to `through`; false if it can have none.
            /// Each is driven by an index in key order (applications with a webhook; runtimes
            /// with scenarios), the rest looked up per key, so a batch costs its own size.
            fn push_fan_out_candidates(
                qb: &mut sqlx::QueryBuilder<$Db>,
                tenant: TenantId,
                fan_out: $crate::delivery::EventFanOut<'_>,
                after: Option<Uuid>,
                through: Option<Uuid>,
            ) -> bool {
                use $crate::delivery::EventFanOut as F;
                if fan_out.is_empty() {
                    return false;
                }
                let key = sextant_domain::label::SCENARIOS_KEY;
                let in_scenarios = |scenarios: &[String]| {
                    $crate::tx::labels::ResolvedFilter::AnyOf(key.to_owned(), scenarios.to_vec())
                };
                // Whether the application `w.app_id` has a scenarios label matching `scenarios`.
                let app_in = |qb: &mut sqlx::QueryBuilder<$Db>, scenarios: &[String]| {
                    qb.push("(SELECT 1 FROM application_labels l WHERE l.tenant_id = ");
                    qb.push_bind(tenant.0);
                    qb.push(" AND l.app_id = w.app_id AND l.key = ");
                    qb.push_bind(key);
                    Self::push_value_match(qb, &in_scenarios(scenarios));
                    qb.push(")");
                };
                let range = |qb: &mut sqlx::QueryBuilder<$Db>, column: &str| {
                    if let Some(after) = after {
                        qb.push(format!(" AND {column} > "));
                        qb.push_bind(after);
                    }
                    if let Some(through) = through {
                        qb.push(format!(" AND {column} <= "));
                        qb.push_bind(through);
                    }
                };
                // w: the applications with a webhook, in the range.
                let with_webhooks = |qb: &mut sqlx::QueryBuilder<$Db>| {
                    qb.push("(SELECT DISTINCT h.app_id AS app_id FROM webhooks h WHERE h.tenant_id = ");
                    qb.push_bind(tenant.0);
                    range(qb, "h.app_id");
                    qb.push(") w");
                };
                match fan_out {
                    F::ConfigurationChanged { scenarios, .. } => {
                        qb.push("SELECT w.app_id AS app_id FROM ");
                        with_webhooks(qb);
                        qb.push(" WHERE EXISTS ");
                        app_in(qb, scenarios);
                    }
                    F::RuntimeSeesApplications { runtime, joined, seen } => {
                        qb.push("SELECT w.app_id AS app_id, d.id AS api_id FROM ");
                        with_webhooks(qb);
                        qb.push(" JOIN api_definitions d ON d.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND d.app_id = w.app_id AND d.default_auth IS NULL WHERE EXISTS ");
                        app_in(qb, joined);
                        if !seen.is_empty() {
                            qb.push(" AND NOT EXISTS ");
                            app_in(qb, seen);
                        }
                        qb.push(" AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = ");
                        qb.push_bind(runtime);
                        qb.push(")");
                    }
                    F::RuntimesSeeApplication { app, apis, joined, seen } => {
                        // r: the runtimes in the range in any of `joined`, through the labels'
                        // primary key, in runtime order.
                        qb.push(
                            "SELECT r.runtime_id AS runtime_id, d.id AS api_id FROM \
                             (SELECT l.runtime_id AS runtime_id FROM runtime_labels l WHERE l.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        qb.push(format!(" AND {}l.key = ", Self::no_index()));
                        qb.push_bind(key);
                        range(qb, "l.runtime_id");
                        Self::push_value_match(qb, &in_scenarios(joined));
                        qb.push(") r JOIN api_definitions d ON d.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND d.app_id = ");
                        qb.push_bind(app);
                        qb.push(" AND d.default_auth IS NULL");
                        if let Some(apis) = apis {
                            qb.push(" AND d.id IN ");
                            Self::push_id_list(qb, apis);
                        }
                        qb.push(" WHERE EXISTS (SELECT 1 FROM webhooks h WHERE h.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND h.app_id = ");
                        qb.push_bind(app);
                        qb.push(")");
                        if !seen.is_empty() {
                            qb.push(" AND NOT EXISTS (SELECT 1 FROM runtime_labels l WHERE l.tenant_id = ");
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.runtime_id = r.runtime_id AND l.key = ");
                            qb.push_bind(key);
                            Self::push_value_match(qb, &in_scenarios(seen));
                            qb.push(")");
                        }
                        qb.push(" AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = r.runtime_id)");
                    }
                }
                true
            }

            /// The key that ends the next batch of `fan_out` after `after`: the `keys`-th
            /// application with a webhook (runtime with scenarios) after it, whether or not
            /// it is concerned, so that finding it costs the batch's size; None if fewer remain
            /// (the batch is the rest).
            async fn fan_out_batch_end(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::delivery::EventFanOut<'_>,
                after: Option<Uuid>,
                keys: i64,
            ) -> Result<Option<Uuid>, StoreError> {
                use $crate::delivery::EventFanOut as F;
                let mut qb = match fan_out {
                    F::RuntimesSeeApplication { .. } => {
                        let mut qb = sqlx::QueryBuilder::<$Db>::new(
                            "SELECT l.runtime_id FROM runtime_labels l WHERE l.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        qb.push(format!(" AND {}l.key = ", Self::no_index()));
                        qb.push_bind(sextant_domain::label::SCENARIOS_KEY);
                        if let Some(after) = after {
                            qb.push(" AND l.runtime_id > ");
                            qb.push_bind(after);
                        }
                        qb.push(" ORDER BY l.runtime_id");
                        qb
                    }
                    _ => {
                        let mut qb = sqlx::QueryBuilder::<$Db>::new(
                            "SELECT DISTINCT h.app_id FROM webhooks h WHERE h.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        if let Some(after) = after {
                            qb.push(" AND h.app_id > ");
                            qb.push_bind(after);
                        }
                        qb.push(" ORDER BY h.app_id");
                        qb
                    }
                };
                qb.push(" LIMIT 1 OFFSET ");
                qb.push_bind(keys.max(1) - 1);
                self.counter().inc();
                let key: Option<Uuid> = qb
                    .build_query_scalar()
                    .fetch_optional(self.conn())
                    .await?;
                Ok(key)
            }

            /// Queues the deliveries of the events of `fan_out` whose keys are after `after`
            /// and up to `through`, in one statement; how many.
            async fn insert_fan_out_deliveries(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::delivery::EventFanOut<'_>,
                time: time::OffsetDateTime,
                after: Option<Uuid>,
                through: Option<Uuid>,
            ) -> Result<u64, StoreError> {
                use $crate::delivery::EventFanOut as F;
                use sextant_domain::delivery::{WebhookEvent, WebhookEventType as T};
                // The bodies are what `WebhookEvent::body` writes: a template with placeholder
                // ids (fresh random UUIDs, so they occur nowhere else in it) that SQL replaces
                // with each event's.
                let (p_event, p_app, p_runtime, p_api) =
                    (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
                let (event_type, template_app, template_runtime, template_api, varying, order) =
                    match fan_out {
                        F::ConfigurationChanged { runtime, .. } => (
                            T::ConfigurationChanged,
                            p_app,
                            runtime,
                            None,
                            vec![(p_app, "app_id")],
                            "app_id",
                        ),
                        F::RuntimeSeesApplications { runtime, .. } => (
                            T::CredentialsRequested,
                            p_app,
                            runtime,
                            Some(p_api),
                            vec![(p_app, "app_id"), (p_api, "api_id")],
                            "app_id, api_id",
                        ),
                        F::RuntimesSeeApplication { app, .. } => (
                            T::CredentialsRequested,
                            app,
                            p_runtime,
                            Some(p_api),
                            vec![(p_runtime, "runtime_id"), (p_api, "api_id")],
                            "runtime_id, api_id",
                        ),
                    };
                let template = WebhookEvent {
                    id: p_event,
                    event_type,
                    tenant,
                    application_id: template_app,
                    runtime_id: template_runtime,
                    api_definition_id: template_api,
                    time,
                }
                .body();

                let mut qb = sqlx::QueryBuilder::<$Db>::new("WITH c AS (");
                if !Self::push_fan_out_candidates(&mut qb, tenant, fan_out, after, through) {
                    return Ok(0);
                }
                // e: each event's id (as text), numbered within the statement.
                qb.push("), e AS (SELECT c.*, ");
                qb.push_bind($crate::delivery::uuid_prefix());
                qb.push(format!(
                    " || {} AS event_text FROM c) INSERT INTO webhook_deliveries ({}) SELECT ",
                    Self::sql_hex8(&format!("row_number() OVER (ORDER BY {order})")),
                    $crate::delivery::DELIVERY_COLUMNS
                ));
                let (open, close) = Self::sql_uuid_of_text();
                qb.push(open);
                qb.push_bind($crate::delivery::uuid_prefix());
                qb.push(format!(
                    " || {}{close}, {open}e.event_text{close}, ",
                    Self::sql_hex8("row_number() OVER (ORDER BY e.event_text, w.id)")
                ));
                qb.push_bind(tenant.0);
                qb.push(", w.id, ");
                match fan_out {
                    F::RuntimesSeeApplication { app, .. } => {
                        qb.push_bind(app);
                    }
                    _ => {
                        qb.push("e.app_id");
                    }
                }
                qb.push(", ");
                qb.push_bind(event_type.as_str());
                qb.push(", ");
                qb.push("replace(".repeat(varying.len() + 1));
                qb.push_bind(template);
                qb.push(", ");
                qb.push_bind(p_event.to_string());
                qb.push(", e.event_text)");
                for (placeholder, column) in &varying {
                    qb.push(", ");
                    qb.push_bind(placeholder.to_string());
                    qb.push(format!(", {})", Self::sql_uuid_text(&format!("e.{column}"))));
                }
                let now = to_micros(time);
                qb.push(", 'pending', 0, ");
                qb.push_bind(now);
                qb.push(", ");
                qb.push_bind(now);
                qb.push(", NULL, NULL, NULL FROM e JOIN webhooks w ON w.tenant_id = ");
                qb.push_bind(tenant.0);
                qb.push(" AND w.app_id = ");
                match fan_out {
                    F::RuntimesSeeApplication { app, .. } => {
                        qb.push_bind(app);
                    }
                    _ => {
                        qb.push("e.app_id");
                    }
                }
                self.counter().inc();
                let done = qb.build().execute(self.conn()).await?;
                if done.rows_affected() > 0 {
                    self.filled_outbox = true;
                }
                Ok(done.rows_affected())
            }

            /// Expands the next `keys` keys of a locked pending fan-out (None: all that
            /// remain) and records the progress, or removes it when done; the deliveries
            /// queued and whether it is done.
            async fn expand_batch(
                &mut self,
                pending: &$crate::delivery::PendingFanOut,
                keys: Option<i64>,
            ) -> Result<(u64, bool), StoreError> {
                let (queued, through) = match (pending.fan_out(), keys) {
                    (Some(fan_out), keys) => {
                        let through = match keys {
                            Some(keys) => {
                                self.fan_out_batch_end(
                                    pending.tenant,
                                    fan_out,
                                    pending.done_through,
                                    keys,
                                )
                                .await?
                            }
                            None => None,
                        };
                        let queued = self
                            .insert_fan_out_deliveries(
                                pending.tenant,
                                fan_out,
                                pending.time,
                                pending.done_through,
                                through,
                            )
                            .await?;
                        (queued, through)
                    }
                    // An incomplete row has nothing to expand.
                    (None, _) => (0, None),
                };
                self.counter().inc();
                match through {
                    Some(through) => {
                        sqlx::query("UPDATE webhook_fan_outs SET done_through = $2 WHERE seq = $1")
                            .bind(pending.seq)
                            .bind(through)
                            .execute(self.conn())
                            .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM webhook_fan_outs WHERE seq = $1")
                            .bind(pending.seq)
                            .execute(self.conn())
                            .await?;
                    }
                }
                Ok((queued, through.is_none()))
            }

            fn fan_out_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<$crate::delivery::PendingFanOut, StoreError> {
                let kind: String = row.try_get(2)?;
                let list = |i: usize| -> Result<Vec<String>, StoreError> {
                    let text: String = row.try_get(i)?;
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("fan-out scenarios: {e}")))
                };
                let apis: Option<String> = row.try_get(5)?;
                Ok($crate::delivery::PendingFanOut {
                    seq: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    kind: $crate::delivery::FanOutKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("fan-out kind {kind}")))?,
                    runtime: row.try_get(3)?,
                    app: row.try_get(4)?,
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
        impl $crate::delivery::DeliveryTx for $Tx {
            async fn enqueue_webhook_events(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::delivery::EventFanOut<'_>,
                time: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                use $crate::delivery::{EventFanOut as F, FanOutKind as K};
                if fan_out.is_empty() {
                    return Ok(false);
                }
                let (kind, runtime, app, apis, joined, seen) = match fan_out {
                    F::ConfigurationChanged { runtime, scenarios } => {
                        (K::ConfigurationChanged, Some(runtime), None, None, scenarios, &[][..])
                    }
                    F::RuntimeSeesApplications { runtime, joined, seen } => {
                        (K::RuntimeSeesApplications, Some(runtime), None, None, joined, seen)
                    }
                    F::RuntimesSeeApplication { app, apis, joined, seen } => {
                        (K::RuntimesSeeApplication, None, Some(app), apis, joined, seen)
                    }
                };
                let apis = apis
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let joined =
                    serde_json::to_string(joined).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
                .bind(runtime)
                .bind(app)
                .bind(apis)
                .bind(joined)
                .bind(seen)
                .bind(to_micros(time))
                .execute(self.conn())
                .await?;
                let recorded = done.rows_affected() > 0;
                if recorded {
                    self.filled_outbox = true;
                }
                Ok(recorded)
            }

            async fn pending_fan_outs(
                &mut self,
                tenant: TenantId,
                kinds: &[$crate::delivery::FanOutKind],
                app: Option<Uuid>,
                runtime: Option<Uuid>,
            ) -> Result<Vec<$crate::delivery::PendingFanOut>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {} FROM webhook_fan_outs WHERE tenant_id = ",
                    $crate::delivery::FAN_OUT_COLUMNS
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND (1 = 0");
                for kind in kinds {
                    qb.push(" OR kind = ");
                    qb.push_bind(kind.as_str());
                }
                if let Some(app) = app {
                    qb.push(" OR app_id = ");
                    qb.push_bind(app);
                }
                if let Some(runtime) = runtime {
                    qb.push(" OR runtime_id = ");
                    qb.push_bind(runtime);
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
                    $crate::delivery::FAN_OUT_COLUMNS,
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
                for _ in 0..$crate::delivery::FAN_OUTS_PER_TRANSACTION {
                    self.counter().inc();
                    let row = sqlx::query(AssertSqlSafe(format!(
                        "SELECT {} FROM webhook_fan_outs ORDER BY seq LIMIT 1{}",
                        $crate::delivery::FAN_OUT_COLUMNS,
                        Self::lock_skipping()
                    )))
                    .fetch_optional(self.conn())
                    .await?;
                    let Some(row) = row else { break };
                    let pending = Self::fan_out_from_row(&row)?;
                    let (queued, finished) = self.expand_batch(&pending, Some(keys)).await?;
                    let total = queued_total.unwrap_or(0) + queued;
                    queued_total = Some(total);
                    if !finished || total >= $crate::delivery::DELIVERIES_PER_TRANSACTION {
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

            async fn claim_deliveries(
                &mut self,
                owner: Uuid,
                now: time::OffsetDateTime,
                until: time::OffsetDateTime,
                limit: i64,
            ) -> Result<Vec<sextant_domain::delivery::Delivery>, StoreError> {
                self.counter().inc();
                // The outer conditions repeat the inner ones: PostgreSQL re-checks them on a
                // row another transaction just claimed, so it is skipped, not claimed twice.
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2 \
                     WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
                       AND next_attempt_at <= $3 \
                       AND (lease_expires_at IS NULL OR lease_expires_at < $3) \
                       ORDER BY next_attempt_at LIMIT $4) \
                     AND state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < $3) \
                     RETURNING {}",
                    $crate::delivery::DELIVERY_COLUMNS
                )))
                .bind(owner)
                .bind(to_micros(until))
                .bind(to_micros(now))
                .bind(limit)
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::delivery_from_row).collect()
            }

            async fn finish_attempt(
                &mut self,
                id: Uuid,
                owner: Uuid,
                outcome: &$crate::delivery::AttemptOutcome,
            ) -> Result<bool, StoreError> {
                use $crate::delivery::AttemptOutcome as O;
                self.counter().inc();
                let (state, at, error, next, delivered) = match outcome {
                    O::Delivered { at } => ("delivered", *at, None, None, Some(*at)),
                    O::Retry { at, error, next } => {
                        ("pending", *at, Some(error.as_str()), Some(*next), None)
                    }
                    O::GaveUp { at, error } => ("failed", *at, Some(error.as_str()), None, None),
                };
                let done = sqlx::query(
                    "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, \
                     last_attempt_at = $2, last_error = COALESCE($3, last_error), \
                     next_attempt_at = COALESCE($4, next_attempt_at), delivered_at = $5, \
                     lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $6 AND lease_owner = $7 AND state = 'pending'",
                )
                .bind(state)
                .bind(to_micros(at))
                .bind(error)
                .bind(next.map(to_micros))
                .bind(delivered.map(to_micros))
                .bind(id)
                .bind(owner)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn deliveries_of_webhook(
                &mut self,
                tenant: TenantId,
                webhook: Uuid,
                limit: i64,
            ) -> Result<Vec<sextant_domain::delivery::Delivery>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                    $crate::delivery::DELIVERY_COLUMNS
                )))
                .bind(tenant.0)
                .bind(webhook)
                .bind(limit)
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::delivery_from_row).collect()
            }

            async fn has_due_deliveries(
                &mut self,
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT 1 FROM webhook_deliveries WHERE state = 'pending' \
                     AND next_attempt_at <= $1 \
                     AND (lease_expires_at IS NULL OR lease_expires_at < $1) LIMIT 1",
                )
                .bind(to_micros(now))
                .fetch_optional(self.conn())
                .await?;
                Ok(row.is_some())
            }

            async fn pending_deliveries(&mut self) -> Result<i64, StoreError> {
                self.counter().inc();
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
                        .fetch_one(self.conn())
                        .await?;
                Ok(count)
            }

            async fn set_webhook_secret(
                &mut self,
                tenant: TenantId,
                id: Uuid,
                secret: &str,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE webhooks SET secret = $3 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id)
                .bind(secret)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_webhook_failing(
                &mut self,
                tenant: TenantId,
                id: Uuid,
                since: Option<time::OffsetDateTime>,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query("UPDATE webhooks SET failing_since = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .bind(since.map(to_micros))
                    .execute(self.conn())
                    .await?;
                Ok(())
            }
        }
    };
}
