//! Default eventing (Compass's eventing_test.go and more): an application's events go to the
//! runtime chosen with `setDefaultEventingForApplication` while it shares a scenario with the
//! application, else to the oldest runtime that does; its URL is the runtime's
//! `runtime/event_service_url` label. Reading the configuration changes nothing.

use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{Backend, TestApp, assert_error_code};
use crate::on_both_backends;

const URL_KEY: &str = "runtime/event_service_url";
const RT1_URL: &str = "https://events.rt1.example.com";
const RT2_URL: &str = "https://events.rt2.example.com";

const SET: &str = "mutation($app: String!, $rt: String!) { setDefaultEventingForApplication(appID: $app, runtimeID: $rt) { defaultURL } }";
const DELETE: &str =
    "mutation($app: String!) { deleteDefaultEventingForApplication(appID: $app) { defaultURL } }";

async fn app_url(app: &TestApp, id: &str) -> Value {
    app.gql(
        "query($id: ID!) { application(id: $id) { eventingConfiguration { defaultURL } } }",
        json!({"id": id}),
    )
    .await["application"]["eventingConfiguration"]["defaultURL"]
        .clone()
}

async fn set_default(app: &TestApp, app_id: &str, runtime: &str) -> Value {
    app.gql(SET, json!({"app": app_id, "rt": runtime})).await["setDefaultEventingForApplication"]
        ["defaultURL"]
        .clone()
}

async fn delete_default(app: &TestApp, app_id: &str) -> Value {
    app.gql(DELETE, json!({"app": app_id})).await["deleteDefaultEventingForApplication"]
        ["defaultURL"]
        .clone()
}

/// Every runtime's labels, by id.
async fn runtime_labels(app: &TestApp) -> Value {
    let data = app
        .gql("{ runtimes { data { id labels } } }", json!({}))
        .await;
    let mut map = serde_json::Map::new();
    for runtime in data["runtimes"]["data"].as_array().unwrap() {
        map.insert(
            runtime["id"].as_str().unwrap().to_owned(),
            runtime["labels"].clone(),
        );
    }
    Value::Object(map)
}

/// Two runtimes in DEFAULT, registered rt1 then rt2, and an application (in DEFAULT).
async fn setup(app: &TestApp) -> (String, String, String) {
    let rt1 = app
        .register_runtime("rt1", json!({"scenarios": ["DEFAULT"], URL_KEY: RT1_URL}))
        .await;
    let rt2 = app
        .register_runtime("rt2", json!({"scenarios": ["DEFAULT"], URL_KEY: RT2_URL}))
        .await;
    let app_id = app.register_app("app", json!({})).await;
    (rt1, rt2, app_id)
}

async fn default_is_the_oldest_runtime_until_another_is_chosen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (rt1, rt2, app_id) = setup(&app).await;

    assert_eq!(app_url(&app, &app_id).await, RT1_URL);

    assert_eq!(set_default(&app, &app_id, &rt2).await, RT2_URL);
    assert_eq!(app_url(&app, &app_id).await, RT2_URL);
    // The list answers the same.
    let data = app
        .gql(
            "{ applications { data { id eventingConfiguration { defaultURL } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["applications"]["data"],
        json!([{"id": app_id, "eventingConfiguration": {"defaultURL": RT2_URL}}])
    );

    assert_eq!(delete_default(&app, &app_id).await, RT2_URL);
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);
    // Nothing chosen any more: deleting again answers "".
    assert_eq!(delete_default(&app, &app_id).await, "");
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);

    // Choosing the oldest explicitly is fine too.
    assert_eq!(set_default(&app, &app_id, &rt1).await, RT1_URL);
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);
}

/// Each runtime's `eventingConfiguration.defaultURL` in `runtimes`, sorted by name.
async fn listed_urls(app: &TestApp, selection: &str) -> Vec<(String, String)> {
    let data = app
        .gql(
            &format!("{{ runtimes {{ data {{ name {selection} eventingConfiguration {{ defaultURL }} }} }} }}"),
            json!({}),
        )
        .await;
    let mut urls: Vec<(String, String)> = data["runtimes"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["eventingConfiguration"]["defaultURL"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    urls.sort();
    urls
}

fn expected_urls() -> Vec<(String, String)> {
    vec![
        ("bare".to_owned(), String::new()),
        ("rt1".to_owned(), RT1_URL.to_owned()),
        ("rt2".to_owned(), RT2_URL.to_owned()),
    ]
}

async fn runtime_eventing_configuration_in_a_list_with_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    app.register_runtime("bare", json!({"scenarios": ["DEFAULT"]}))
        .await;
    assert_eq!(listed_urls(&app, "labels").await, expected_urls());
}

/// The runtime's URL must not depend on whether `labels` is selected next to it.
async fn runtime_eventing_configuration_is_its_label(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (rt1, rt2, _) = setup(&app).await;
    let bare = app
        .register_runtime("bare", json!({"scenarios": ["DEFAULT"]}))
        .await;
    assert_eq!(
        listed_urls(&app, "").await,
        expected_urls(),
        "runtimes without labels"
    );
    for (id, url) in [(&rt1, RT1_URL), (&rt2, RT2_URL), (&bare, "")] {
        for selection in ["", "labels"] {
            let data = app
                .gql(
                    &format!("query($id: ID!) {{ runtime(id: $id) {{ {selection} eventingConfiguration {{ defaultURL }} }} }}"),
                    json!({"id": id}),
                )
                .await;
            assert_eq!(
                data["runtime"]["eventingConfiguration"]["defaultURL"], url,
                "runtime(id) of {id} selecting {selection:?}"
            );
        }
    }
}

async fn reading_changes_nothing_and_empty_cases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["LONELY", "OTHER"]).await;
    let (_, rt2, app_id) = setup(&app).await;
    let before = runtime_labels(&app).await;
    for _ in 0..2 {
        assert_eq!(app_url(&app, &app_id).await, RT1_URL);
    }
    let after = runtime_labels(&app).await;
    assert_eq!(
        before, after,
        "reading eventingConfiguration changed labels"
    );
    for labels in after.as_object().unwrap().values() {
        for key in labels.as_object().unwrap().keys() {
            assert!(!key.contains("defaultEventing"), "label {key} appeared");
        }
    }
    // Setting a default does not label runtimes either.
    set_default(&app, &app_id, &rt2).await;
    assert_eq!(runtime_labels(&app).await, before);

    // An application whose scenarios no runtime has: "".
    let lonely = app
        .register_app("lonely", json!({"scenarios": ["LONELY"]}))
        .await;
    assert_eq!(app_url(&app, &lonely).await, "");
    // The oldest sharing runtime without the URL label: "".
    app.register_runtime("no-url", json!({"scenarios": ["OTHER"]}))
        .await;
    app.register_runtime(
        "later",
        json!({"scenarios": ["OTHER"], URL_KEY: "https://later.example.com"}),
    )
    .await;
    let other = app
        .register_app("other", json!({"scenarios": ["OTHER"]}))
        .await;
    assert_eq!(app_url(&app, &other).await, "");
}

async fn a_default_must_share_a_scenario(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["OTHER"]).await;
    let (rt1, rt2, app_id) = setup(&app).await;
    let outsider = app
        .register_runtime(
            "outsider",
            json!({"scenarios": ["OTHER"], URL_KEY: "https://outsider.example.com"}),
        )
        .await;
    let message = app
        .gql_error("INVALID_DATA", SET, json!({"app": app_id, "rt": outsider}))
        .await;
    assert!(
        message.contains("does not find the given runtime"),
        "{message}"
    );
    assert!(message.contains(&outsider), "{message}");
    let missing = uuid::Uuid::new_v4().to_string();
    let message = app
        .gql_error("INVALID_DATA", SET, json!({"app": app_id, "rt": missing}))
        .await;
    assert!(
        message.contains("does not find the given runtime"),
        "{message}"
    );
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);
    // A missing application.
    let message = app
        .gql_error("NOT_FOUND", SET, json!({"app": missing, "rt": rt1}))
        .await;
    assert!(message.contains("does not exist"), "{message}");

    // The chosen runtime leaves the application's scenarios: back to the oldest sharing one.
    assert_eq!(set_default(&app, &app_id, &rt2).await, RT2_URL);
    app.gql(
        "mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: \"scenarios\", value: [\"OTHER\"]) { key } }",
        json!({"id": rt2}),
    )
    .await;
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);

    // The oldest runtime leaves: the next oldest sharing one (rt2 is still outside).
    app.register_runtime(
        "rt3",
        json!({"scenarios": ["DEFAULT"], URL_KEY: "https://events.rt3.example.com"}),
    )
    .await;
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": rt1}),
    )
    .await;
    assert_eq!(
        app_url(&app, &app_id).await,
        "https://events.rt3.example.com"
    );
}

async fn eventing_mutations_need_eventing_manage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, rt2, app_id) = setup(&app).await;
    let token = app.token(
        &[TenantId::DEFAULT],
        &[
            "application:read",
            "application:write",
            "runtime:read",
            "runtime:write",
        ],
    );
    let message = assert_error_code(
        &app.gql_as(&token, SET, json!({"app": app_id, "rt": rt2}))
            .await,
        "INSUFFICIENT_SCOPES",
    );
    assert!(
        message.starts_with("insufficient scopes provided, required: [eventing:manage]"),
        "{message}"
    );
    assert_eq!(app_url(&app, &app_id).await, RT1_URL, "nothing was set");
    set_default(&app, &app_id, &rt2).await;
    let message = assert_error_code(
        &app.gql_as(&token, DELETE, json!({"app": app_id})).await,
        "INSUFFICIENT_SCOPES",
    );
    assert!(
        message.starts_with("insufficient scopes provided, required: [eventing:manage]"),
        "{message}"
    );
    assert_eq!(app_url(&app, &app_id).await, RT2_URL, "nothing was deleted");

    // Another tenant cannot see or change the choice.
    let (_, other) = app.other_tenant();
    let message = assert_error_code(
        &app.gql_as(&other, DELETE, json!({"app": app_id})).await,
        "NOT_FOUND",
    );
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(app_url(&app, &app_id).await, RT2_URL);
}

async fn unregistering_forgets_the_choice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, rt2, app_id) = setup(&app).await;
    set_default(&app, &app_id, &rt2).await;
    // The chosen runtime goes away: back to the oldest.
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": rt2}),
    )
    .await;
    assert_eq!(app_url(&app, &app_id).await, RT1_URL);
    assert_eq!(delete_default(&app, &app_id).await, "");
    // An application that goes away can be registered again without an old choice.
    let rt3 = app
        .register_runtime(
            "rt3",
            json!({"scenarios": ["DEFAULT"], URL_KEY: "https://events.rt3.example.com"}),
        )
        .await;
    set_default(&app, &app_id, &rt3).await;
    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": app_id}),
    )
    .await;
    let message = app
        .gql_error("NOT_FOUND", DELETE, json!({"app": app_id}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let again = app.register_app("app", json!({})).await;
    assert_eq!(app_url(&app, &again).await, RT1_URL);
}

/// `Application.assignedRuntimes` (a Sextant extension): the runtimes of the application's
/// scenarios with their eventing URLs; a runtime's certificate sees none of them.
async fn assigned_runtimes_are_those_of_its_scenarios(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    let rt1 = app
        .register_runtime("rt1", json!({"scenarios": ["SHOP"], URL_KEY: RT1_URL}))
        .await;
    let rt2 = app
        .register_runtime("rt2", json!({"scenarios": ["SHOP", "DEFAULT"]}))
        .await;
    app.register_runtime(
        "elsewhere",
        json!({"scenarios": ["DEFAULT"], URL_KEY: RT2_URL}),
    )
    .await;
    let query = "query($id: ID!) { application(id: $id) { assignedRuntimes { id name status eventingURL } } }";
    let data = app.gql(query, json!({"id": shop})).await;
    let mut runtimes = data["application"]["assignedRuntimes"]
        .as_array()
        .unwrap()
        .clone();
    runtimes.sort_by_key(|r| r["name"].as_str().unwrap().to_owned());
    assert_eq!(
        Value::from(runtimes),
        json!([
            {"id": rt1, "name": "rt1", "status": "INITIAL", "eventingURL": RT1_URL},
            {"id": rt2, "name": "rt2", "status": "INITIAL", "eventingURL": null},
        ])
    );
    let paired = crate::rotation::pair_as(&app, "Runtime", &rt1).await;
    let client = paired.client(&paired.trusted_pem);
    let body: Value = client
        .post(format!(
            "https://localhost:{}/director/graphql",
            app.server().mtls_addr.port()
        ))
        .json(&json!({"query": query, "variables": {"id": shop}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["application"]["assignedRuntimes"],
        json!([]),
        "{body}"
    );
}

on_both_backends!(
    assigned_runtimes_are_those_of_its_scenarios,
    default_is_the_oldest_runtime_until_another_is_chosen,
    runtime_eventing_configuration_in_a_list_with_labels,
    reading_changes_nothing_and_empty_cases,
    a_default_must_share_a_scenario,
    eventing_mutations_need_eventing_manage,
    unregistering_forgets_the_choice,
    runtime_eventing_configuration_is_its_label,
);
