//! Deliveries (`webhook_deliveries`): one per event and webhook, leased by a notifier for
//! each attempt, with the outcome of the last; and their attempt log
//! (`webhook_delivery_attempts`, migration 0027): each attempt's start, duration, HTTP status
//! and error, the newest [`ATTEMPTS_KEPT`] of each delivery.

use sextant_domain::delivery::{Delivery, DeliveryAttempt};
use sextant_domain::{DeliveryId, TenantId, WebhookId};
use uuid::Uuid;

use crate::error::StoreError;

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

/// How many attempts of one delivery the attempt log keeps (the newest): a delivery retried
/// for its whole period (24 h, at most 5 min apart) makes some 300, and the log is for
/// seeing how the latest went, so it stays bounded per delivery.
pub const ATTEMPTS_KEPT: u32 = 20;

/// What an attempt measured, recorded with its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptMeasure {
    pub started_at: time::OffsetDateTime,
    pub duration_ms: u64,
    /// The webhook's HTTP status, if it answered.
    pub http_status: Option<u16>,
}

/// The delivery operations of a transaction.
#[async_trait::async_trait]
pub trait DeliveriesTx: Send {
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
    /// Records an attempt if `owner` still holds the delivery's lease, on the delivery and in
    /// its attempt log (whose attempts beyond the newest [`ATTEMPTS_KEPT`] go); false
    /// otherwise, and nothing is written.
    async fn finish_attempt(
        &mut self,
        id: DeliveryId,
        owner: Uuid,
        outcome: &AttemptOutcome,
        measure: &AttemptMeasure,
    ) -> Result<bool, StoreError>;
    /// The newest `limit` deliveries of each of the webhooks (of the tenant), newest first
    /// per webhook, in one statement.
    async fn deliveries_of_webhooks(
        &mut self,
        tenant: TenantId,
        webhooks: &[WebhookId],
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// The logged attempts of the deliveries (of the tenant), newest first per delivery, in
    /// one statement.
    async fn delivery_attempts(
        &mut self,
        tenant: TenantId,
        deliveries: &[DeliveryId],
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// Queues a new pending delivery as given (the notifier is woken at commit).
    async fn insert_delivery(&mut self, delivery: &Delivery) -> Result<(), StoreError>;
    /// One delivery of the tenant.
    async fn delivery(
        &mut self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Queues the event of delivery `id` to its webhook again, as a new pending delivery
    /// `new_id` due at `now` (the same event id and body; the notifier is woken at commit);
    /// `None` if the tenant has no such delivery.
    async fn requeue_delivery(
        &mut self,
        tenant: TenantId,
        id: DeliveryId,
        new_id: DeliveryId,
        now: time::OffsetDateTime,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Whether any pending delivery is due at `now` (a cheap read before claiming).
    async fn has_due_deliveries(&mut self, now: time::OffsetDateTime) -> Result<bool, StoreError>;
    /// How many deliveries wait (the queue's depth).
    async fn pending_deliveries(&mut self) -> Result<i64, StoreError>;
}

pub(crate) const DELIVERY_COLUMNS: &str = "id, event_id, tenant_id, webhook_id, app_id, event_type, body, state, \
     attempts, created_at, next_attempt_at, last_attempt_at, last_error, delivered_at";

macro_rules! deliveries_tx {
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
                    id: sextant_domain::DeliveryId::from_untyped(row.try_get(0)?),
                    event_id: sextant_domain::WebhookEventId::from_untyped(row.try_get(1)?),
                    tenant: TenantId(row.try_get(2)?),
                    webhook_id: sextant_domain::WebhookId::from_untyped(row.try_get(3)?),
                    application_id: sextant_domain::ApplicationId::from_untyped(row.try_get(4)?),
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
        impl $crate::tx::delivery::deliveries::DeliveriesTx for $Tx {
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
                    $crate::tx::delivery::deliveries::DELIVERY_COLUMNS
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
                id: sextant_domain::DeliveryId,
                owner: Uuid,
                outcome: &$crate::tx::delivery::deliveries::AttemptOutcome,
                measure: &$crate::tx::delivery::deliveries::AttemptMeasure,
            ) -> Result<bool, StoreError> {
                use $crate::tx::delivery::deliveries::{ATTEMPTS_KEPT, AttemptOutcome as O};
                self.counter().inc();
                let (state, at, error, next, delivered) = match outcome {
                    O::Delivered { at } => ("delivered", *at, None, None, Some(*at)),
                    O::Retry { at, error, next } => {
                        ("pending", *at, Some(error.as_str()), Some(*next), None)
                    }
                    O::GaveUp { at, error } => ("failed", *at, Some(error.as_str()), None, None),
                };
                let row = sqlx::query(
                    "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, \
                     last_attempt_at = $2, last_error = COALESCE($3, last_error), \
                     next_attempt_at = COALESCE($4, next_attempt_at), delivered_at = $5, \
                     lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $6 AND lease_owner = $7 AND state = 'pending' \
                     RETURNING attempts, tenant_id",
                )
                .bind(state)
                .bind(to_micros(at))
                .bind(error)
                .bind(next.map(to_micros))
                .bind(delivered.map(to_micros))
                .bind(id.into_untyped())
                .bind(owner)
                .fetch_optional(self.conn())
                .await?;
                let Some(row) = row else { return Ok(false) };
                let number: i64 = row.try_get(0)?;
                let tenant: Uuid = row.try_get(1)?;
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, tenant_id, \
                     started_at, duration_ms, http_status, error) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id.into_untyped())
                .bind(number)
                .bind(tenant)
                .bind(to_micros(measure.started_at))
                .bind(i64::try_from(measure.duration_ms).unwrap_or(i64::MAX))
                .bind(measure.http_status.map(i64::from))
                .bind(error)
                .execute(self.conn())
                .await?;
                // Only the newest ATTEMPTS_KEPT stay: the log is bounded per delivery.
                let oldest_kept = number - i64::from(ATTEMPTS_KEPT) + 1;
                if oldest_kept > 1 {
                    self.counter().inc();
                    sqlx::query(
                        "DELETE FROM webhook_delivery_attempts \
                         WHERE delivery_id = $1 AND attempt < $2",
                    )
                    .bind(id.into_untyped())
                    .bind(oldest_kept)
                    .execute(self.conn())
                    .await?;
                }
                Ok(true)
            }

            async fn deliveries_of_webhooks(
                &mut self,
                tenant: TenantId,
                webhooks: &[sextant_domain::WebhookId],
                limit: i64,
            ) -> Result<Vec<sextant_domain::delivery::Delivery>, StoreError> {
                if webhooks.is_empty() {
                    return Ok(Vec::new());
                }
                let columns = $crate::tx::delivery::deliveries::DELIVERY_COLUMNS;
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {columns} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY webhook_id \
                     ORDER BY created_at DESC, id DESC) AS rn FROM webhook_deliveries \
                     WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "webhook_id", webhooks);
                qb.push(") d WHERE rn <= ");
                qb.push_bind(limit);
                qb.push(" ORDER BY webhook_id, created_at DESC, id DESC");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::delivery_from_row).collect()
            }

            async fn delivery_attempts(
                &mut self,
                tenant: TenantId,
                deliveries: &[sextant_domain::DeliveryId],
            ) -> Result<Vec<sextant_domain::delivery::DeliveryAttempt>, StoreError> {
                if deliveries.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT delivery_id, attempt, started_at, duration_ms, http_status, error \
                     FROM webhook_delivery_attempts WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "delivery_id", deliveries);
                qb.push(" ORDER BY delivery_id, attempt DESC");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| {
                        let number: i64 = r.try_get(1)?;
                        let duration: i64 = r.try_get(3)?;
                        let status: Option<i64> = r.try_get(4)?;
                        Ok(sextant_domain::delivery::DeliveryAttempt {
                            delivery_id: sextant_domain::DeliveryId::from_untyped(r.try_get(0)?),
                            number: u32::try_from(number).unwrap_or(u32::MAX),
                            started_at: from_micros(r.try_get(2)?)?,
                            duration_ms: u64::try_from(duration).unwrap_or(0),
                            http_status: status.and_then(|s| u16::try_from(s).ok()),
                            error: r.try_get(5)?,
                        })
                    })
                    .collect()
            }

            async fn insert_delivery(
                &mut self,
                delivery: &sextant_domain::delivery::Delivery,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, event_id, tenant_id, webhook_id, app_id, \
                       event_type, body, state, attempts, created_at, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(delivery.id.into_untyped())
                .bind(delivery.event_id.into_untyped())
                .bind(delivery.tenant.0)
                .bind(delivery.webhook_id.into_untyped())
                .bind(delivery.application_id.into_untyped())
                .bind(delivery.event_type.as_str())
                .bind(delivery.body.as_str())
                .bind(delivery.state.as_str())
                .bind(i64::from(delivery.attempts))
                .bind(to_micros(delivery.created_at))
                .bind(to_micros(delivery.next_attempt_at))
                .execute(self.conn())
                .await?;
                self.announced.note($crate::epochs::Announcement::Outbox);
                Ok(())
            }

            async fn delivery(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::DeliveryId,
            ) -> Result<Option<sextant_domain::delivery::Delivery>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2",
                    $crate::tx::delivery::deliveries::DELIVERY_COLUMNS
                )))
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                row.as_ref().map(Self::delivery_from_row).transpose()
            }

            async fn requeue_delivery(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::DeliveryId,
                new_id: sextant_domain::DeliveryId,
                now: time::OffsetDateTime,
            ) -> Result<Option<sextant_domain::delivery::Delivery>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO webhook_deliveries (id, event_id, tenant_id, webhook_id, app_id, \
                       event_type, body, state, attempts, created_at, next_attempt_at) \
                     SELECT $1, event_id, tenant_id, webhook_id, app_id, event_type, body, \
                       'pending', 0, $2, $2 \
                     FROM webhook_deliveries WHERE tenant_id = $3 AND id = $4 \
                     RETURNING {}",
                    $crate::tx::delivery::deliveries::DELIVERY_COLUMNS
                )))
                .bind(new_id.into_untyped())
                .bind(to_micros(now))
                .bind(tenant.0)
                .bind(id.into_untyped())
                .fetch_optional(self.conn())
                .await?;
                let queued = row.as_ref().map(Self::delivery_from_row).transpose()?;
                if queued.is_some() {
                    self.announced.note($crate::epochs::Announcement::Outbox);
                }
                Ok(queued)
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
        }
    };
}
