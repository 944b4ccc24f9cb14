//! Steps 1 and 2: the application pairs and registers its API and event API.

use std::sync::Arc;

use serde_json::{Value, json};
use sextant_app::{AppClient, Manifest, PairOptions, WebhookListener};

use super::{Ctx, Progress, needed, uuid_at, with_free_name};
use crate::commands::demo::report::{Checked, Failure, abridged, detail, passed};
use crate::commands::demo::sample::{ASYNCAPI, DemoHandler, openapi};

/// The sample application's name, API and event API.
const APP_NAME: &str = "shop";
const API_NAME: &str = "orders";
const EVENT_API_NAME: &str = "order-events";

pub(super) async fn pairing(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (name, data) = with_free_name(APP_NAME, |name| {
        ctx.admin.director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id name labels } }",
            json!({"in": {"name": name, "providerName": "Sextant demo",
                   "description": "A sample shop: an orders API and order events",
                   "labels": {"scenarios": ["DEFAULT"]}}}),
        )
    })
    .await
    .map_err(|e| Failure::new("registerApplication to register the sample application", e))?;
    let app = &data["registerApplication"];
    let id = uuid_at(&app["id"], "registerApplication's answer")?;
    p.app = Some((id, name.clone()));
    detail(format!(
        "registerApplication (administrator, main listener): {name}, id {id}, scenarios {}",
        app["labels"]["scenarios"]
    ));

    let data = ctx
        .admin
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token connectorURL rawEncoded } }",
            json!({"id": id}),
        )
        .await
        .map_err(|e| Failure::new("requestOneTimeTokenForApplication", e))?;
    let token = &data["requestOneTimeTokenForApplication"];
    let raw_encoded = token["rawEncoded"].as_str().unwrap_or_default().to_owned();
    if raw_encoded.is_empty() {
        return Err(Failure::new(
            "a one-time token with rawEncoded",
            format!("{token}"),
        ));
    }
    detail(format!(
        "requestOneTimeTokenForApplication: a one-time token for {}; rawEncoded {}",
        token["connectorURL"].as_str().unwrap_or("?"),
        abridged(&raw_encoded, 12)
    ));

    let client = AppClient::pair(
        &ctx.app_state_dir,
        PairOptions {
            token: Some(raw_encoded),
            ca_file: Some(ctx.data_dir.join("ca.crt")),
            ..PairOptions::default()
        },
    )
    .await
    .map_err(|e| {
        Failure::new(
            "AppClient::pair to redeem the token at the Connector and get a client certificate",
            sextant_app::chain(&e),
        )
    })?;
    if client.application_id() != id {
        return Err(Failure::new(
            format!("the paired client to be application {id}"),
            format!("it is application {}", client.application_id()),
        ));
    }
    let identity = client.identity().await;
    let certificate = serde_json::to_value(&identity.certificate).unwrap_or_default();
    detail(format!(
        "AppClient::pair: CSR signed; client certificate serial {}, valid until {}, CN (client id) {}",
        identity.certificate.serial,
        certificate["notAfter"].as_str().unwrap_or("?"),
        identity.client_id.as_deref().unwrap_or("?")
    ));
    detail(format!(
        "key, certificate and state in {}",
        client.state_dir().display()
    ));
    let client = Arc::new(client);
    tokio::spawn(client.clone().keep_renewed(ctx.shutdown.clone()));
    p.client = Some(client);
    passed(format!(
        "application {name} is paired: the certificate-secured Director knows it as {id}"
    ));
    Ok(())
}

pub(super) async fn api_registration(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (app_id, _) = needed(&p.app, "the application")?;
    let manifest = Manifest {
        apis: vec![json!({
            "name": API_NAME,
            "description": "The shop's orders (HTTP basic; each runtime gets its own credentials)",
            "targetURL": ctx.sample_url,
            "spec": {"data": openapi(&ctx.sample_url), "type": "OPEN_API", "format": "YAML"},
            "version": {"value": "v1"},
        })],
        events: vec![json!({
            "name": EVENT_API_NAME,
            "description": "What happens to the shop's orders",
            "spec": {"data": ASYNCAPI, "type": "ASYNC_API", "format": "YAML"},
            "version": {"value": "v1"},
        })],
        documents: vec![],
    };
    let done = sextant_app::register::register(&client, &manifest)
        .await
        .map_err(|e| {
            Failure::new(
                "the application to register its API and event API through the certificate-secured Director",
                sextant_app::chain(&e),
            )
        })?;
    for item in &done {
        detail(format!(
            "{} {}: {} (id {}) by the application itself, over mTLS",
            item.kind, item.name, item.action, item.id
        ));
    }
    let api = done
        .iter()
        .find(|r| r.kind == "api" && r.name == API_NAME)
        .ok_or_else(|| Failure::new("the API registered", format!("{done:?}")))?;
    let api_id = uuid_at(&json!(api.id), "the API's id")?;
    p.api = Some((api_id, API_NAME.to_owned()));

    // The listener's port first: the webhook points at it, and its secret is known only once
    // the webhook exists.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::new("a port for the webhook listener", e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::new("a port for the webhook listener", e.to_string()))?;
    let url = format!("http://{addr}/webhook");
    let data = client
        .director(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id url secret } }",
            json!({"app": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
        )
        .await
        .map_err(|e| Failure::new("addWebhook for the application's listener", sextant_app::chain(&e)))?;
    let hook = &data["addWebhook"];
    let secret = hook["secret"].as_str().unwrap_or_default();
    if secret.is_empty() {
        return Err(Failure::new(
            "addWebhook to show the webhook's secret once",
            format!("{hook}"),
        ));
    }
    detail(format!(
        "addWebhook: {} -> {url}; signing secret {} (shown once, now held by the listener)",
        hook["id"].as_str().unwrap_or("?"),
        abridged(secret, 6)
    ));
    let webhooks = WebhookListener::new(
        secret.as_bytes(),
        Arc::new(DemoHandler {
            client: client.clone(),
            api: ctx.sample.clone(),
            recorder: ctx.recorder.clone(),
        }),
        Some(client.state_dir()),
    )
    .map_err(|e| Failure::new("a webhook listener", sextant_app::chain(&e)))?;
    let stop = ctx.shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = webhooks.serve(listener, stop).await {
            tracing::error!(error = %e, "the webhook listener stopped");
        }
    });
    p.webhook_url = Some(url.clone());
    detail(format!(
        "webhook listener (sextant_app::WebhookListener): {url}, checking signatures"
    ));

    // What the Director now holds, as the administrator sees it.
    let data = ctx
        .admin
        .director(
            "query($id: ID!) { application(id: $id) {
                apiDefinitions { data { id name targetURL defaultAuth { credential { __typename } } } }
                eventDefinitions { data { id name } }
                webhooks { id url } } }",
            json!({"id": app_id}),
        )
        .await
        .map_err(|e| Failure::new("the application's catalog in the Director", e))?;
    let app = &data["application"];
    let listed = |list: &Value, name: &str| {
        list.as_array()
            .and_then(|items| items.iter().find(|i| i["name"] == name).cloned())
    };
    let api = listed(&app["apiDefinitions"]["data"], API_NAME);
    let event = listed(&app["eventDefinitions"]["data"], EVENT_API_NAME);
    let hooked = app["webhooks"]
        .as_array()
        .is_some_and(|hooks| hooks.iter().any(|h| h["url"] == url.as_str()));
    match (&api, &event, hooked) {
        (Some(api), Some(_), true) if api["defaultAuth"].is_null() => {}
        _ => {
            return Err(Failure::new(
                format!(
                    "API {API_NAME} without defaultAuth, event API {EVENT_API_NAME} and the webhook {url}"
                ),
                format!("{app}"),
            ));
        }
    }
    detail(format!(
        "the Director: API {API_NAME} -> {} (no defaultAuth: every runtime needs credentials of its own)",
        ctx.sample_url
    ));
    passed(format!(
        "API {API_NAME}, event API {EVENT_API_NAME} and the webhook are registered"
    ));
    Ok(())
}
