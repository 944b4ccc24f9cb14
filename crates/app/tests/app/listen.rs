//! The Application Webhook API: signed notifications are verified, handled once per event
//! id, credential requests answered with `setAPIAuth`, configuration changes with a pull.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_app::register::register;
use sextant_app::webhook::{self, WebhookListener};
use sextant_app::{ClientHandler, CredentialSource, Manifest};
use tokio_util::sync::CancellationToken;

use crate::helpers::{AppServer, Backend, OPENAPI_YAML, TestServer, read_json};

const SECRET: &str = "whsec-test-0123456789";

/// Posts an event as the management plane does; answers status and body.
async fn deliver(url: &str, event: &Value, secret: &str, timestamp: i64) -> (u16, Value) {
    let body = serde_json::to_vec(event).unwrap();
    let ts = timestamp.to_string();
    let response = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header(webhook::EVENT_ID_HEADER, event["id"].as_str().unwrap())
        .header(webhook::EVENT_TYPE_HEADER, event["type"].as_str().unwrap())
        .header(webhook::TIMESTAMP_HEADER, &ts)
        .header(
            webhook::SIGNATURE_HEADER,
            webhook::signature(secret.as_bytes(), &ts, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn event(kind: &str, shop: &str, runtime: &str, api: Option<&str>) -> Value {
    json!({
        "id": uuid::Uuid::new_v4(), "type": kind,
        "tenant": "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae",
        "applicationID": shop, "runtimeID": runtime, "apiDefinitionID": api,
        "time": "2026-01-01T00:00:00Z"
    })
}

/// A credentials command that counts its runs in `counter` and prints basic credentials
/// naming the runtime.
fn credentials_script(dir: &Path, counter: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> {}\nprintf '{{\"credential\": {{\"basic\": {{\"username\": \"rt-%s\", \"password\": \"pw-%s\"}}}}}}' \"$SEXTANT_RUNTIME_ID\" \"$SEXTANT_API_ID\"\n",
            counter.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn runs(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

async fn runtime_auth(server: &TestServer, shop: &str, api: &str, runtime: &str) -> Value {
    server
        .director(
            "query($app: ID!, $api: ID!, $rt: ID!) { application(id: $app) { apiDefinition(id: $api) {
                auth(runtimeID: $rt) { runtimeID auth { credential { ... on BasicCredentialData { username password } } } } } } }",
            json!({"app": shop, "api": api, "rt": runtime}),
        )
        .await["application"]["apiDefinition"]["auth"]
        .clone()
}

async fn a_signed_credentials_request_sets_the_runtime_s_credentials_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed(None).await;
    let client = Arc::new(server.paired(&shop).await);
    let manifest = Manifest::parse(
        &format!(
            "apis:\n  - name: orders\n    targetURL: https://shop.example.com\n    spec:\n      data: {}\n",
            serde_json::to_string(OPENAPI_YAML).unwrap()
        ),
        Path::new("."),
    )
    .unwrap();
    let api = register(&client, &manifest).await.unwrap()[0].id.clone();
    let counter = client.state_dir().join("runs.txt");
    let command = credentials_script(&server.db.dir, &counter);
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let listener = WebhookListener::new(
        SECRET,
        Arc::new(ClientHandler {
            client: client.clone(),
            credentials: Some(CredentialSource::command(&command).unwrap()),
        }),
        Some(client.state_dir()),
    )
    .unwrap();
    let addr = listener
        .spawn("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let url = format!("http://{addr}/hooks/sextant");
    let request = event(webhook::CREDENTIALS_REQUESTED, &shop, &runtime, Some(&api));

    // A wrong secret, a stale timestamp, no signature: 401 and nothing done.
    let (status, _) = deliver(&url, &request, "not-the-secret", now()).await;
    assert_eq!(status, 401);
    let (status, body) = deliver(&url, &request, SECRET, now() - 301).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = deliver(&url, &request, SECRET, now() + 400).await;
    assert_eq!(status, 401);
    let unsigned = reqwest::Client::new()
        .post(&url)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    // A signature over another body.
    let ts = now().to_string();
    let forged = reqwest::Client::new()
        .post(&url)
        .header(webhook::TIMESTAMP_HEADER, &ts)
        .header(
            webhook::SIGNATURE_HEADER,
            webhook::signature(SECRET.as_bytes(), &ts, b"{}"),
        )
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    assert_eq!(runs(&counter), 0);
    assert!(runtime_auth(&server, &shop, &api, &runtime).await["auth"].is_null());

    // Signed: handled, and the runtime now has the credentials.
    let (status, body) = deliver(&url, &request, SECRET, now()).await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("handled")),
        "{body}"
    );
    assert_eq!(runs(&counter), 1);
    let auth = runtime_auth(&server, &shop, &api, &runtime).await;
    assert_eq!(auth["runtimeID"], runtime.as_str());
    assert_eq!(
        auth["auth"]["credential"],
        json!({"username": format!("rt-{runtime}"), "password": format!("pw-{api}")})
    );

    // Redelivered: acknowledged, not acted on again; also after a restart of the listener.
    let (status, body) = deliver(&url, &request, SECRET, now()).await;
    assert_eq!((status, body["status"].clone()), (200, json!("duplicate")));
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stop = CancellationToken::new();
    let _stop2 = stop.clone().drop_guard();
    let listener = WebhookListener::new(
        SECRET,
        Arc::new(ClientHandler {
            client: client.clone(),
            credentials: Some(CredentialSource::command(&command).unwrap()),
        }),
        Some(client.state_dir()),
    )
    .unwrap();
    let addr = listener
        .spawn("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let url = format!("http://{addr}/");
    let (status, body) = deliver(&url, &request, SECRET, now()).await;
    assert_eq!((status, body["status"].clone()), (200, json!("duplicate")));
    assert_eq!(runs(&counter), 1, "acted on once");
    let seen = read_json(&client.state_dir().join("webhook-events.json"));
    assert_eq!(seen, json!([request["id"]]));

    // A failing source: 500, so the management plane redelivers; not remembered.
    let listener = WebhookListener::new(
        SECRET,
        Arc::new(ClientHandler {
            client: client.clone(),
            credentials: Some(CredentialSource::File(server.db.dir.join("missing.json"))),
        }),
        None,
    )
    .unwrap();
    let addr = listener
        .spawn("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let other = event(webhook::CREDENTIALS_REQUESTED, &shop, &runtime, Some(&api));
    let (status, _) = deliver(&format!("http://{addr}/"), &other, SECRET, now()).await;
    assert_eq!(status, 500);
    // From a file, the same event again: handled now.
    let file = server.db.dir.join("missing.json");
    std::fs::write(
        &file,
        r#"{"credential": {"basic": {"username": "from-file", "password": "x"}}}"#,
    )
    .unwrap();
    let (status, _) = deliver(&format!("http://{addr}/"), &other, SECRET, now()).await;
    assert_eq!(status, 200);
    assert_eq!(
        runtime_auth(&server, &shop, &api, &runtime).await["auth"]["credential"]["username"],
        "from-file"
    );
}

async fn a_configuration_change_makes_the_application_pull(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed(Some("https://gateway.rt.local")).await;
    let client = Arc::new(server.paired(&shop).await);
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let listener = WebhookListener::new(
        SECRET,
        Arc::new(ClientHandler {
            client: client.clone(),
            credentials: None,
        }),
        Some(client.state_dir()),
    )
    .unwrap();
    let addr = listener
        .spawn("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let config_file = client.state_dir().join("configuration.json");
    assert!(!config_file.exists());
    let changed = event(webhook::CONFIGURATION_CHANGED, &shop, &runtime, None);
    let (status, body) = deliver(&format!("http://{addr}/"), &changed, SECRET, now()).await;
    assert_eq!(status, 200, "{body}");
    let saved = read_json(&config_file);
    assert_eq!(saved["defaultURL"], "https://gateway.rt.local");
    assert_eq!(saved["notifiedRuntimeID"], runtime.as_str());

    // An event for another application is not acted on.
    let foreign = event(
        webhook::CONFIGURATION_CHANGED,
        &uuid::Uuid::new_v4().to_string(),
        &runtime,
        None,
    );
    let (status, _) = deliver(&format!("http://{addr}/"), &foreign, SECRET, now()).await;
    assert_eq!(status, 500);
    // Malformed (but signed): 400.
    let (status, _) = deliver(
        &format!("http://{addr}/"),
        &json!({"id": "x", "type": "CONFIGURATION_CHANGED"}),
        SECRET,
        now(),
    )
    .await;
    assert_eq!(status, 400);
}

crate::on_both_backends!(
    a_signed_credentials_request_sets_the_runtime_s_credentials_once,
    a_configuration_change_makes_the_application_pull,
);
