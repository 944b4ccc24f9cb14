//! The webhook outbox in a transaction: [`DeliveryTx`] is a supertrait of [`crate::Tx`],
//! implemented once for both backends by `delivery_tx!`.

use sextant_domain::TenantId;
use sextant_domain::delivery::{Delivery, WebhookEvent};
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
/// the applications, runtimes and APIs concerned and queues their deliveries in one statement
/// whatever their number. Only applications with a webhook are looked at: the others have
/// nobody to tell.
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

/// The outbox operations of a transaction.
#[async_trait::async_trait]
pub trait DeliveryTx: Send {
    /// Queues the event for every webhook of its application, due at once; how many
    /// deliveries were queued (0 when the application has no webhook).
    async fn enqueue_webhook_event(&mut self, event: &WebhookEvent) -> Result<u64, StoreError>;
    /// Queues the events of `fan_out` in `tenant`, stamped `time`, for every webhook of their
    /// application, in one statement; how many deliveries were queued. Each event gets its
    /// own id, shared by its deliveries, and the body [`WebhookEvent::body`] gives it.
    async fn enqueue_webhook_events(
        &mut self,
        tenant: TenantId,
        fan_out: EventFanOut<'_>,
        time: time::OffsetDateTime,
    ) -> Result<u64, StoreError>;
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
        }

        #[async_trait::async_trait]
        impl $crate::delivery::DeliveryTx for $Tx {
            async fn enqueue_webhook_event(
                &mut self,
                event: &sextant_domain::delivery::WebhookEvent,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let webhooks: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM webhooks WHERE tenant_id = $1 AND app_id = $2 ORDER BY id",
                )
                .bind(event.tenant.0)
                .bind(event.application_id)
                .fetch_all(self.conn())
                .await?;
                let body = event.body();
                let now = to_micros(event.time);
                for webhook in &webhooks {
                    self.counter().inc();
                    sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO webhook_deliveries ({}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, NULL, NULL, NULL)",
                        $crate::delivery::DELIVERY_COLUMNS
                    )))
                    .bind(Uuid::new_v4())
                    .bind(event.id)
                    .bind(event.tenant.0)
                    .bind(*webhook)
                    .bind(event.application_id)
                    .bind(event.event_type.as_str())
                    .bind(body.as_str())
                    .bind(now)
                    .execute(self.conn())
                    .await?;
                }
                if !webhooks.is_empty() {
                    self.filled_outbox = true;
                }
                Ok(webhooks.len() as u64)
            }

            async fn enqueue_webhook_events(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::delivery::EventFanOut<'_>,
                time: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                use $crate::delivery::EventFanOut as F;
                use sextant_domain::delivery::{WebhookEvent, WebhookEventType as T};
                let key = sextant_domain::label::SCENARIOS_KEY;
                let in_scenarios = |scenarios: &[String]| {
                    $crate::ResolvedFilter::AnyOf(key.to_owned(), scenarios.to_vec())
                };
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

                // c: the events' varying ids, one row per event.
                let mut qb = sqlx::QueryBuilder::<$Db>::new("WITH c AS (");
                match fan_out {
                    F::ConfigurationChanged { scenarios, .. } => {
                        if scenarios.is_empty() {
                            return Ok(0);
                        }
                        qb.push("SELECT l.app_id AS app_id FROM application_labels l WHERE l.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND l.key = ");
                        qb.push_bind(key);
                        Self::push_value_match(&mut qb, &in_scenarios(scenarios));
                        qb.push(" AND EXISTS (SELECT 1 FROM webhooks h WHERE h.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND h.app_id = l.app_id)");
                    }
                    F::RuntimeSeesApplications { runtime, joined, seen } => {
                        if joined.is_empty() {
                            return Ok(0);
                        }
                        qb.push(
                            "SELECT d.app_id AS app_id, d.id AS api_id FROM api_definitions d \
                             WHERE d.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        qb.push(" AND d.default_auth IS NULL AND d.app_id IN (SELECT l.app_id FROM application_labels l WHERE l.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND l.key = ");
                        qb.push_bind(key);
                        Self::push_value_match(&mut qb, &in_scenarios(joined));
                        qb.push(")");
                        if !seen.is_empty() {
                            qb.push(" AND d.app_id NOT IN (SELECT l.app_id FROM application_labels l WHERE l.tenant_id = ");
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.key = ");
                            qb.push_bind(key);
                            Self::push_value_match(&mut qb, &in_scenarios(seen));
                            qb.push(")");
                        }
                        qb.push(" AND EXISTS (SELECT 1 FROM webhooks h WHERE h.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND h.app_id = d.app_id) AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = ");
                        qb.push_bind(runtime);
                        qb.push(")");
                    }
                    F::RuntimesSeeApplication { app, apis, joined, seen } => {
                        if joined.is_empty() || apis.is_some_and(|a| a.is_empty()) {
                            return Ok(0);
                        }
                        qb.push(
                            "SELECT l.runtime_id AS runtime_id, d.id AS api_id FROM runtime_labels l \
                             JOIN api_definitions d ON d.tenant_id = l.tenant_id AND d.app_id = ",
                        );
                        qb.push_bind(app);
                        qb.push(" AND d.default_auth IS NULL");
                        if let Some(apis) = apis {
                            qb.push(" AND d.id IN ");
                            Self::push_id_list(&mut qb, apis);
                        }
                        qb.push(" WHERE l.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND l.key = ");
                        qb.push_bind(key);
                        Self::push_value_match(&mut qb, &in_scenarios(joined));
                        if !seen.is_empty() {
                            qb.push(" AND l.runtime_id NOT IN (SELECT l.runtime_id FROM runtime_labels l WHERE l.tenant_id = ");
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.key = ");
                            qb.push_bind(key);
                            Self::push_value_match(&mut qb, &in_scenarios(seen));
                            qb.push(")");
                        }
                        qb.push(" AND EXISTS (SELECT 1 FROM webhooks h WHERE h.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND h.app_id = ");
                        qb.push_bind(app);
                        qb.push(") AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = l.runtime_id)");
                    }
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
