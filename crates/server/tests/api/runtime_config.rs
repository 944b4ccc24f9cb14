//! The runtime configuration document over mTLS: its content, specs by hash, 304 without a
//! statement while unchanged, long polls woken by changes (on PostgreSQL also by another
//! replica), and refusals (applications, revoked or deleted runtimes).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, api_input, basic_auth, event_input};
use crate::rotation::{Paired, pair_as};

fn url(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{path}", app.server().mtls_addr.port())
}

/// GET the configuration: status, ETag, body.
async fn get_config(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = client.get(url);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

/// A tenant with scenario S: a runtime in S (with an eventing URL), application `shop` in S
/// with two APIs (one with a default auth) and an event definition, and application `other`
/// outside S. Answers (runtime id, shop id, id of the API with default auth, the other API).
async fn seeded(app: &TestApp) -> (String, String, String, String) {
    app.define_scenarios(&["SHOP"]).await;
    let runtime = app
        .register_runtime(
            "rt",
            json!({"scenarios": ["SHOP"], "runtime/event_service_url": "https://events.rt.local"}),
        )
        .await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    app.register_app("other", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let mut with_default = api_input("orders");
    with_default["defaultAuth"] = basic_auth("default-user", "default-pass");
    let orders = app.add_api(&shop, with_default).await;
    let stock = app.add_api(&shop, api_input("stock")).await;
    app.add_event(&shop, event_input("order-created")).await;
    (runtime, shop, orders, stock)
}

async fn set_api_auth(app: &TestApp, api: &str, runtime: &str, user: &str) {
    app.gql(
        "mutation($a: ID!, $r: ID!, $in: AuthInput!) { setAPIAuth(apiID: $a, runtimeID: $r, in: $in) { runtimeID } }",
        json!({"a": api, "r": runtime, "in": basic_auth(user, "secret")}),
    )
    .await;
}

async fn a_runtime_reads_its_configuration_and_unchanged_costs_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (runtime, shop, orders, stock) = seeded(&app).await;
    set_api_auth(&app, &stock, &runtime, "rt-user").await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let client = paired.client(&paired.trusted_pem);
    let config_url = url(&app, "/runtime/configuration");

    let (status, etag, doc) = get_config(&client, &config_url, None).await;
    assert_eq!(status, 200, "{doc}");
    let etag = etag.unwrap();
    assert_eq!(doc["runtimeID"], runtime);
    assert_eq!(doc["runtimeName"], "rt");
    assert_eq!(doc["eventServiceURL"], "https://events.rt.local");
    assert_eq!(doc["scenarios"], json!(["SHOP"]));
    let apps = doc["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "only the applications of its scenarios");
    assert_eq!(apps[0]["id"], shop);
    let apis = apps[0]["apis"].as_array().unwrap();
    let api = |id: &str| apis.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(api(&orders)["credentialsSource"], "DEFAULT");
    assert_eq!(
        api(&orders)["credentials"]["credential"]["basic"]["username"],
        "default-user"
    );
    assert_eq!(api(&stock)["credentialsSource"], "RUNTIME");
    assert_eq!(
        api(&stock)["credentials"]["credential"]["basic"]["username"],
        "rt-user"
    );
    assert_eq!(api(&stock)["targetURL"], "https://api.example.com/v1");
    // Specs by hash: fetched separately, identical to what was registered.
    let spec = &api(&stock)["spec"];
    assert_eq!(spec["type"], "OPEN_API");
    let sha = spec["sha256"].as_str().unwrap();
    let registered = app
        .gql(
            "query($a: ID!) { application(id: $a) { apiDefinitions { data { id spec { data } } } } }",
            json!({"a": shop}),
        )
        .await["application"]["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == stock)
        .unwrap()["spec"]["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = client
        .get(url(&app, &format!("/runtime/specs/{sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), registered);
    assert_eq!(spec["size"], registered.len());
    let missing = client
        .get(url(&app, &format!("/runtime/specs/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let event = &apps[0]["events"][0];
    assert_eq!(event["name"], "order-created");
    assert_eq!(event["spec"]["type"], "ASYNC_API");

    // Unchanged: 304 from memory, not one statement.
    let before = app.statements();
    for _ in 0..20 {
        let (status, again, _) = get_config(&client, &config_url, Some(&etag)).await;
        assert_eq!(status, 304);
        assert_eq!(again.as_deref(), Some(etag.as_str()));
    }
    assert_eq!(app.statements(), before, "a 304 touches no database");
    // A list of tags and weak tags match as well.
    let (status, _, _) = get_config(&client, &config_url, Some(&format!("\"x\", W/{etag}"))).await;
    assert_eq!(status, 304);

    // A change in it: a new version with the new credentials.
    set_api_auth(&app, &orders, &runtime, "rt-orders").await;
    let (status, changed, doc) = get_config(&client, &config_url, Some(&etag)).await;
    assert_eq!(status, 200);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));
    let orders_now = doc["applications"][0]["apis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == orders)
        .unwrap()
        .clone();
    assert_eq!(orders_now["credentialsSource"], "RUNTIME");
    // A change elsewhere rebuilds the document but keeps its version.
    let changed = changed.unwrap();
    app.register_app("unrelated", json!({})).await;
    let (status, same, _) = get_config(&client, &config_url, Some(&changed)).await;
    assert_eq!(status, 304);
    assert_eq!(same, Some(changed));
}

async fn only_the_runtime_itself_reads_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (runtime, shop, _, _) = seeded(&app).await;
    let config_url = url(&app, "/runtime/configuration");
    let application = pair_as(&app, "Application", &shop).await;
    let (status, _, _) = get_config(
        &application.client(&application.trusted_pem),
        &config_url,
        None,
    )
    .await;
    assert_eq!(status, 403, "an application's certificate");

    // A revoked certificate is refused at once, although it was remembered as valid.
    let revoked = pair_as(&app, "Runtime", &runtime).await;
    let client = revoked.client(&revoked.trusted_pem);
    assert_eq!(get_config(&client, &config_url, None).await.0, 200);
    let body: Value = client
        .post(url(&app, "/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["revokeCertificate"], true);
    assert_eq!(get_config(&client, &config_url, None).await.0, 401);

    // A deleted runtime's certificate is refused.
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let client = paired.client(&paired.trusted_pem);
    assert_eq!(get_config(&client, &config_url, None).await.0, 200);
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": runtime}),
    )
    .await;
    assert_eq!(get_config(&client, &config_url, None).await.0, 401);
}

/// Starts a long poll; answers (status, ETag, elapsed).
fn long_poll(
    paired: &Paired,
    url: String,
    etag: String,
    wait: u64,
) -> tokio::task::JoinHandle<(u16, Option<String>, Duration)> {
    let client = paired.client(&paired.trusted_pem);
    tokio::spawn(async move {
        let started = Instant::now();
        let (status, etag, _) =
            get_config(&client, &format!("{url}?wait={wait}"), Some(&etag)).await;
        (status, etag, started.elapsed())
    })
}

async fn a_long_poll_returns_when_the_configuration_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (runtime, shop, _, _) = seeded(&app).await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let config_url = url(&app, "/runtime/configuration");
    let (_, etag, _) = get_config(&paired.client(&paired.trusted_pem), &config_url, None).await;
    let etag = etag.unwrap();

    // Nothing changes: 304 when the wait is over.
    let (status, same, elapsed) = long_poll(&paired, config_url.clone(), etag.clone(), 1)
        .await
        .unwrap();
    assert_eq!((status, same.as_deref()), (304, Some(etag.as_str())));
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");

    // A change that is not in the document does not end it; one that is, does, at once.
    let waiting = long_poll(&paired, config_url.clone(), etag.clone(), 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.register_app("unrelated", json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "an unrelated change keeps it waiting"
    );
    let changed_at = Instant::now();
    app.add_api(&shop, api_input("new-api")).await;
    let (status, new_etag, _) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_ne!(new_etag, Some(etag));
    assert!(
        changed_at.elapsed() < Duration::from_secs(1),
        "the change reached the waiting agent in {:?}",
        changed_at.elapsed()
    );
}

/// Two servers on one PostgreSQL database: a change committed through one wakes a long poll
/// held by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_another_replica_wakes_the_long_poll() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (runtime, shop, _, _) = seeded(&app).await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let replica = app.start_replica().await;
    let on_replica = format!(
        "https://localhost:{}/runtime/configuration",
        replica.mtls_addr.port()
    );
    let (status, etag, _) =
        get_config(&paired.client(&paired.trusted_pem), &on_replica, None).await;
    assert_eq!(status, 200);
    let waiting = long_poll(&paired, on_replica, etag.clone().unwrap(), 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    // Through the first server.
    let changed_at = Instant::now();
    app.add_api(&shop, api_input("new-api")).await;
    let (status, new_etag, _) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_ne!(new_etag, etag);
    assert!(
        changed_at.elapsed() < Duration::from_secs(1),
        "woken in {:?}",
        changed_at.elapsed()
    );
    replica.stop().await;
}

const SET_STATUS: &str = "mutation($id: ID!, $c: RuntimeStatusCondition!, $m: String) { setRuntimeStatus(id: $id, condition: $c, message: $m) { id status { condition timestamp message } } }";

async fn status_of(app: &TestApp, id: &str) -> Value {
    app.gql(
        "query($id: ID!) { runtime(id: $id) { status { condition message } } }",
        json!({"id": id}),
    )
    .await["runtime"]["status"]
        .clone()
}

/// `setRuntimeStatus` (a Sextant extension): users for any runtime, a runtime's certificate
/// for itself only; a too long message changes nothing.
async fn a_runtime_reports_its_own_status_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let other = app.register_runtime("other", json!({})).await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let client = paired.client(&paired.trusted_pem);
    let as_runtime = |vars: Value| {
        let request = client
            .post(url(&app, "/director/graphql"))
            .json(&json!({"query": SET_STATUS, "variables": vars}));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        status_of(&app, &runtime).await,
        json!({"condition": "INITIAL", "message": null})
    );

    let body = as_runtime(json!({"id": runtime, "c": "READY"})).await;
    assert_eq!(
        body["data"]["setRuntimeStatus"]["status"]["condition"], "READY",
        "{body}"
    );
    assert_eq!(
        status_of(&app, &runtime).await,
        json!({"condition": "READY", "message": null})
    );
    let body = as_runtime(json!({"id": runtime, "c": "FAILED", "m": "cannot apply"})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        status_of(&app, &runtime).await,
        json!({"condition": "FAILED", "message": "cannot apply"})
    );

    // Another runtime: as if it did not exist, and unchanged.
    let body = as_runtime(json!({"id": other, "c": "READY"})).await;
    assert!(
        crate::helpers::assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    assert_eq!(status_of(&app, &other).await["condition"], "INITIAL");
    // Too long a message: refused, unchanged.
    let body = as_runtime(json!({"id": runtime, "c": "READY", "m": "x".repeat(1025)})).await;
    assert!(
        crate::helpers::assert_error_code(&body, "INVALID_DATA").contains("at most 1024"),
        "{body}"
    );
    assert_eq!(status_of(&app, &runtime).await["condition"], "FAILED");
    // A user sets any runtime's status.
    let data = app
        .gql(
            SET_STATUS,
            json!({"id": other, "c": "FAILED", "m": "by hand"}),
        )
        .await;
    assert_eq!(data["setRuntimeStatus"]["status"]["message"], "by hand");
}

/// Writes that change no configuration document and revoke nothing (a runtime's status,
/// one-time tokens, client credentials) leave the tenant's epoch alone, so no waiting agent
/// is woken to rebuild its document; a label change does raise it.
async fn status_reports_and_new_credentials_wake_no_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let epochs = app.server().store.config_epochs().clone();
    let tenant = sextant_domain::TenantId::DEFAULT;
    let before = epochs.current(tenant);
    app.gql(SET_STATUS, json!({"id": runtime, "c": "READY"}))
        .await;
    app.gql(
        "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
        json!({"id": runtime}),
    )
    .await;
    app.gql(
        "mutation($id: ID!) { requestClientCredentialsForRuntime(id: $id) { id } }",
        json!({"id": runtime}),
    )
    .await;
    assert_eq!(epochs.current(tenant), before);
    app.gql(
        r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "team", value: "a") { key } }"#,
        json!({"id": runtime}),
    )
    .await;
    assert!(epochs.current(tenant) > before);
}

crate::on_both_backends!(
    status_reports_and_new_credentials_wake_no_agent,
    a_runtime_reports_its_own_status_only,
    a_runtime_reads_its_configuration_and_unchanged_costs_nothing,
    only_the_runtime_itself_reads_it,
    a_long_poll_returns_when_the_configuration_changes,
);
