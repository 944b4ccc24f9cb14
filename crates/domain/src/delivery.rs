//! The Application Webhook API's events and their deliveries (Sextant; Compass defined the
//! webhook but never called it).

use crate::{
    ApiDefinitionId, ApplicationId, DeliveryId, RuntimeId, TenantId, WebhookEventId, WebhookId,
};
use time::OffsetDateTime;

/// What happened, as the `type` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEventType {
    /// A runtime sharing a scenario with the application became ready, changed its eventing
    /// URL, joined or left one of the application's scenarios, or was deleted: pull the
    /// configuration.
    ConfigurationChanged,
    /// A runtime newly sees one of the application's API definitions and has no credentials
    /// for it: answer with `setAPIAuth(apiID, runtimeID, in)`.
    CredentialsRequested,
    /// Sent on request (`sendTestWebhookEvent`) to check a webhook: nothing happened, and
    /// `runtimeID` is the nil UUID.
    Test,
}

impl WebhookEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::ConfigurationChanged => "CONFIGURATION_CHANGED",
            WebhookEventType::CredentialsRequested => "CREDENTIALS_REQUESTED",
            WebhookEventType::Test => "TEST",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CONFIGURATION_CHANGED" => WebhookEventType::ConfigurationChanged,
            "CREDENTIALS_REQUESTED" => WebhookEventType::CredentialsRequested,
            "TEST" => WebhookEventType::Test,
            _ => return None,
        })
    }
}

/// One event for one application (delivered to each of its webhooks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    pub id: WebhookEventId,
    pub event_type: WebhookEventType,
    pub tenant: TenantId,
    pub application_id: ApplicationId,
    pub runtime_id: RuntimeId,
    pub api_definition_id: Option<ApiDefinitionId>,
    pub time: OffsetDateTime,
}

impl WebhookEvent {
    /// The JSON body POSTed to the webhook.
    pub fn body(&self) -> String {
        event_body(
            self.id,
            self.event_type,
            self.tenant,
            self.application_id,
            self.runtime_id.into_untyped(),
            self.api_definition_id,
            self.time,
        )
    }
}

/// The JSON body of a `TEST` event for an application's webhook: the shape of every event,
/// with the nil UUID as its runtime (no runtime is concerned), so a receiver that checks
/// the shape accepts it.
pub fn test_event_body(
    id: WebhookEventId,
    tenant: TenantId,
    application_id: ApplicationId,
    time: OffsetDateTime,
) -> String {
    event_body(
        id,
        WebhookEventType::Test,
        tenant,
        application_id,
        uuid::Uuid::nil(),
        None,
        time,
    )
}

fn event_body(
    id: WebhookEventId,
    event_type: WebhookEventType,
    tenant: TenantId,
    application_id: ApplicationId,
    runtime_id: uuid::Uuid,
    api_definition_id: Option<ApiDefinitionId>,
    time: OffsetDateTime,
) -> String {
    let time = time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({
        "id": id,
        "type": event_type.as_str(),
        "tenant": tenant.0,
        "applicationID": application_id,
        "runtimeID": runtime_id,
        "apiDefinitionID": api_definition_id,
        "time": time,
    })
    .to_string()
}

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The webhook answered 2xx.
    Delivered,
    /// Every attempt of the retry period failed.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// One event on its way to one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: WebhookEventId,
    pub tenant: TenantId,
    pub webhook_id: WebhookId,
    pub application_id: ApplicationId,
    pub event_type: WebhookEventType,
    /// The JSON body, fixed when the event happened.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// One attempt of a delivery, as the attempt log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery_id: DeliveryId,
    /// 1 for the first attempt of the delivery.
    pub number: u32,
    pub started_at: OffsetDateTime,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: u64,
    /// The webhook's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// Why it failed (none when it delivered).
    pub error: Option<String>,
}
