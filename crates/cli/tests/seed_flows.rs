//! The seed's flows end to end, one test each, named after them (spec section 1): a real
//! management plane (real TLS and HTTP), runtimes provisioned as real `sextant agent`
//! processes, applications using the application client library (`sextant-app`), their
//! APIs and webhook listeners real local HTTP servers. Both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sextant_app::register::Manifest;
use sextant_app::webhook::{ClientHandler, CredentialSource, WebhookListener};
use sextant_app::{AppClient, PairOptions};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use common::{Backend, OPENAPI, Plane, WAIT, eventually, fake_api, through_gateway};
use sextant_test_support::on_both_backends;

on_both_backends!(
    application_pairing,
    api_registration,
    runtime_creation,
    application_configuration_update_by_pull,
    runtime_ready_notification_by_webhook,
    runtime_configuration_update,
    api_credentials_flow_with_an_application_that_answers_credential_requests,
    api_credentials_flow_with_an_application_without_a_webhook,
);

/// Registers an application (scenario DEFAULT) and pairs it through the Connector with its
/// one-time token (`rawEncoded`), as `sextant app pair` does.
async fn paired_app(plane: &Plane, name: &str) -> AppClient {
    let id = plane
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": name, "providerName": "acme"}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = plane
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { rawEncoded } }",
            json!({"id": id}),
        )
        .await["requestOneTimeTokenForApplication"]["rawEncoded"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = AppClient::pair(
        &state_dir(plane, name),
        PairOptions {
            token: Some(raw),
            ca_file: Some(plane.data_dir.join("ca.crt")),
            ..PairOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(client.application_id().to_string(), id);
    client
}

fn state_dir(plane: &Plane, name: &str) -> PathBuf {
    plane.db.dir.join(format!("app-{name}"))
}

/// The application registers an API (no default credentials) at `target` through the
/// certificate-secured Director; answers its id.
async fn register_api(client: &AppClient, name: &str, target: &str) -> Uuid {
    let manifest = Manifest {
        apis: vec![json!({"name": name, "targetURL": target,
            "spec": {"data": OPENAPI, "type": "OPEN_API", "format": "YAML"}})],
        events: vec![],
        documents: vec![],
    };
    sextant_app::register::register(client, &manifest)
        .await
        .unwrap();
    api_id(client, name).await
}

async fn api_id(client: &AppClient, name: &str) -> Uuid {
    let data = client
        .director(
            "query($id: ID!) { application(id: $id) { apiDefinitions { data { id name } } } }",
            json!({"id": client.application_id()}),
        )
        .await
        .unwrap();
    let apis = data["application"]["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .clone();
    let api = apis.iter().find(|a| a["name"] == name).unwrap();
    api["id"].as_str().unwrap().parse().unwrap()
}

/// Provisions a local runtime in scenario DEFAULT through the Provisioner; waits for the
/// operation to succeed.
async fn provisioned_runtime(plane: &Plane, name: &str) -> String {
    let (op, runtime) = plane.provision(name, json!({})).await;
    plane.succeeded(&op).await;
    runtime
}

async fn gateway_port(plane: &Plane, runtime: &str) -> u16 {
    let status = plane.runtime_status(runtime).await;
    status["runtimeConfiguration"]["clusterConfig"]["gatewayPort"]
        .as_u64()
        .unwrap() as u16
}

fn applied(plane: &Plane, runtime: &str) -> String {
    std::fs::read_to_string(
        plane
            .runtime_dir(runtime)
            .join("state")
            .join("applied-configuration.json"),
    )
    .unwrap_or_default()
}

/// Serves the application's webhook (`ClientHandler`: credential requests answered from
/// `credentials`, configuration changes answered by a pull) and registers it; answers the
/// listener's shutdown.
async fn listen(
    plane: &Plane,
    client: &Arc<AppClient>,
    credentials: Option<CredentialSource>,
) -> CancellationToken {
    // The secret is known only once the webhook exists, and the listener must exist first to
    // have an address: bind, register, then serve.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let secret = plane
        .director(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { secret } }",
            json!({"app": client.application_id(), "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
        )
        .await["addWebhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let handler = Arc::new(ClientHandler {
        client: client.clone(),
        credentials,
    });
    let webhook = WebhookListener::new(secret, handler, Some(client.state_dir())).unwrap();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { webhook.serve(listener, stop).await });
    shutdown
}

/// 1.1: the administrator registers the application and hands it a one-time token; the
/// application pairs through the Connector and then acts as itself over mTLS; the token is
/// spent.
async fn application_pairing(backend: Backend) {
    let plane = Plane::new(backend).await;
    let client = paired_app(&plane, "shop").await;
    let me = client
        .director(
            "query($id: ID!) { application(id: $id) { id name } }",
            json!({"id": client.application_id()}),
        )
        .await
        .unwrap();
    assert_eq!(me["application"]["name"], "shop");
    // A restart resumes without a token.
    let again = AppClient::open(&state_dir(&plane, "shop")).await.unwrap();
    assert_eq!(again.application_id(), client.application_id());
    // The token was spent: pairing another state directory with it fails.
    let raw = plane
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { rawEncoded } }",
            json!({"id": client.application_id()}),
        )
        .await["requestOneTimeTokenForApplication"]["rawEncoded"]
        .as_str()
        .unwrap()
        .to_owned();
    let options = PairOptions {
        token: Some(raw),
        ca_file: Some(plane.data_dir.join("ca.crt")),
        ..PairOptions::default()
    };
    AppClient::pair(&state_dir(&plane, "first"), options.clone())
        .await
        .unwrap();
    assert!(
        AppClient::pair(&state_dir(&plane, "second"), options)
            .await
            .is_err()
    );
}

/// 1.2: the paired application registers its API and event API itself; the Director
/// shows them.
async fn api_registration(backend: Backend) {
    let plane = Plane::new(backend).await;
    let client = paired_app(&plane, "shop").await;
    let manifest = Manifest {
        apis: vec![
            json!({"name": "orders", "targetURL": "https://shop.example/api",
            "spec": {"data": OPENAPI, "type": "OPEN_API", "format": "YAML"}}),
        ],
        events: vec![json!({"name": "order-created", "spec": {"data":
            "asyncapi: 2.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\nchannels: {}\n",
            "type": "ASYNC_API", "format": "YAML"}})],
        documents: vec![],
    };
    sextant_app::register::register(&client, &manifest)
        .await
        .unwrap();
    let seen = plane
        .director(
            "query($id: ID!) { application(id: $id) { apiDefinitions { data { name targetURL spec { type } } } eventDefinitions { data { name } } } }",
            json!({"id": client.application_id()}),
        )
        .await;
    let app = &seen["application"];
    assert_eq!(app["apiDefinitions"]["data"][0]["name"], "orders");
    assert_eq!(
        app["apiDefinitions"]["data"][0]["targetURL"],
        "https://shop.example/api"
    );
    assert_eq!(app["apiDefinitions"]["data"][0]["spec"]["type"], "OPEN_API");
    assert_eq!(app["eventDefinitions"]["data"][0]["name"], "order-created");
}

/// 1.3: the administrator asks the Provisioner for a runtime; it registers it, gets a token,
/// provisions it, injects the bootstrap, and the agent connects: READY, with its labels.
async fn runtime_creation(backend: Backend) {
    let plane = Plane::new(backend).await;
    let runtime = provisioned_runtime(&plane, "rt").await;
    let rt = plane.director_runtime(&runtime).await.unwrap();
    assert_eq!(rt["status"]["condition"], "READY");
    assert!(
        rt["labels"]["runtime/event_service_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let status = plane.runtime_status(&runtime).await;
    assert_eq!(status["runtimeConnectionStatus"]["status"], "Connected");
}

/// 1.4: the application pulls the configuration of the runtimes it is assigned to: its
/// events go to the runtime's event gateway.
async fn application_configuration_update_by_pull(backend: Backend) {
    let plane = Plane::new(backend).await;
    let client = paired_app(&plane, "shop").await;
    let before = client.pull_configuration(None).await.unwrap();
    assert_eq!(before.default_url, "");
    let runtime = provisioned_runtime(&plane, "rt").await;
    let label =
        plane.director_runtime(&runtime).await.unwrap()["labels"]["runtime/event_service_url"]
            .clone();
    let after = client.pull_configuration(None).await.unwrap();
    assert_eq!(after.default_url, label.as_str().unwrap());
    assert_eq!(
        after.event_url.as_deref(),
        Some(format!("{}/shop/v1/events", label.as_str().unwrap()).as_str())
    );
    assert_eq!(after.scenarios, vec!["DEFAULT".to_owned()]);
    // Every assigned runtime, with where to post events to it.
    assert_eq!(after.runtimes.len(), 1);
    let assigned = &after.runtimes[0];
    assert_eq!(assigned.runtime_id.to_string(), runtime);
    assert_eq!(assigned.status, "READY");
    assert_eq!(assigned.eventing_url.as_deref(), label.as_str());
    assert_eq!(
        assigned.event_url.as_deref(),
        Some(format!("{}/shop/v1/events", label.as_str().unwrap()).as_str())
    );
    // A runtime in no scenario of the application is not one of its runtimes.
    plane
        .director(
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": "elsewhere"}}),
        )
        .await;
    assert_eq!(
        client
            .pull_configuration(None)
            .await
            .unwrap()
            .runtimes
            .len(),
        1
    );
}

/// 1.5: when the runtime becomes ready, the management plane notifies the applications of
/// its scenarios through their webhooks; the application pulls its configuration.
async fn runtime_ready_notification_by_webhook(backend: Backend) {
    let plane = Plane::new(backend).await;
    let client = Arc::new(paired_app(&plane, "shop").await);
    let _listener = listen(&plane, &client, None).await;
    let runtime = provisioned_runtime(&plane, "rt").await;
    let label =
        plane.director_runtime(&runtime).await.unwrap()["labels"]["runtime/event_service_url"]
            .as_str()
            .unwrap()
            .to_owned();
    // The pull the webhook triggered (after READY and the eventing URL) is saved.
    eventually(
        WAIT,
        "the notified application pulled the configuration",
        || async {
            client.saved_configuration().unwrap().is_some_and(|c| {
                c.notified_runtime_id.map(|r| r.to_string()) == Some(runtime.clone())
                    && c.default_url == label
            })
        },
    )
    .await;
    // The delivery log shows the notifications as delivered.
    let hooks = plane
        .director(
            "query($id: ID!) { application(id: $id) { webhooks { deliveries { eventType state } } } }",
            json!({"id": client.application_id()}),
        )
        .await;
    let deliveries = hooks["application"]["webhooks"][0]["deliveries"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        deliveries
            .iter()
            .any(|d| d["eventType"] == "CONFIGURATION_CHANGED" && d["state"] == "delivered"),
        "{deliveries:?}"
    );
}

/// 1.6: a change in the Director (the application adds an API) reaches the runtime: its
/// agent applies the new configuration.
async fn runtime_configuration_update(backend: Backend) {
    let plane = Plane::new(backend).await;
    let client = paired_app(&plane, "shop").await;
    let runtime = provisioned_runtime(&plane, "rt").await;
    assert!(applied(&plane, &runtime).contains("\"shop\""));
    let started = Instant::now();
    register_api(&client, "late-orders", "https://shop.example/late").await;
    eventually(WAIT, "the runtime's agent applied the new API", || async {
        applied(&plane, &runtime).contains("late-orders")
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// 1.8 with a webhook: a runtime newly sees the application's API and has no credentials;
/// the management plane asks the application, which answers with `setAPIAuth`; the runtime
/// calls the API with them.
async fn api_credentials_flow_with_an_application_that_answers_credential_requests(
    backend: Backend,
) {
    let plane = Plane::new(backend).await;
    let target = fake_api().await;
    let client = Arc::new(paired_app(&plane, "shop").await);
    let api = register_api(&client, "orders", &target).await;
    let credentials = plane.db.dir.join("credentials.json");
    std::fs::write(
        &credentials,
        json!({"credential": {"basic": {"username": "runtime-user", "password": "runtime-pass"}}})
            .to_string(),
    )
    .unwrap();
    let _listener = listen(&plane, &client, Some(CredentialSource::File(credentials))).await;
    let runtime = provisioned_runtime(&plane, "rt").await;
    let port = gateway_port(&plane, &runtime).await;
    eventually(
        WAIT,
        "the runtime calls the API with the credentials the application set",
        || async { through_gateway(port, "shop", "orders").await == (200, "runtime".to_owned()) },
    )
    .await;
    let auth = plane
        .director(
            "query($app: ID!, $api: ID!, $rt: ID!) { application(id: $app) { apiDefinition(id: $api) { auth(runtimeID: $rt) { auth { credential { ... on BasicCredentialData { username } } } } } } }",
            json!({"app": client.application_id(), "api": api, "rt": runtime}),
        )
        .await;
    assert_eq!(
        auth["application"]["apiDefinition"]["auth"]["auth"]["credential"]["username"],
        "runtime-user"
    );
}

/// 1.8 without a webhook: the application learns of the runtime by pulling and sets the
/// credentials itself.
async fn api_credentials_flow_with_an_application_without_a_webhook(backend: Backend) {
    let plane = Plane::new(backend).await;
    let target = fake_api().await;
    let client = paired_app(&plane, "shop").await;
    let api = register_api(&client, "orders", &target).await;
    let runtime = provisioned_runtime(&plane, "rt").await;
    let port = gateway_port(&plane, &runtime).await;
    // No credentials yet: the API refuses the runtime's call.
    eventually(WAIT, "the runtime sees the API", || async {
        through_gateway(port, "shop", "orders").await.0 == 401
    })
    .await;
    client
        .set_api_auth(
            api,
            runtime.parse().unwrap(),
            json!({"credential": {"basic": {"username": "runtime-user", "password": "runtime-pass"}}}),
        )
        .await
        .unwrap();
    eventually(
        WAIT,
        "the runtime calls the API with the new credentials",
        || async { through_gateway(port, "shop", "orders").await == (200, "runtime".to_owned()) },
    )
    .await;
}
