//! Webhooks as answered, with their most recent deliveries and each delivery's attempts
//! (batched per query level through the request's loader).

use async_graphql::{Context, ID, SimpleObject};
use sextant_domain as domain;

use crate::catalog::credentials::wire::Auth;
use crate::context::loader;
use crate::error::{GqlResult, IntoGql};
use crate::loaders::{DeliveryAttemptsKey, WebhookDeliveriesKey, load_error};
use crate::scalars::{Timestamp, id};
use crate::validation::parse_id;

mirror_enum!(
    "ApplicationWebhookType" WebhookTypeWire => domain::WebhookType { ConfigurationChanged }
);

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Webhook {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    #[graphql(name = "type")]
    pub webhook_type: WebhookTypeWire,
    pub url: String,
    pub auth: Option<Auth>,
    /// Sextant: the key deliveries are signed with (header `Sextant-Signature: v1=<hex
    /// HMAC-SHA256 of "<Sextant-Timestamp>.<body>">`). Shown only by `addWebhook` and
    /// `rotateWebhookSecret`; null everywhere else.
    pub secret: Option<String>,
    /// Sextant: since when deliveries to this webhook give up (one failed for its whole retry
    /// period); null once one succeeds again.
    pub failing_since: Option<Timestamp>,
}

impl From<domain::Webhook> for Webhook {
    fn from(w: domain::Webhook) -> Self {
        Webhook {
            id: id(w.id),
            application_id: id(w.application_id),
            webhook_type: w.webhook_type.into(),
            url: w.url,
            auth: w.auth.map(Into::into),
            secret: None,
            failing_since: w.failing_since.map(Timestamp),
        }
    }
}

#[async_graphql::ComplexObject]
impl Webhook {
    /// Sextant: the most recent deliveries to this webhook (newest first; at most 100).
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        let webhook = parse_id(&self.id, "webhook").gql()?;
        let first = u32::try_from(first.unwrap_or(20).clamp(1, 100)).unwrap_or(20);
        let deliveries = loader(ctx)?
            .load_one(WebhookDeliveriesKey { webhook, first })
            .await
            .map_err(load_error)?
            .unwrap_or_default();
        Ok(deliveries.into_iter().map(WebhookDelivery::from).collect())
    }
}

/// Sextant: one event on its way to one webhook (the Application Webhook API's delivery
/// log).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WebhookDelivery {
    #[graphql(skip)]
    pub delivery_id: domain::DeliveryId,
    pub id: ID,
    #[graphql(name = "eventID")]
    pub event_id: ID,
    /// `CONFIGURATION_CHANGED`, `CREDENTIALS_REQUESTED`, or `TEST` (`sendTestWebhookEvent`).
    pub event_type: String,
    /// The JSON body POSTed.
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub created_at: Timestamp,
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

impl From<domain::delivery::Delivery> for WebhookDelivery {
    fn from(d: domain::delivery::Delivery) -> Self {
        let pending = d.state == domain::delivery::DeliveryState::Pending;
        WebhookDelivery {
            delivery_id: d.id,
            id: id(d.id),
            event_id: id(d.event_id),
            event_type: d.event_type.as_str().to_owned(),
            payload: d.body,
            state: d.state.as_str().to_owned(),
            attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
            created_at: Timestamp(d.created_at),
            next_attempt_at: pending.then_some(Timestamp(d.next_attempt_at)),
            last_attempt_at: d.last_attempt_at.map(Timestamp),
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(Timestamp),
        }
    }
}

#[async_graphql::ComplexObject]
impl WebhookDelivery {
    /// Sextant: the attempts of this delivery, newest first: when each started, how long it
    /// took, the HTTP status the webhook answered (if it answered) and why it failed. The
    /// newest 20 of a delivery are kept.
    async fn attempt_log(&self, ctx: &Context<'_>) -> GqlResult<Vec<WebhookDeliveryAttempt>> {
        let attempts = loader(ctx)?
            .load_one(DeliveryAttemptsKey(self.delivery_id))
            .await
            .map_err(load_error)?
            .unwrap_or_default();
        Ok(attempts
            .into_iter()
            .map(WebhookDeliveryAttempt::from)
            .collect())
    }
}

/// Sextant: one attempt to deliver an event to a webhook.
#[derive(SimpleObject)]
pub struct WebhookDeliveryAttempt {
    /// 1 for the delivery's first attempt.
    pub number: i32,
    pub started_at: Timestamp,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: i32,
    /// The webhook's HTTP status; null when it did not answer (refused, unreachable, too
    /// slow).
    pub http_status: Option<i32>,
    /// Why it failed; null when it delivered.
    pub error: Option<String>,
}

impl From<domain::delivery::DeliveryAttempt> for WebhookDeliveryAttempt {
    fn from(a: domain::delivery::DeliveryAttempt) -> Self {
        WebhookDeliveryAttempt {
            number: i32::try_from(a.number).unwrap_or(i32::MAX),
            started_at: Timestamp(a.started_at),
            duration_ms: i32::try_from(a.duration_ms).unwrap_or(i32::MAX),
            http_status: a.http_status.map(i32::from),
            error: a.error,
        }
    }
}

impl Webhook {
    /// The webhook with its secret: only for the answer of the mutation that made it.
    pub fn revealing_secret(w: domain::Webhook) -> Self {
        let secret = w.secret.clone();
        Webhook {
            secret,
            ..Webhook::from(w)
        }
    }
}
