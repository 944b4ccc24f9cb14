//! What the Director tells of the fleet (Sextant extensions): `Runtime.agent` (when the agent
//! was last seen, whether it holds the current configuration: kept in memory by the
//! configuration endpoint, so a 304 still costs no statement, and written in batches),
//! `Runtime.clientCertificate`, and `fleetOverview`.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_test_support::eventually;

use crate::helpers::{Backend, TestApp, api_input};
use crate::rotation::{Paired, mtls_url, pair_as};

const AGENT: &str = "query($id: ID!) { runtime(id: $id) { \
    agent { lastSeenAt configurationCurrent } clientCertificate { serial expiresAt } } }";

async fn fleet_of(app: &TestApp, runtime: &str) -> Value {
    app.gql(AGENT, json!({"id": runtime})).await["runtime"].clone()
}

/// GET the configuration as the paired runtime: (status, ETag).
async fn fetch(app: &TestApp, paired: &Paired, etag: Option<&str>) -> (u16, Option<String>) {
    let mut request = paired
        .client(&paired.trusted_pem)
        .get(mtls_url(app, "/runtime/configuration"));
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    let response = request.send().await.unwrap();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), etag)
}

/// Waits until the runtime's recorded agent satisfies `check`, and answers it.
async fn agent_when(
    app: &TestApp,
    runtime: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(Duration::from_secs(15), what, || async {
        let agent = fleet_of(app, runtime).await["agent"].clone();
        check(&agent).then_some(agent)
    })
    .await
}

fn time_of(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// A runtime in scenario SHOP with application `shop` in it; answers (runtime, shop).
async fn seeded(app: &TestApp) -> (String, String) {
    app.define_scenarios(&["SHOP"]).await;
    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    (runtime, shop)
}

async fn an_agent_is_seen_after_a_flush_and_304s_cost_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (runtime, shop) = seeded(&app).await;
    let before = fleet_of(&app, &runtime).await;
    assert_eq!(before["agent"], Value::Null, "never seen: {before}");
    assert_eq!(before["clientCertificate"], Value::Null, "not paired");

    let paired = pair_as(&app, "Runtime", &runtime).await;
    let (status, etag) = fetch(&app, &paired, None).await;
    assert_eq!(status, 200);
    let etag = etag.unwrap();
    let first = agent_when(&app, &runtime, "the agent recorded", |a| {
        a["configurationCurrent"] == true
    })
    .await;
    let first_seen = time_of(&first["lastSeenAt"]);

    // Many 304s: not one statement of the requests' own (the batch is the background's).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let statements = app.statements();
    for _ in 0..50 {
        assert_eq!(fetch(&app, &paired, Some(&etag)).await.0, 304);
    }
    assert_eq!(app.statements(), statements, "a 304 touches no database");
    // ...and yet the time the agent was seen moves on, once the batch is written.
    let later = agent_when(&app, &runtime, "a later sighting written", |a| {
        a["lastSeenAt"].is_string() && time_of(&a["lastSeenAt"]) > first_seen
    })
    .await;
    assert_eq!(later["configurationCurrent"], true);

    // A change of the runtime's configuration: behind until the agent asks again.
    app.add_api(&shop, api_input("orders")).await;
    assert_eq!(
        fleet_of(&app, &runtime).await["agent"]["configurationCurrent"],
        false,
        "behind once the tenant's configuration changed"
    );
    let (status, new_etag) = fetch(&app, &paired, Some(&etag)).await;
    assert_eq!(status, 200, "the agent gets the new document");
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    agent_when(&app, &runtime, "current again after the refetch", |a| {
        a["configurationCurrent"] == true
    })
    .await;

    // The certificate: its serial (hex) and expiry, never a key.
    let certificate = fleet_of(&app, &runtime).await["clientCertificate"].clone();
    let serial = certificate["serial"].as_str().unwrap();
    assert!(
        serial.len() >= 16 && serial.chars().all(|c| c.is_ascii_hexdigit()),
        "{certificate}"
    );
    let expires = time_of(&certificate["expiresAt"]);
    let validity = time::Duration::try_from(sextant_server::DEFAULT_CERTIFICATE_VALIDITY).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(
        expires > now + validity - time::Duration::hours(1) && expires <= now + validity,
        "{certificate}"
    );
    // Revoked: no valid certificate is left.
    let body: Value = paired
        .client(&paired.trusted_pem)
        .post(mtls_url(&app, "/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
    assert_eq!(
        fleet_of(&app, &runtime).await["clientCertificate"],
        Value::Null
    );
}

const PAGE: &str = "{ runtimes(first: 100) { data { id \
    agent { lastSeenAt configurationCurrent } clientCertificate { serial expiresAt } } } }";

/// A page's agents and certificates are loaded for the whole page: the same statements for
/// one runtime as for eight, each paired and seen; one statement each beyond the page.
async fn a_page_of_agents_costs_what_one_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page_cost = || async {
        let before = app.statements();
        let data = app.gql(PAGE, json!({})).await;
        let rows = data["runtimes"]["data"].as_array().unwrap().clone();
        assert!(
            rows.iter()
                .all(|r| r["agent"].is_object() && r["clientCertificate"].is_object()),
            "{data}"
        );
        (app.statements() - before, rows.len())
    };
    let mut runtimes = Vec::new();
    for i in 0..8 {
        let runtime = app.register_runtime(&format!("rt-{i}"), json!({})).await;
        let paired = pair_as(&app, "Runtime", &runtime).await;
        assert_eq!(fetch(&app, &paired, None).await.0, 200);
        agent_when(&app, &runtime, "the agent recorded", |a| a.is_object()).await;
        runtimes.push(runtime);
        if i == 0 {
            let (one, rows) = page_cost().await;
            assert_eq!(rows, 1);
            let before = app.statements();
            app.gql("{ runtimes(first: 100) { data { id } } }", json!({}))
                .await;
            let bare = app.statements() - before;
            assert_eq!(one, bare + 2, "agents and certificates: one statement each");
        }
    }
    let (one, _) = {
        // Measured again beside the page of eight, after the same warm-up.
        let before = app.statements();
        app.gql(
            "{ runtimes(first: 1) { data { id agent { lastSeenAt } clientCertificate { serial } } } }",
            json!({}),
        )
        .await;
        (app.statements() - before, 1)
    };
    let (many, rows) = page_cost().await;
    assert_eq!(rows, 8);
    assert_eq!(one, many, "a page of eight costs what a page of one does");
}

/// Reading an agent or a certificate needs runtime:read, also where a runtime is answered
/// without it (the runtime a mutation registered).
async fn agents_and_certificates_need_runtime_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = sextant_domain::TenantId::DEFAULT;
    let writer = app.token(&[tenant], &["runtime:write"]);
    for field in ["agent { lastSeenAt }", "clientCertificate { serial }"] {
        let body = app
            .gql_as(
                &writer,
                &format!(
                    "mutation {{ registerRuntime(in: {{name: \"rt-{}\"}}) {{ id {field} }} }}",
                    field.len()
                ),
                json!({}),
            )
            .await;
        sextant_test_support::assert_error_code(&body, "INSUFFICIENT_SCOPES");
    }
}

const OVERVIEW: &str = "{ fleetOverview { \
    applicationStatuses { condition count } runtimeStatuses { condition count } \
    runtimesNeedingAttention(notSeenForSeconds: 300) { totalCount data { id name configurationCurrent } } \
    expiringCertificates { totalCount data { ownerKind ownerID ownerName serial expiresAt } } \
    failingWebhooks { totalCount data { applicationID applicationName url failingSince } } \
    failedSpecFetches { totalCount data { kind name applicationID applicationName message } } \
    activity { minute webhookDeliveries failedWebhookDeliveries agentFetches } } }";

fn count_of(statuses: &Value, condition: &str) -> i64 {
    statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["condition"] == condition)
        .map_or(0, |s| s["count"].as_i64().unwrap())
}

fn sum(activity: &Value, field: &str) -> i64 {
    activity
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[field].as_i64().unwrap())
        .sum()
}

/// The overview's numbers, and its cost: the same statements with many objects as with few.
async fn the_overview_counts_what_needs_attention(backend: Backend) {
    let options = sextant_server::ServerOptions {
        notifier: Some(sextant_server::notifier::NotifierSettings {
            retry_base: Duration::from_millis(100),
            give_up_after: Duration::from_secs(1),
            ..sextant_server::notifier::NotifierSettings::default()
        }),
        ..sextant_server::ServerOptions::default()
    };
    // Certificates valid 7 days: each expires within the overview's 14.
    let app = TestApp::spawn_setup(
        backend,
        sextant_test_server::Setup {
            options,
            certificate_validity: Duration::from_secs(7 * 86_400),
        },
    )
    .await;
    let empty = app.gql(OVERVIEW, json!({})).await["fleetOverview"].clone();
    assert_eq!(empty["applicationStatuses"], json!([]));
    assert_eq!(empty["expiringCertificates"]["totalCount"], 0);
    assert_eq!(empty["activity"].as_array().unwrap().len(), 60);
    let before = app.statements();
    app.gql(OVERVIEW, json!({})).await;
    let few = app.statements() - before;

    let (runtime, shop) = seeded(&app).await;
    let other = app.register_runtime("ready", json!({})).await;
    app.gql(
        "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
        json!({"id": other}),
    )
    .await;
    // A webhook nobody can reach gives up within a second: failing.
    app.gql(
        "mutation($id: ID!) { addWebhook(applicationID: $id, in: {type: CONFIGURATION_CHANGED, url: \"https://hooks.example.com/hook\"}) { id } }",
        json!({"id": shop}),
    )
    .await;
    // A spec whose fetch fails (nothing listens on port 1).
    let mut failing = api_input("unreachable");
    failing["spec"] = json!({"type": "OPEN_API", "format": "YAML",
        "fetchRequest": {"url": "http://127.0.0.1:1/spec.yaml"}});
    app.add_api(&shop, failing).await;
    // The runtime pairs and asks; then its tenant's configuration moves on.
    let paired = pair_as(&app, "Runtime", &runtime).await;
    assert_eq!(fetch(&app, &paired, None).await.0, 200);
    agent_when(&app, &runtime, "the agent recorded", |a| a.is_object()).await;
    app.register_app("later", json!({"scenarios": ["SHOP"]}))
        .await;
    // The runtime joining a scenario makes an event for the webhook.
    app.register_runtime("joins", json!({"scenarios": ["DEFAULT"]}))
        .await;

    let overview = eventually(
        Duration::from_secs(20),
        "a failing webhook and a delivery in the chart",
        || async {
            let o = app.gql(OVERVIEW, json!({})).await["fleetOverview"].clone();
            (o["failingWebhooks"]["totalCount"] == 1
                && sum(&o["activity"], "failedWebhookDeliveries") >= 1
                && sum(&o["activity"], "agentFetches") >= 1)
                .then_some(o)
        },
    )
    .await;
    assert_eq!(count_of(&overview["applicationStatuses"], "INITIAL"), 2);
    assert_eq!(count_of(&overview["runtimeStatuses"], "INITIAL"), 2);
    assert_eq!(count_of(&overview["runtimeStatuses"], "READY"), 1);
    let attention = &overview["runtimesNeedingAttention"];
    assert_eq!(attention["totalCount"], 1, "{attention}");
    assert_eq!(attention["data"][0]["id"], runtime.as_str());
    assert_eq!(attention["data"][0]["configurationCurrent"], false);
    let certificates = &overview["expiringCertificates"];
    assert_eq!(certificates["totalCount"], 1, "{certificates}");
    assert_eq!(certificates["data"][0]["ownerKind"], "RUNTIME");
    assert_eq!(certificates["data"][0]["ownerID"], runtime.as_str());
    assert_eq!(certificates["data"][0]["ownerName"], "rt");
    let webhook = &overview["failingWebhooks"]["data"][0];
    assert_eq!(webhook["applicationID"], shop.as_str());
    assert_eq!(webhook["url"], "https://hooks.example.com/hook");
    let fetches = &overview["failedSpecFetches"];
    assert_eq!(fetches["totalCount"], 1, "{fetches}");
    assert_eq!(fetches["data"][0]["kind"], "API");
    assert_eq!(fetches["data"][0]["name"], "unreachable");
    assert!(fetches["data"][0]["message"].is_string());
    assert_eq!(sum(&overview["activity"], "webhookDeliveries"), 0);

    // The agent asks again: current, no longer listed.
    assert_eq!(fetch(&app, &paired, None).await.0, 200);
    eventually(Duration::from_secs(15), "the runtime no longer listed", || async {
        app.gql(OVERVIEW, json!({})).await["fleetOverview"]["runtimesNeedingAttention"]
            ["totalCount"]
            == 0
    })
    .await;

    let before = app.statements();
    app.gql(OVERVIEW, json!({})).await;
    let many = app.statements() - before;
    assert_eq!(
        few, many,
        "the overview's statements do not grow with the data"
    );
}

/// Only users read the overview; each part needs the scope of what it counts, checked before
/// anything is read; another tenant sees nothing of this one.
async fn the_overview_is_confined(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (runtime, shop) = seeded(&app).await;
    let tenant = sextant_domain::TenantId::DEFAULT;

    let runtimes_only = app.token(&[tenant], &["runtime:read"]);
    let body = app
        .gql_as(
            &runtimes_only,
            "{ fleetOverview { runtimeStatuses { condition count } applicationStatuses { count } } }",
            json!({}),
        )
        .await;
    sextant_test_support::assert_error_code(&body, "INSUFFICIENT_SCOPES");
    let body = app
        .gql_as(
            &runtimes_only,
            "{ fleetOverview { runtimeStatuses { condition count } activity(minutes: 5) { agentFetches webhookDeliveries } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let minute = &body["data"]["fleetOverview"]["activity"][0];
    assert_eq!(minute["webhookDeliveries"], Value::Null, "{minute}");
    assert_eq!(minute["agentFetches"], 0);

    let nothing = app.token(&[tenant], &["label_definition:read"]);
    let body = app
        .gql_as(
            &nothing,
            "{ fleetOverview { activity { minute } } }",
            json!({}),
        )
        .await;
    sextant_test_support::assert_error_code(&body, "INSUFFICIENT_SCOPES");

    // A runtime's and an application's certificate: FORBIDDEN.
    for (kind, id) in [("Runtime", &runtime), ("Application", &shop)] {
        let paired = pair_as(&app, kind, id).await;
        let body: Value = paired
            .client(&paired.trusted_pem)
            .post(mtls_url(&app, "/director/graphql"))
            .json(&json!({"query": "{ fleetOverview { activity { minute } } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sextant_test_support::assert_error_code(&body, "FORBIDDEN");
    }

    // Bad arguments: refused with the reason.
    app.gql_error(
        "INVALID_DATA",
        "{ fleetOverview { activity(minutes: 0) { minute } } }",
        json!({}),
    )
    .await;
    app.gql_error(
        "INVALID_DATA",
        "{ fleetOverview { failingWebhooks(first: 1000) { totalCount } } }",
        json!({}),
    )
    .await;

    // Another tenant counts its own (nothing).
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(
            &other,
            "{ fleetOverview { applicationStatuses { count } runtimeStatuses { count } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["fleetOverview"]["applicationStatuses"],
        json!([])
    );
    assert_eq!(body["data"]["fleetOverview"]["runtimeStatuses"], json!([]));
}

/// Two servers on one PostgreSQL database: what each saw is merged, the later time wins
/// whichever server writes last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_merge_sightings_keeping_the_later_time() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (runtime, _) = seeded(&app).await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    // A replica that writes only when it stops.
    let replica = app
        .start_replica_with(sextant_server::ServerOptions {
            agent_flush_interval: Some(Duration::from_secs(3600)),
            ..sextant_server::ServerOptions::default()
        })
        .await;
    let on_replica = format!(
        "https://localhost:{}/runtime/configuration",
        replica.mtls_addr.port()
    );
    let response = paired
        .client(&paired.trusted_pem)
        .get(on_replica)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Later, through the first server, which writes it.
    assert_eq!(fetch(&app, &paired, None).await.0, 200);
    let later = agent_when(&app, &runtime, "the first server's sighting", |a| {
        a.is_object()
    })
    .await;
    // The replica writes its earlier sighting last: the later time stays.
    replica.stop().await;
    assert_eq!(
        fleet_of(&app, &runtime).await["agent"]["lastSeenAt"],
        later["lastSeenAt"]
    );
}

crate::on_both_backends!(
    an_agent_is_seen_after_a_flush_and_304s_cost_nothing,
    a_page_of_agents_costs_what_one_does,
    agents_and_certificates_need_runtime_read,
    the_overview_counts_what_needs_attention,
    the_overview_is_confined,
);
