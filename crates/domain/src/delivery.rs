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
}

impl WebhookEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::ConfigurationChanged => "CONFIGURATION_CHANGED",
            WebhookEventType::CredentialsRequested => "CREDENTIALS_REQUESTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CONFIGURATION_CHANGED" => WebhookEventType::ConfigurationChanged,
            "CREDENTIALS_REQUESTED" => WebhookEventType::CredentialsRequested,
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
        let time = self
            .time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "tenant": self.tenant.0,
            "applicationID": self.application_id,
            "runtimeID": self.runtime_id,
            "apiDefinitionID": self.api_definition_id,
            "time": time,
        })
        .to_string()
    }
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
