//! The mutations of webhooks: adding, updating and deleting them, giving one a new signing
//! secret, sending a delivery again, and sending a test event.

use async_graphql::{Context, ID, Object};
use sextant_domain::delivery::DeliveryState;
use sextant_domain::{DeliveryId, DomainError, Scope};

use crate::catalog::access::{Child, writable_child};
use crate::catalog::webhooks::inputs::WebhookInput;
use crate::catalog::webhooks::rules;
use crate::catalog::webhooks::wire::{Webhook, WebhookDelivery};
use crate::clock::now_micros;
use crate::confine;
use crate::context::{Scopes, consumer, reach};
use crate::error::{GqlResult, IntoGql, internal};
use crate::transaction::{write, write_outside_configuration};
use crate::validation::parse_id;

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: WebhookInput,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let webhook = rules::prepare_webhooks(tenant, vec![input.validate().gql()?]);
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(webhook) = webhook.into_iter().next() else {
                    return Err(DomainError::Invalid("no webhook".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                rules::add_webhook(tx, tenant, app, webhook).await
            })
        })
        .await?;
        Ok(Webhook::revealing_secret(webhook))
    }

    /// Sextant: gives the webhook a new signing secret and shows it (this once); deliveries
    /// are signed with it from now on.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let secret = rules::new_webhook_secret();
        let webhook = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                let mut webhook = tx
                    .webhook(tenant, id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| DomainError::not_found("webhook", id))?;
                confine::writable_app(tx, tenant, reach, webhook.application_id).await?;
                tx.set_webhook_secret(tenant, id, &secret)
                    .await
                    .map_err(internal)?;
                webhook.secret = Some(secret);
                Ok(webhook)
            })
        })
        .await?;
        Ok(Webhook::revealing_secret(webhook))
    }

    /// Sextant: queues the event of a delivery to its webhook again, as a new delivery
    /// (the same event id and body, attempted by the notifier like any other, never during
    /// this request) and answers it. For a delivery that ended (delivered or failed); a
    /// pending one is retried by itself. Only users, in their tenant.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn resend_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "deliveryID")] delivery_id: ID,
    ) -> GqlResult<WebhookDelivery> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        confine::resending_deliveries(reach).gql()?;
        let id: DeliveryId = parse_id(&delivery_id, "webhook delivery").gql()?;
        let queued = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                let missing = || DomainError::not_found("webhook delivery", id);
                let delivery = tx
                    .delivery(tenant, id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(missing)?;
                confine::writable_app(tx, tenant, reach, delivery.application_id).await?;
                if tx
                    .webhook(tenant, delivery.webhook_id)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("webhook", delivery.webhook_id));
                }
                if delivery.state == DeliveryState::Pending {
                    return Err(DomainError::Invalid(
                        "the delivery is still pending: it is retried by itself".into(),
                    ));
                }
                tx.requeue_delivery(tenant, id, DeliveryId::new_v4(), now_micros())
                    .await
                    .map_err(internal)?
                    .ok_or_else(missing)
            })
        })
        .await?;
        Ok(WebhookDelivery::from(queued))
    }

    /// Sextant: queues a `TEST` event for this webhook through the outbox (signed, retried
    /// and logged like any other delivery, attempted by the notifier, never during this
    /// request) and answers its delivery. Whoever may update the webhook may test it.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn send_test_webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
    ) -> GqlResult<WebhookDelivery> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let queued = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Webhook(id)).await?;
                rules::queue_test_event(tx, tenant, id).await
            })
        })
        .await?;
        Ok(WebhookDelivery::from(queued))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
        #[graphql(name = "in")] input: WebhookInput,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let draft = input.validate().gql()?;
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Webhook(id)).await?;
                rules::update_webhook(tx, tenant, id, draft).await
            })
        })
        .await?;
        Ok(webhook.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Webhook(id)).await?;
                rules::delete_webhook(tx, tenant, id).await
            })
        })
        .await?;
        Ok(webhook.into())
    }
}
