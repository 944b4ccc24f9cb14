//! No N+1 on the write path: every mutation that decides webhook events costs the same number
//! of statements when its change concerns one application (with a webhook and an API) or one
//! runtime as when it concerns 200, and the events are queued all the same.

use serde_json::{Value, json};
use sextant_domain::WebhookId;

use crate::helpers::{Backend, TestApp, api_input};
use crate::on_both_backends;

/// The objects in the large scenario.
const MANY: usize = 200;
/// Aliased mutations per request while seeding.
const BATCH: usize = 50;

/// Runs `mutation` and answers its data and the statements it cost. The fan-outs earlier
/// mutations recorded are expanded first: a mutation that would change their sets expands
/// the rest of them itself (three statements each), which the notifier normally saves it.
async fn cost(app: &TestApp, mutation: &str, variables: Value) -> (Value, u64) {
    app.expanded_outbox().await;
    let before = app.statements();
    let data = app.gql(mutation, variables).await;
    (data, app.statements() - before)
}

/// Runs `count` aliased copies of `field` (with `{i}` replaced by the index) in batches and
/// answers the `id`s they returned, in order.
async fn seed(app: &TestApp, count: usize, field: impl Fn(usize) -> String) -> Vec<String> {
    let mut ids = Vec::new();
    for from in (0..count).step_by(BATCH) {
        let to = (from + BATCH).min(count);
        let fields: String = (from..to).map(|i| format!(" f{i}: {}", field(i))).collect();
        let data = app.gql(&format!("mutation {{{fields} }}"), json!({})).await;
        for i in from..to {
            ids.push(data[format!("f{i}")]["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

/// `scenario` gets `count` runtimes, then `count` applications (one API without a default
/// auth, one with) and a webhook on each; answers the applications' ids.
async fn populate(app: &TestApp, scenario: &str, count: usize) -> Vec<String> {
    let prefix = scenario.to_lowercase();
    seed(app, count, |i| {
        format!(
            r#"registerRuntime(in: {{name: "{prefix}-rt-{i}", labels: {{scenarios: ["{scenario}"]}}}}) {{ id }}"#
        )
    })
    .await;
    // Webhooks come last, so the seeding queues no events.
    let apps = seed(app, count, |i| {
        format!(
            r#"registerApplication(in: {{name: "{prefix}-app-{i}", providerName: "acme", labels: {{scenarios: ["{scenario}"]}},
                apiDefinitions: [{{name: "bare", targetURL: "https://api.example.com"}},
                  {{name: "with-default", targetURL: "https://api.example.com",
                    defaultAuth: {{credential: {{basic: {{username: "u", password: "p"}}}}}}}}]}}) {{ id }}"#
        )
    })
    .await;
    let ids = apps.clone();
    seed(app, count, move |i| {
        format!(
            r#"addWebhook(applicationID: "{}", in: {{type: CONFIGURATION_CHANGED, url: "http://127.0.0.1:9/hook"}}) {{ id }}"#,
            ids[i]
        )
    })
    .await;
    apps
}

/// The (event type, runtime, API) of every delivery queued for the webhook of `app_id`, read
/// from the store (the GraphQL log shows the latest 100).
async fn deliveries(app: &TestApp, app_id: &str) -> Vec<(String, String, Value)> {
    app.expanded_outbox().await;
    let data = app
        .gql(
            "query($app: ID!) { application(id: $app) { webhooks { id } } }",
            json!({"app": app_id}),
        )
        .await;
    let webhook: uuid::Uuid = data["application"]["webhooks"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut tx = app.server().store.read().await.unwrap();
    tx.deliveries_of_webhooks(
        sextant_domain::TenantId::DEFAULT,
        &[WebhookId::from_untyped(webhook)],
        100_000,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|d| {
        let body: Value = serde_json::from_str(&d.body).unwrap();
        // The body as `WebhookEvent::body` writes it (serde_json's canonical text).
        assert_eq!(body.to_string(), d.body);
        assert_eq!(body["id"], d.event_id.to_string());
        assert_eq!(body["type"], d.event_type.as_str());
        assert_eq!(body["applicationID"], app_id);
        assert_eq!(
            body["tenant"],
            sextant_domain::TenantId::DEFAULT.0.to_string()
        );
        (
            d.event_type.as_str().to_owned(),
            body["runtimeID"].as_str().unwrap().to_owned(),
            body["apiDefinitionID"].clone(),
        )
    })
    .collect()
}

/// How many deliveries of `kind` about `runtime` the webhook of `app_id` has.
async fn told(app: &TestApp, app_id: &str, kind: &str, runtime: &str) -> usize {
    deliveries(app, app_id)
        .await
        .iter()
        .filter(|(k, r, _)| k == kind && r == runtime)
        .count()
}

/// A runtime's life in `scenario` (whose last application is `watcher`): each mutation's
/// statements, by name.
async fn runtime_life(app: &TestApp, scenario: &str, watcher: &str) -> Vec<(&'static str, u64)> {
    let name = format!("{}-subject", scenario.to_lowercase());
    let mut costs = Vec::new();
    let (data, n) = cost(
        app,
        "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
        json!({"in": {"name": name, "labels": {"scenarios": [scenario]}}}),
    )
    .await;
    costs.push(("registerRuntime", n));
    let rt = data["registerRuntime"]["id"].as_str().unwrap().to_owned();
    assert_eq!(told(app, watcher, "CONFIGURATION_CHANGED", &rt).await, 1);
    assert_eq!(told(app, watcher, "CREDENTIALS_REQUESTED", &rt).await, 1);

    let (_, n) = cost(
        app,
        "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
        json!({"id": rt}),
    )
    .await;
    costs.push(("setRuntimeStatus", n));
    let (_, n) = cost(
        app,
        r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "runtime/event_service_url", value: "https://events.local") { key } }"#,
        json!({"id": rt}),
    )
    .await;
    costs.push(("setRuntimeLabel event URL", n));
    assert_eq!(told(app, watcher, "CONFIGURATION_CHANGED", &rt).await, 3);

    let set_scenarios = r#"mutation($id: ID!, $v: Any!) { setRuntimeLabel(runtimeID: $id, key: "scenarios", value: $v) { key } }"#;
    let (_, n) = cost(app, set_scenarios, json!({"id": rt, "v": ["SPARE"]})).await;
    costs.push(("setRuntimeLabel scenarios: leave", n));
    let (_, n) = cost(app, set_scenarios, json!({"id": rt, "v": [scenario]})).await;
    costs.push(("setRuntimeLabel scenarios: join", n));
    assert_eq!(told(app, watcher, "CONFIGURATION_CHANGED", &rt).await, 5);
    assert_eq!(told(app, watcher, "CREDENTIALS_REQUESTED", &rt).await, 2);

    let one_scenario = |name: &str| {
        format!(
            "mutation($id: ID!, $s: String!) {{ {name}(runtimeID: $id, scenario: $s) {{ key }} }}"
        )
    };
    let vars = json!({"id": rt, "s": scenario});
    let (_, n) = cost(app, &one_scenario("removeRuntimeScenario"), vars.clone()).await;
    costs.push(("removeRuntimeScenario", n));
    let (_, n) = cost(app, &one_scenario("addRuntimeScenario"), vars).await;
    costs.push(("addRuntimeScenario", n));
    assert_eq!(told(app, watcher, "CONFIGURATION_CHANGED", &rt).await, 7);
    assert_eq!(told(app, watcher, "CREDENTIALS_REQUESTED", &rt).await, 3);

    let (_, n) = cost(
        app,
        r#"mutation($id: ID!) { deleteRuntimeLabel(runtimeID: $id, key: "scenarios") { key } }"#,
        json!({"id": rt}),
    )
    .await;
    costs.push(("deleteRuntimeLabel scenarios", n));
    let (_, n) = cost(
        app,
        "mutation($id: ID!, $in: RuntimeInput!) { updateRuntime(id: $id, in: $in) { id } }",
        json!({"id": rt, "in": {"name": name, "labels": {"scenarios": [scenario]}}}),
    )
    .await;
    costs.push(("updateRuntime", n));
    let (_, n) = cost(
        app,
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": rt}),
    )
    .await;
    costs.push(("unregisterRuntime", n));
    assert_eq!(told(app, watcher, "CONFIGURATION_CHANGED", &rt).await, 10);
    assert_eq!(told(app, watcher, "CREDENTIALS_REQUESTED", &rt).await, 4);
    costs
}

/// An application's life in `scenario` (seen by its runtimes): each mutation's statements,
/// and how many credentials requests its webhook got.
async fn application_life(app: &TestApp, scenario: &str) -> (Vec<(&'static str, u64)>, usize) {
    let mut costs = Vec::new();
    let (data, n) = cost(
        app,
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
        json!({"in": {
            "name": format!("{}-subject", scenario.to_lowercase()),
            "providerName": "acme",
            "labels": {"scenarios": [scenario]},
            "apiDefinitions": [api_input("first")],
            "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "http://127.0.0.1:9/hook"}],
        }}),
    )
    .await;
    costs.push(("registerApplication", n));
    let id = data["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (data, n) = cost(
        app,
        "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
        json!({"app": id, "in": api_input("second")}),
    )
    .await;
    costs.push(("addAPIDefinition", n));
    let second = data["addAPIDefinition"]["id"].as_str().unwrap().to_owned();
    let set_scenarios = r#"mutation($id: ID!, $v: Any!) { setApplicationLabel(applicationID: $id, key: "scenarios", value: $v) { key } }"#;
    let (_, n) = cost(app, set_scenarios, json!({"id": id, "v": ["SPARE"]})).await;
    costs.push(("setApplicationLabel scenarios: leave", n));
    let (_, n) = cost(app, set_scenarios, json!({"id": id, "v": [scenario]})).await;
    costs.push(("setApplicationLabel scenarios: join", n));
    let one_scenario = |name: &str| {
        format!(
            "mutation($id: ID!, $s: String!) {{ {name}(applicationID: $id, scenario: $s) {{ key }} }}"
        )
    };
    // Into a scenario of no runtime and out again: the application stays where it was.
    let vars = json!({"id": id, "s": "SPARE"});
    let (_, n) = cost(app, &one_scenario("addApplicationScenario"), vars.clone()).await;
    costs.push(("addApplicationScenario", n));
    let (_, n) = cost(app, &one_scenario("removeApplicationScenario"), vars).await;
    costs.push(("removeApplicationScenario", n));
    let (_, n) = cost(
        app,
        "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
        json!({"id": second}),
    )
    .await;
    costs.push(("deleteAPIDefinition", n));
    let asked = deliveries(app, &id)
        .await
        .iter()
        .filter(|(k, _, _)| k == "CREDENTIALS_REQUESTED")
        .count();
    (costs, asked)
}

async fn event_deciding_mutations_cost_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SMALL", "LARGE", "SPARE"]).await;
    let small = populate(&app, "SMALL", 1).await;
    let large = populate(&app, "LARGE", MANY).await;
    // Label definitions are made on first use: the eventing URL's before anything is counted.
    let spare = app.register_runtime("spare", json!({})).await;
    app.gql(
        r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "runtime/event_service_url", value: "https://spare.local") { key } }"#,
        json!({"id": spare}),
    )
    .await;

    let one = runtime_life(&app, "SMALL", &small[0]).await;
    let many = runtime_life(&app, "LARGE", &large[MANY - 1]).await;
    eprintln!("runtime mutations, 1 application: {one:?}; {MANY}: {many:?}");
    assert_eq!(one, many, "statements must not grow with the applications");
    // Every application of the scenario heard the same.
    let first = deliveries(&app, &large[0]).await;
    assert_eq!(first.len(), 14, "{first:?}");

    let (one, asked_one) = application_life(&app, "SMALL").await;
    let (many, asked_many) = application_life(&app, "LARGE").await;
    eprintln!("application mutations, 1 runtime: {one:?}; {MANY}: {many:?}");
    assert_eq!(one, many, "statements must not grow with the runtimes");
    // Per runtime: the first API at registration, the second when added, both on joining
    // again.
    assert_eq!(asked_one, 4);
    assert_eq!(asked_many, 4 * MANY);
}

on_both_backends!(event_deciding_mutations_cost_constant_statements);
