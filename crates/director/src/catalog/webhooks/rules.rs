//! The rules of webhooks: preparing them (each with a new signing secret), adding, updating
//! and deleting them, and queueing a test event.

use sextant_domain::delivery::{Delivery, DeliveryState, WebhookEventType, test_event_body};
use sextant_domain::{ApplicationId, DeliveryId, WebhookEventId, WebhookId};
use sextant_domain::{DomainError, TenantId, Webhook};
use sextant_store::{ChildKind, Tx};
use uuid::Uuid;

use crate::catalog::limits::{require_app, within_bound};
use crate::catalog::webhooks::inputs::WebhookDraft;
use crate::clock::now_micros;
use crate::error::internal;
use crate::notify;

type Result<T> = std::result::Result<T, DomainError>;

/// Turns webhook drafts into webhooks.
pub fn prepare_webhooks(tenant: TenantId, drafts: Vec<WebhookDraft>) -> Vec<Webhook> {
    drafts
        .into_iter()
        .map(|d| Webhook {
            id: WebhookId::new_v4(),
            tenant,
            application_id: ApplicationId::from_untyped(Uuid::nil()),
            webhook_type: d.webhook_type,
            url: d.url,
            auth: d.auth,
            created_at: now_micros(),
            secret: Some(new_webhook_secret()),
            failing_since: None,
        })
        .collect()
}

/// A webhook's signing secret: 244 random bits (two version-4 UUIDs from the operating
/// system's generator), as text.
pub fn new_webhook_secret() -> String {
    format!(
        "whsec_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

pub async fn add_webhook(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    mut webhook: Webhook,
) -> Result<Webhook> {
    require_app(tx, tenant, app_id, "Webhook").await?;
    within_bound(tx, tenant, app_id, ChildKind::Webhook, 1).await?;
    notify::settle_for_application(tx, tenant, app_id, None).await?;
    webhook.application_id = app_id;
    tx.insert_webhook(&webhook).await.map_err(internal)?;
    Ok(webhook)
}

async fn existing_webhook(tx: &mut dyn Tx, tenant: TenantId, id: WebhookId) -> Result<Webhook> {
    tx.webhook(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("webhook", id))
}

pub async fn update_webhook(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: WebhookId,
    draft: WebhookDraft,
) -> Result<Webhook> {
    let mut webhook = existing_webhook(tx, tenant, id).await?;
    webhook.webhook_type = draft.webhook_type;
    webhook.url = draft.url;
    webhook.auth = draft.auth;
    tx.update_webhook(&webhook).await.map_err(internal)?;
    Ok(webhook)
}

pub async fn delete_webhook(tx: &mut dyn Tx, tenant: TenantId, id: WebhookId) -> Result<Webhook> {
    let webhook = existing_webhook(tx, tenant, id).await?;
    notify::settle_for_application(tx, tenant, webhook.application_id, None).await?;
    tx.delete_webhook(tenant, id).await.map_err(internal)?;
    Ok(webhook)
}

/// Queues a `TEST` event for the webhook as a new pending delivery, due now.
pub async fn queue_test_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: WebhookId,
) -> Result<Delivery> {
    let webhook = existing_webhook(tx, tenant, id).await?;
    let now = now_micros();
    let event_id = WebhookEventId::new_v4();
    let delivery = Delivery {
        id: DeliveryId::new_v4(),
        event_id,
        tenant,
        webhook_id: webhook.id,
        application_id: webhook.application_id,
        event_type: WebhookEventType::Test,
        body: test_event_body(event_id, tenant, webhook.application_id, now),
        state: DeliveryState::Pending,
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: None,
        last_error: None,
        delivered_at: None,
    };
    tx.insert_delivery(&delivery).await.map_err(internal)?;
    Ok(delivery)
}
