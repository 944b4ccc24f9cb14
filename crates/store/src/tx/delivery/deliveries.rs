//! Deliveries (`webhook_deliveries`): one per event and webhook, leased by a notifier for
//! each attempt, with the outcome of the last.

use sextant_domain::delivery::Delivery;
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
    /// Records an attempt if `owner` still holds the delivery's lease; false otherwise.
    async fn finish_attempt(
        &mut self,
        id: DeliveryId,
        owner: Uuid,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;
    /// A webhook's deliveries, newest first.
    async fn deliveries_of_webhook(
        &mut self,
        tenant: TenantId,
        webhook: WebhookId,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
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
            ) -> Result<bool, StoreError> {
                use $crate::tx::delivery::deliveries::AttemptOutcome as O;
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
                .bind(id.into_untyped())
                .bind(owner)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn deliveries_of_webhook(
                &mut self,
                tenant: TenantId,
                webhook: sextant_domain::WebhookId,
                limit: i64,
            ) -> Result<Vec<sextant_domain::delivery::Delivery>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                    $crate::tx::delivery::deliveries::DELIVERY_COLUMNS
                )))
                .bind(tenant.0)
                .bind(webhook.into_untyped())
                .bind(limit)
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::delivery_from_row).collect()
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
                    self.filled_outbox = true;
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
