//! The Application Webhook API: events queued with the changes that cause them, delivered to
//! real local HTTP receivers, signed, retried, logged; a slow receiver holds up nobody.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{Backend, TestApp, api_input, basic_auth};
use sextant_test_support::eventually;

/// How long a test waits for the notifier (generous: the machine may be loaded).
const WAIT: Duration = Duration::from_secs(30);

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver on loopback: records every request; fails the first `fail_first`
/// (HTTP 500) and holds each for `delay`.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(fail_first: usize, delay: Duration) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let handler = move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(delay).await;
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Received { headers, body });
                    seen.len()
                };
                if n <= fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().fallback(handler))
                .await
                .unwrap();
        });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The bodies received, as JSON.
    fn events(&self) -> Vec<Value> {
        self.received()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }

    async fn wait_for(&self, count: usize, within: Duration) -> Vec<Value> {
        eventually(within, &format!("{count} requests"), || async {
            let events = self.events();
            (events.len() >= count).then_some(events)
        })
        .await
    }
}

/// Adds a webhook; answers (id, secret).
async fn add_webhook(app: &TestApp, app_id: &str, url: &str) -> (String, String) {
    let data = app
        .gql(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id secret } }",
            json!({"app": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
        )
        .await;
    let hook = &data["addWebhook"];
    (
        hook["id"].as_str().unwrap().to_owned(),
        hook["secret"].as_str().unwrap().to_owned(),
    )
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    aws_lc_rs::hmac::sign(&key, message.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the request's signature headers against the secret.
fn assert_signed(received: &Received, secret: &str) {
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let timestamp = header("sextant-timestamp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - timestamp.parse::<i64>().unwrap()).abs() < 60);
    assert_eq!(
        header("sextant-signature"),
        format!(
            "v1={}",
            hmac_hex(secret, &format!("{timestamp}.{}", received.body))
        )
    );
    assert_eq!(header("content-type"), "application/json");
    let body: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(header("sextant-event-id"), body["id"].as_str().unwrap());
    assert_eq!(header("sextant-event-type"), body["type"].as_str().unwrap());
}

const SET_STATUS: &str =
    "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }";

/// The seed's runtime-ready notification: applications sharing a scenario with a runtime
/// hear when it joins, becomes ready, changes its eventing URL and is deleted; others hear
/// nothing; unrelated changes send nothing.
async fn runtime_ready_notification_by_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP", "OTHER"]).await;
    let shop_hook = Receiver::start(0, Duration::ZERO).await;
    let other_hook = Receiver::start(0, Duration::ZERO).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    let other = app
        .register_app("other", json!({"scenarios": ["OTHER"]}))
        .await;
    let (_, secret) = add_webhook(&app, &shop, &shop_hook.url).await;
    add_webhook(&app, &other, &other_hook.url).await;

    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    let joined = shop_hook.wait_for(1, WAIT).await;
    app.gql(SET_STATUS, json!({"id": runtime})).await;
    let ready = shop_hook.wait_for(2, WAIT).await;
    // Unchanged status again: nothing new.
    app.gql(SET_STATUS, json!({"id": runtime})).await;
    app.gql(
        r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "runtime/event_service_url", value: "https://events.rt.local") { key } }"#,
        json!({"id": runtime}),
    )
    .await;
    shop_hook.wait_for(3, WAIT).await;
    app.gql(
        r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "team", value: "a") { key } }"#,
        json!({"id": runtime}),
    )
    .await;
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": runtime}),
    )
    .await;
    let events = shop_hook.wait_for(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events_now = shop_hook.events();
    assert_eq!(events_now.len(), 4, "{events_now:?}");
    assert_eq!(joined[0], events[0]);
    assert_eq!(ready[1], events[1]);
    let ids: std::collections::HashSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "one id per event");
    for event in &events {
        assert_eq!(event["type"], "CONFIGURATION_CHANGED");
        assert_eq!(event["applicationID"], shop.as_str());
        assert_eq!(event["runtimeID"], runtime.as_str());
        assert_eq!(event["tenant"], "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae");
        assert!(event["apiDefinitionID"].is_null());
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
    }
    for received in shop_hook.received() {
        assert_signed(&received, &secret);
    }
    assert!(other_hook.events().is_empty(), "{:?}", other_hook.events());
}

/// The seed's API credentials flow, first half: a runtime that newly sees an API without
/// credentials makes the application be asked for them; APIs with a default auth and
/// runtimes that already have credentials are not asked about.
async fn credentials_are_requested_from_the_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let hook = Receiver::start(0, Duration::ZERO).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    add_webhook(&app, &shop, &hook.url).await;
    let bare = app.add_api(&shop, api_input("orders")).await;
    let mut with_default = api_input("stock");
    with_default["defaultAuth"] = basic_auth("u", "p");
    app.add_api(&shop, with_default).await;

    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    let events = hook.wait_for(2, WAIT).await;
    let asks: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "CREDENTIALS_REQUESTED")
        .collect();
    assert_eq!(asks.len(), 1, "{events:?}");
    assert_eq!(asks[0]["apiDefinitionID"], bare.as_str());
    assert_eq!(asks[0]["runtimeID"], runtime.as_str());

    // The application answers with setAPIAuth; a new API is asked about for the runtime.
    app.gql(
        "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
        json!({"api": bare, "rt": runtime, "in": basic_auth("rt-user", "rt-pass")}),
    )
    .await;
    let newer = app.add_api(&shop, api_input("returns")).await;
    let events = hook.wait_for(3, WAIT).await;
    assert_eq!(events[2]["type"], "CREDENTIALS_REQUESTED");
    assert_eq!(events[2]["apiDefinitionID"], newer.as_str());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hook.events().len(), 3);
}

/// A receiver failing twice gets the event a third time, with the same id; the log shows
/// it; the deliveries survive as rows, never as lost work.
async fn a_failing_receiver_gets_the_event_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let hook = Receiver::start(2, Duration::ZERO).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    let (webhook, _) = add_webhook(&app, &shop, &hook.url).await;
    app.register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    // Retries after 0.5–1 s, then 1–2 s.
    let events = hook.wait_for(3, WAIT).await;
    assert!(events.iter().all(|e| e["id"] == events[0]["id"]));
    let delivery = eventually(Duration::from_secs(30), "the delivery delivered", || async {
        let data = app
            .gql(
                "query($app: ID!) { application(id: $app) { webhooks { id failingSince deliveries { eventID eventType state attempts lastError deliveredAt payload } } } }",
                json!({"app": shop}),
            )
            .await;
        let hook_data = data["application"]["webhooks"][0].clone();
        assert_eq!(hook_data["id"], webhook.as_str());
        let delivery = hook_data["deliveries"][0].clone();
        (delivery["state"] == "delivered").then_some(delivery)
    })
    .await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["eventID"], events[0]["id"]);
    assert_eq!(delivery["eventType"], "CONFIGURATION_CHANGED");
    assert_eq!(
        serde_json::from_str::<Value>(delivery["payload"].as_str().unwrap()).unwrap(),
        events[0]
    );
    assert!(delivery["lastError"].as_str().unwrap().contains("500"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.events().len(), 3, "nothing after the success");
    // The secret is shown once: reading the webhook does not show it.
    let data = app
        .gql(
            "query($app: ID!) { application(id: $app) { webhooks { secret } } }",
            json!({"app": shop}),
        )
        .await;
    assert!(data["application"]["webhooks"][0]["secret"].is_null());
}

/// A receiver that answers slowly (past the 10 s deadline) does not delay another's
/// delivery; bad webhook URLs are refused when registered.
async fn a_slow_receiver_stalls_nobody(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let slow = Receiver::start(0, Duration::from_secs(12)).await;
    let fast = Receiver::start(0, Duration::ZERO).await;
    let a = app.register_app("a", json!({"scenarios": ["SHOP"]})).await;
    let b = app.register_app("b", json!({"scenarios": ["SHOP"]})).await;
    add_webhook(&app, &a, &slow.url).await;
    add_webhook(&app, &b, &fast.url).await;
    let started = Instant::now();
    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    app.gql(SET_STATUS, json!({"id": runtime})).await;
    // The slow receiver holds its calls for 12 s: the fast one's events arriving well
    // before that shows they did not wait behind it (with room for a loaded machine).
    fast.wait_for(2, Duration::from_secs(9)).await;
    assert!(started.elapsed() < Duration::from_secs(9));

    for url in ["ftp://example.com/hook", "not a url", ""] {
        let err = app
            .gql_error("VALIDATION_ERROR", 
                "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
                json!({"app": a, "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
            )
            .await;
        assert!(
            err.contains("validation error for type WebhookInput: url"),
            "{err}"
        );
    }
}

/// A receiver that fails for the whole retry period: the delivery gives up, the webhook
/// shows it is failing, and /metrics counts the attempts.
async fn a_receiver_failing_for_the_whole_period_is_marked_failing(backend: Backend) {
    // The period counts from the event, not from the first attempt: it is long enough that
    // a first attempt delayed by a loaded machine still leaves room for a retry.
    let options = sextant_server::ServerOptions {
        notifier: Some(sextant_server::notifier::NotifierSettings {
            retry_base: Duration::from_millis(100),
            give_up_after: Duration::from_secs(3),
            ..sextant_server::notifier::NotifierSettings::default()
        }),
        ..sextant_server::ServerOptions::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let hook = Receiver::start(usize::MAX, Duration::ZERO).await;
    let shop = app.register_app("shop", json!({})).await;
    add_webhook(&app, &shop, &hook.url).await;
    app.register_runtime("rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let webhook = eventually(Duration::from_secs(30), "the delivery given up", || async {
        let data = app
            .gql(
                "query($app: ID!) { application(id: $app) { webhooks { failingSince deliveries { state attempts lastError } } } }",
                json!({"app": shop}),
            )
            .await;
        let webhook = data["application"]["webhooks"][0].clone();
        // The webhook and its deliveries are read by separate statements: wait until the
        // mark is read too.
        (webhook["deliveries"][0]["state"] == "failed" && webhook["failingSince"].is_string())
            .then_some(webhook)
    })
    .await;
    assert!(webhook["failingSince"].is_string(), "{webhook}");
    let delivery = &webhook["deliveries"][0];
    assert!(delivery["attempts"].as_i64().unwrap() >= 2, "{delivery}");
    assert!(delivery["lastError"].as_str().unwrap().contains("500"));
    let attempts = hook.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hook.received().len(),
        attempts,
        "no attempt after giving up"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sextant_webhook_attempts_total{outcome=\"failed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("sextant_webhook_attempts_total{outcome=\"retry\"}"));
}

/// A webhook on a host off the egress allow-list (the test servers allow only loopback, as
/// `--fetch-allow-hosts localhost,127.0.0.1,::1` does) is never called, not even resolved: each
/// attempt records the reason as its last error until the delivery gives up; a webhook on an
/// allowed host gets the same event as always.
async fn a_webhook_off_the_allow_list_records_the_reason(backend: Backend) {
    let options = sextant_server::ServerOptions {
        notifier: Some(sextant_server::notifier::NotifierSettings {
            retry_base: Duration::from_millis(100),
            give_up_after: Duration::from_secs(1),
            ..sextant_server::notifier::NotifierSettings::default()
        }),
        ..sextant_server::ServerOptions::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let hook = Receiver::start(0, Duration::ZERO).await;
    let shop = app.register_app("shop", json!({})).await;
    add_webhook(&app, &shop, "https://hooks.example.com/hook").await;
    add_webhook(&app, &shop, &hook.url).await;
    app.register_runtime("rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let events = hook.wait_for(1, WAIT).await;
    let webhooks = eventually(Duration::from_secs(30), "every delivery ended", || async {
        let data = app
            .gql(
                "query($app: ID!) { application(id: $app) { webhooks { url failingSince deliveries { eventID state attempts lastError } } } }",
                json!({"app": shop}),
            )
            .await;
        let webhooks = data["application"]["webhooks"].as_array().unwrap().clone();
        // The webhooks and their deliveries are read by separate statements: wait until
        // the failed one's mark is read too.
        let marked = webhooks
            .iter()
            .all(|w| w["deliveries"][0]["state"] != "failed" || w["failingSince"].is_string());
        let ended = webhooks.iter().all(|w| {
            let state = &w["deliveries"][0]["state"];
            state == "failed" || state == "delivered"
        });
        (marked && ended).then_some(webhooks)
    })
    .await;
    let of = |url: &str| {
        webhooks
            .iter()
            .find(|w| w["url"] == url)
            .unwrap_or_else(|| panic!("no webhook {url}: {webhooks:?}"))
    };
    let refused = of("https://hooks.example.com/hook");
    let delivery = &refused["deliveries"][0];
    assert_eq!(delivery["state"], "failed", "{refused}");
    assert!(delivery["attempts"].as_i64().unwrap() >= 1, "{delivery}");
    assert_eq!(delivery["eventID"], events[0]["id"]);
    assert_eq!(
        delivery["lastError"],
        "the webhook could not be called: host hooks.example.com is not allowed: outbound calls may reach only the hosts on the server's allow-list"
    );
    assert!(refused["failingSince"].is_string(), "{refused}");
    let allowed = of(&hook.url);
    assert_eq!(allowed["deliveries"][0]["state"], "delivered", "{allowed}");
    assert_eq!(allowed["deliveries"][0]["eventID"], events[0]["id"]);
    assert!(allowed["failingSince"].is_null(), "{allowed}");
    assert_eq!(hook.received().len(), 1);
}

/// Two servers on one PostgreSQL database share the queue: every event arrives, once, and
/// no delivery is attempted by both at the same time.
async fn replicas_share_the_queue_without_doubling_attempts() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let replica = app.start_replica().await;
    let in_flight: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let most: Arc<Mutex<usize>> = Arc::default();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (flight, top, record) = (in_flight.clone(), most.clone(), seen.clone());
    let handler = move |body: String| {
        let (flight, top, record) = (flight.clone(), top.clone(), record.clone());
        async move {
            let event: Value = serde_json::from_str(&body).unwrap();
            let id = event["id"].as_str().unwrap().to_owned();
            {
                let mut flight = flight.lock().unwrap();
                let n = flight.entry(id.clone()).or_default();
                *n += 1;
                let mut top = top.lock().unwrap();
                *top = (*top).max(*n);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            *flight.lock().unwrap().get_mut(&id).unwrap() -= 1;
            record.lock().unwrap().push(id);
            StatusCode::NO_CONTENT
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap();
    });
    let shop = app.register_app("shop", json!({})).await;
    add_webhook(&app, &shop, &url).await;
    for i in 0..40 {
        app.register_runtime(&format!("rt-{i}"), json!({"scenarios": ["DEFAULT"]}))
            .await;
    }
    eventually(Duration::from_secs(30), "40 events", || async {
        seen.lock().unwrap().len() >= 40
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = seen.lock().unwrap().clone();
    let distinct: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (40, 40), "each event once");
    assert_eq!(*most.lock().unwrap(), 1);
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_queue_on_postgres() {
    replicas_share_the_queue_without_doubling_attempts().await;
}

/// The webhook's `auth` is honoured: its credentials, extra headers and query parameters
/// go with every delivery (the body is signed all the same).
async fn the_webhook_s_auth_is_honoured(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let got: Arc<Mutex<Vec<(String, HeaderMap)>>> = Arc::default();
    let record = got.clone();
    let handler = move |uri: axum::http::Uri, headers: HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push((uri.to_string(), headers));
            StatusCode::OK
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap();
    });
    let shop = app.register_app("shop", json!({})).await;
    let mut auth = basic_auth("hook-user", "hook-pass");
    auth["additionalHeaders"] = json!({"X-Hook": ["yes"]});
    auth["additionalQueryParams"] = json!({"source": ["sextant"]});
    app.gql(
        "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
        json!({"app": shop, "in": {"type": "CONFIGURATION_CHANGED", "url": url, "auth": auth}}),
    )
    .await;
    app.register_runtime("rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    eventually(Duration::from_secs(30), "a delivery", || async {
        !got.lock().unwrap().is_empty()
    })
    .await;
    let (uri, headers) = got.lock().unwrap()[0].clone();
    assert_eq!(uri, "/hook?source=sextant");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("hook-user:hook-pass");
    assert_eq!(headers["authorization"], format!("Basic {basic}").as_str());
    assert_eq!(headers["x-hook"], "yes");
    assert!(headers.contains_key("sextant-signature"));
}

/// Headers that frame the message or steer the connection cannot be configured for any
/// outbound call (webhook, API credentials, fetch request): a validation error naming the
/// field, and nothing stored.
async fn connection_headers_are_refused_in_auths(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shop = app.register_app("shop", json!({})).await;
    for name in [
        "Host",
        "Transfer-Encoding",
        "Proxy-Authorization",
        "connection",
    ] {
        let mut auth = basic_auth("u", "p");
        auth["additionalHeaders"] = json!({name: ["evil"]});
        let message = app
            .gql_error("VALIDATION_ERROR", 
                "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
                json!({"app": shop, "in": {"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com/x", "auth": auth}}),
            )
            .await;
        assert!(
            message.contains(&format!("auth: (additionalHeaders: ({name}: cannot be set"))
                && message.contains("cannot be set"),
            "{message}"
        );
        let mut api = api_input("orders");
        api["defaultAuth"] = auth.clone();
        let message = app
            .gql_error("VALIDATION_ERROR", 
                "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
                json!({"app": shop, "in": api}),
            )
            .await;
        assert!(
            message.contains(&format!(
                "defaultAuth: (additionalHeaders: ({name}: cannot be set"
            )) && message.contains("cannot be set"),
            "{message}"
        );
        let mut api = api_input("fetched");
        api["spec"] = json!({"type": "OPEN_API", "format": "YAML",
            "fetchRequest": {"url": "https://specs.example.com/openapi.yaml", "auth": auth}});
        let message = app
            .gql_error("VALIDATION_ERROR", 
                "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
                json!({"app": shop, "in": api}),
            )
            .await;
        assert!(
            message.contains(&format!(
                "spec: (Rule.FetchRequest: (auth: (additionalHeaders: ({name}: cannot be set"
            )),
            "{message}"
        );
    }
    let stored = app
        .gql(
            "query($id: ID!) { application(id: $id) { webhooks { id } apiDefinitions { totalCount } } }",
            json!({"id": shop}),
        )
        .await;
    assert_eq!(stored["application"]["webhooks"], json!([]), "{stored}");
    assert_eq!(
        stored["application"]["apiDefinitions"]["totalCount"], 0,
        "{stored}"
    );
}

const DELIVERIES: &str =
    "query($app: ID!) { application(id: $app) { webhooks { deliveries { id eventID state } } } }";
const RESEND: &str = "mutation($id: ID!) { resendWebhookDelivery(deliveryID: $id) { \
    id eventID state attempts payload } }";

/// The application's deliveries (newest first) once the newest is in `state`.
async fn deliveries_once(app: &TestApp, app_id: &str, state: &str) -> Vec<Value> {
    eventually(
        Duration::from_secs(30),
        &format!("a {state} delivery"),
        || async {
            let data = app.gql(DELIVERIES, json!({"app": app_id})).await;
            let list = data["application"]["webhooks"][0]["deliveries"]
                .as_array()
                .unwrap()
                .clone();
            list.first()
                .is_some_and(|d| d["state"] == state)
                .then_some(list)
        },
    )
    .await
}

/// `resendWebhookDelivery` (a Sextant mutation) queues the event again as a new delivery,
/// which the notifier sends; only users, in their tenant, with application:write, and only
/// a delivery that ended.
async fn a_delivery_is_sent_again_on_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let hook = Receiver::start(0, Duration::ZERO).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    add_webhook(&app, &shop, &hook.url).await;
    app.register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    let first = hook.wait_for(1, WAIT).await;
    let delivered = deliveries_once(&app, &shop, "delivered").await;
    let original = delivered[0]["id"].as_str().unwrap().to_owned();

    // Refusals first: they queue nothing.
    let (_, stranger) = app.other_tenant();
    app.gql_error_as("NOT_FOUND", &stranger, RESEND, json!({"id": original}))
        .await;
    let reader = app.token(&[TenantId::DEFAULT], &["application:read"]);
    app.gql_error_as(
        "INSUFFICIENT_SCOPES",
        &reader,
        RESEND,
        json!({"id": original}),
    )
    .await;
    app.gql_error(
        "NOT_FOUND",
        RESEND,
        json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    let (client, _, _, _) = crate::connector::paired_full(&app, "Application", &shop).await;
    let (_, body) =
        crate::connector::mtls_gql(&app, &client, &[], RESEND, json!({"id": original})).await;
    crate::helpers::assert_error_code(&body, "FORBIDDEN");
    assert_eq!(deliveries_once(&app, &shop, "delivered").await.len(), 1);

    let resent = app.gql(RESEND, json!({"id": original})).await["resendWebhookDelivery"].clone();
    assert_ne!(resent["id"], original.as_str());
    assert_eq!(resent["eventID"], delivered[0]["eventID"]);
    assert_eq!(resent["state"], "pending");
    assert_eq!(resent["attempts"], 0);
    let events = hook.wait_for(2, WAIT).await;
    assert_eq!(events[1], first[0], "the same event, again");
    let log = deliveries_once(&app, &shop, "delivered").await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["id"], resent["id"]);

    // A pending delivery is retried by itself, not sent again on request.
    let slow = Receiver::start(usize::MAX, Duration::ZERO).await;
    let other = app
        .register_app("other", json!({"scenarios": ["SHOP"]}))
        .await;
    add_webhook(&app, &other, &slow.url).await;
    app.register_runtime("rt2", json!({"scenarios": ["SHOP"]}))
        .await;
    slow.wait_for(1, WAIT).await;
    let pending = deliveries_once(&app, &other, "pending").await;
    app.gql_error(
        "INVALID_DATA",
        RESEND,
        json!({"id": pending[0]["id"].as_str().unwrap()}),
    )
    .await;
}

const LOG: &str = "query($app: ID!) { application(id: $app) { webhooks { id deliveries { \
    id eventID eventType state attempts attemptLog { number startedAt durationMs httpStatus error } } } } }";

/// The deliveries of the application's first webhook (newest first), with their attempts.
async fn delivery_log(app: &TestApp, app_id: &str) -> Vec<Value> {
    app.gql(LOG, json!({"app": app_id})).await["application"]["webhooks"][0]["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every attempt is logged (a Sextant extension, `WebhookDelivery.attemptLog`): a receiver
/// failing twice, then succeeding, shows three attempts, newest first, each with when it
/// started, its HTTP status, how long it took and why it failed.
async fn each_attempt_is_logged_with_status_and_latency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let hook = Receiver::start(2, Duration::from_millis(60)).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    add_webhook(&app, &shop, &hook.url).await;
    app.register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    hook.wait_for(3, WAIT).await;
    let delivery = eventually(WAIT, "the delivery delivered", || async {
        let log = delivery_log(&app, &shop).await;
        log.first().filter(|d| d["state"] == "delivered").cloned()
    })
    .await;
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    let attempts = delivery["attemptLog"].as_array().unwrap();
    let numbers: Vec<i64> = attempts
        .iter()
        .map(|a| a["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1], "{delivery}");
    let statuses: Vec<i64> = attempts
        .iter()
        .map(|a| a["httpStatus"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [204, 500, 500], "{delivery}");
    assert!(attempts[0]["error"].is_null(), "{delivery}");
    for failed in &attempts[1..] {
        assert_eq!(
            failed["error"], "the webhook answered HTTP 500",
            "{delivery}"
        );
    }
    let started: Vec<time::OffsetDateTime> = attempts
        .iter()
        .map(|a| {
            time::OffsetDateTime::parse(
                a["startedAt"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    for attempt in attempts {
        // The receiver holds every request for 60 ms.
        let ms = attempt["durationMs"].as_i64().unwrap();
        assert!((60..10_000).contains(&ms), "{delivery}");
    }
    assert!(
        started[0] > started[1] && started[1] > started[2],
        "{delivery}"
    );
}

const SEND_TEST: &str = "mutation($id: ID!) { sendTestWebhookEvent(webhookID: $id) { \
    id eventID eventType state attempts payload } }";

/// `sendTestWebhookEvent` (a Sextant extension) queues a `TEST` event to one webhook through
/// the outbox: the notifier delivers it signed, and the log shows it with its attempt.
/// Refused (and nothing queued) for another tenant, a consumer without application:write,
/// an unknown id and another application's certificate.
async fn a_test_event_is_delivered_signed_and_logged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hook = Receiver::start(0, Duration::ZERO).await;
    let shop = app.register_app("shop", json!({})).await;
    let other = app.register_app("other", json!({})).await;
    let (webhook, secret) = add_webhook(&app, &shop, &hook.url).await;

    let (_, stranger) = app.other_tenant();
    app.gql_error_as("NOT_FOUND", &stranger, SEND_TEST, json!({"id": webhook}))
        .await;
    let reader = app.token(&[TenantId::DEFAULT], &["application:read"]);
    app.gql_error_as(
        "INSUFFICIENT_SCOPES",
        &reader,
        SEND_TEST,
        json!({"id": webhook}),
    )
    .await;
    app.gql_error(
        "NOT_FOUND",
        SEND_TEST,
        json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    let (client, _, _, _) = crate::connector::paired_full(&app, "Application", &other).await;
    let (_, body) =
        crate::connector::mtls_gql(&app, &client, &[], SEND_TEST, json!({"id": webhook})).await;
    crate::helpers::assert_error_code(&body, "NOT_FOUND");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(hook.received().is_empty(), "nothing sent");
    assert!(delivery_log(&app, &shop).await.is_empty(), "nothing queued");

    let sent = app.gql(SEND_TEST, json!({"id": webhook})).await["sendTestWebhookEvent"].clone();
    assert_eq!(sent["eventType"], "TEST");
    assert_eq!(sent["state"], "pending");
    assert_eq!(sent["attempts"], 0);
    let events = hook.wait_for(1, WAIT).await;
    let event = &events[0];
    assert_eq!(event["type"], "TEST");
    assert_eq!(event["id"], sent["eventID"]);
    assert_eq!(event["applicationID"], shop.as_str());
    assert_eq!(event["runtimeID"], uuid::Uuid::nil().to_string());
    assert_eq!(event["tenant"], TenantId::DEFAULT.0.to_string());
    assert_signed(&hook.received()[0], &secret);
    let delivered = eventually(WAIT, "the test delivered", || async {
        let log = delivery_log(&app, &shop).await;
        log.first().filter(|d| d["state"] == "delivered").cloned()
    })
    .await;
    assert_eq!(delivered["id"], sent["id"]);
    assert_eq!(delivered["eventType"], "TEST");
    let attempts = delivered["attemptLog"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{delivered}");
    assert_eq!(attempts[0]["httpStatus"], 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.received().len(), 1, "one event, once");
}

const LOG_OF_ALL: &str = "{ applications { data { webhooks { deliveries { id state \
    attemptLog { number httpStatus durationMs } } } } } }";

/// Queues `events` test events to each of `hooks` new webhooks of a new application.
async fn application_with_tested_hooks(
    app: &TestApp,
    name: &str,
    url: &str,
    hooks: usize,
    events: usize,
) {
    let id = app.register_app(name, json!({})).await;
    for _ in 0..hooks {
        let (webhook, _) = add_webhook(app, &id, url).await;
        for _ in 0..events {
            app.gql(SEND_TEST, json!({"id": webhook})).await;
        }
    }
}

/// Runs the query until every delivery of every application was delivered, then answers the
/// fewest statements it cost in a few runs (a loaded machine may split a loader's batch)
/// with the number of attempts it listed.
async fn log_statements(app: &TestApp, deliveries: usize) -> (u64, usize) {
    eventually(WAIT, &format!("{deliveries} delivered"), || async {
        let data = app.gql(LOG_OF_ALL, json!({})).await;
        let listed: Vec<Value> = data["applications"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["webhooks"].as_array().unwrap().clone())
            .flat_map(|w| w["deliveries"].as_array().unwrap().clone())
            .collect();
        (listed.len() == deliveries && listed.iter().all(|d| d["state"] == "delivered"))
            .then_some(())
    })
    .await;
    let mut fewest = u64::MAX;
    let mut attempts = 0;
    for _ in 0..5 {
        let before = app.statements();
        let data = app.gql(LOG_OF_ALL, json!({})).await;
        fewest = fewest.min(app.statements() - before);
        attempts = data["applications"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["webhooks"].as_array().unwrap().clone())
            .flat_map(|w| w["deliveries"].as_array().unwrap().clone())
            .map(|d| d["attemptLog"].as_array().unwrap().len())
            .sum();
    }
    (fewest, attempts)
}

/// The delivery log costs a constant number of statements: a page of applications with
/// their webhooks, deliveries and attempts costs the same for one application with one
/// delivery as for five applications with two webhooks of three deliveries each.
async fn the_delivery_log_costs_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hook = Receiver::start(0, Duration::ZERO).await;
    application_with_tested_hooks(&app, "first", &hook.url, 1, 1).await;
    let (small, attempts) = log_statements(&app, 1).await;
    assert_eq!(attempts, 1);
    for i in 0..4 {
        application_with_tested_hooks(&app, &format!("more-{i}"), &hook.url, 2, 3).await;
    }
    let (large, attempts) = log_statements(&app, 1 + 4 * 2 * 3).await;
    assert_eq!(attempts, 25);
    assert_eq!(small, large, "statements must not grow with the log");
    assert!(large <= 6, "the log costs {large} statements");
}

crate::on_both_backends!(
    each_attempt_is_logged_with_status_and_latency,
    a_test_event_is_delivered_signed_and_logged,
    the_delivery_log_costs_constant_statements,
    a_delivery_is_sent_again_on_request,
    a_webhook_off_the_allow_list_records_the_reason,
    connection_headers_are_refused_in_auths,
    the_webhook_s_auth_is_honoured,
    a_receiver_failing_for_the_whole_period_is_marked_failing,
    runtime_ready_notification_by_webhook,
    credentials_are_requested_from_the_application,
    a_failing_receiver_gets_the_event_again,
    a_slow_receiver_stalls_nobody,
);
