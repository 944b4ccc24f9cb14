//! No N+1 in the catalog: a page of applications with their API and event definitions and
//! each API's credentials for a runtime costs the same number of statements for one
//! application with one API as for five applications with ten APIs each.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, api_input, basic_auth, event_input};
use crate::on_both_backends;

/// The most statements the nested query may cost.
const BOUND: u64 = 12;

/// Registers `apps` applications in `scenario`, each with `apis` API and `events` event
/// definitions, and gives `runtime` its own credentials for the first API of each.
async fn build(
    app: &TestApp,
    scenario: &str,
    runtime: &str,
    apps: usize,
    apis: usize,
    events: usize,
) {
    for a in 0..apps {
        let input = json!({
            "name": format!("{}-app-{a}", scenario.to_lowercase()),
            "providerName": "acme",
            "labels": {"scenarios": [scenario], "team": a},
            "apiDefinitions": (0..apis).map(|i| api_input(&format!("api-{i}"))).collect::<Vec<_>>(),
            "eventDefinitions": (0..events).map(|i| event_input(&format!("event-{i}"))).collect::<Vec<_>>(),
            "documents": [{"title": "t", "displayName": "d", "description": "d", "format": "MARKDOWN", "data": "# d"}],
            "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com"}],
        });
        let data = app
            .gql(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { apiDefinitions(first: 1) { data { id } } } }",
                json!({"in": input}),
            )
            .await;
        let first_api = data["registerApplication"]["apiDefinitions"]["data"][0]["id"].clone();
        app.gql(
            "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
            json!({"api": first_api, "rt": runtime, "in": basic_auth("rt-user", "pw")}),
        )
        .await;
    }
}

/// Runs `query` a few times and returns the fewest statements it cost, and its answer. The
/// loaders batch what arrives within a short window; on a loaded test machine one batch may
/// occasionally split in two, which is noise, not N+1 (an N+1 costs more on every run).
async fn measure(app: &TestApp, query: &str, variables: Value) -> (u64, Value) {
    let mut fewest = u64::MAX;
    let mut data = Value::Null;
    for _ in 0..3 {
        let before = app.statements();
        data = app.gql(query, variables.clone()).await;
        fewest = fewest.min(app.statements() - before);
    }
    (fewest, data)
}

/// Runs the nested query for `runtime` and returns (statements, answer).
async fn nested_query(app: &TestApp, runtime: &str) -> (u64, Value) {
    let query = "query($rt: ID!) { applicationsForRuntime(runtimeID: $rt) { data {
        id labels
        apiDefinitions { totalCount data { id spec { data }
            auth(runtimeID: $rt) { runtimeID auth { credential { ... on BasicCredentialData { username } } } } } }
        eventDefinitions { data { id } } } } }";
    measure(app, query, json!({"rt": runtime})).await
}

/// The same with documents, webhooks and `auths` of every API (`auths` grows with the
/// tenant's runtimes).
async fn wide_query(app: &TestApp, runtime: &str) -> (u64, Value) {
    let query = "query($rt: ID!) { applicationsForRuntime(runtimeID: $rt, first: 10) { data {
        id
        documents(first: 5) { totalCount data { title } }
        webhooks { url }
        apiDefinitions { data { auths { runtimeID auth { credential { ... on BasicCredentialData { username } } } } } } } } }";
    measure(app, query, json!({"rt": runtime})).await
}

fn check_answer(data: &Value, runtime: &str, apps: usize, apis: usize, events: usize) {
    let list = data["applicationsForRuntime"]["data"].as_array().unwrap();
    assert_eq!(list.len(), apps);
    for app in list {
        assert!(app["labels"]["team"].is_number(), "{app}");
        let page = &app["apiDefinitions"];
        assert_eq!(page["totalCount"], apis);
        let apis_list = page["data"].as_array().unwrap();
        assert_eq!(apis_list.len(), apis);
        let mut own = 0;
        for api in apis_list {
            assert_eq!(api["spec"]["data"], crate::helpers::OPENAPI_YAML);
            assert_eq!(api["auth"]["runtimeID"], runtime);
            match &api["auth"]["auth"] {
                Value::Null => {}
                auth => {
                    assert_eq!(auth["credential"]["username"], "rt-user");
                    own += 1;
                }
            }
        }
        assert_eq!(own, 1, "one API of each application has credentials");
        assert_eq!(
            app["eventDefinitions"]["data"].as_array().unwrap().len(),
            events
        );
    }
}

async fn nested_catalog_query_costs_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SMALL", "LARGE"]).await;
    let small_rt = app
        .register_runtime("small", json!({"scenarios": ["SMALL"]}))
        .await;
    let large_rt = app
        .register_runtime("large", json!({"scenarios": ["LARGE"]}))
        .await;
    // More runtimes, so `auths` has more than one entry per API.
    for i in 0..3 {
        app.register_runtime(&format!("extra-{i}"), json!({})).await;
    }
    build(&app, "SMALL", &small_rt, 1, 1, 1).await;
    build(&app, "LARGE", &large_rt, 5, 10, 10).await;

    let (small, data) = nested_query(&app, &small_rt).await;
    check_answer(&data, &small_rt, 1, 1, 1);
    let (large, data) = nested_query(&app, &large_rt).await;
    check_answer(&data, &large_rt, 5, 10, 10);
    eprintln!("nested catalog query: {small} statements for 1x1x1, {large} for 5x10x10");
    assert_eq!(small, large, "statements must not grow with the catalog");
    assert!(large <= BOUND, "the nested query costs {large} statements");

    let (small, data) = wide_query(&app, &small_rt).await;
    let first = &data["applicationsForRuntime"]["data"][0];
    assert_eq!(first["documents"]["totalCount"], 1);
    assert_eq!(first["webhooks"].as_array().unwrap().len(), 1);
    assert_eq!(
        first["apiDefinitions"]["data"][0]["auths"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let (large, data) = wide_query(&app, &large_rt).await;
    for application in data["applicationsForRuntime"]["data"].as_array().unwrap() {
        for api in application["apiDefinitions"]["data"].as_array().unwrap() {
            assert_eq!(api["auths"].as_array().unwrap().len(), 5);
        }
    }
    eprintln!("wide catalog query: {small} statements for 1x1x1, {large} for 5x10x10");
    assert_eq!(small, large, "statements must not grow with the catalog");
    assert!(large <= BOUND, "the wide query costs {large} statements");
}

/// The Runtime Agent's synchronisation query (spec section 6, with the E19 field names and
/// without `auths`, which needs system auths): one request, default page sizes, no paging.
async fn runtime_agent_sync_query_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rt = app
        .register_runtime("agent-rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    build(&app, "DEFAULT", &rt, 2, 3, 2).await;
    let auth = "credential { ... on BasicCredentialData { username password } \
                ... on OAuthCredentialData { clientId clientSecret url } } \
                additionalHeaders additionalQueryParams \
                requestAuth { csrf { tokenEndpointURL credential { ... on BasicCredentialData { username password } } \
                additionalHeaders additionalQueryParams } }";
    let query = format!(
        "query($rt: ID!) {{ result: applicationsForRuntime(runtimeID: $rt) {{
            data {{ id name description labels
              apiDefinitions {{ data {{ id name description spec {{ data format type }} targetURL group
                  auth(runtimeID: $rt) {{ runtimeID auth {{ {auth} }} }}
                  defaultAuth {{ {auth} }} version {{ value deprecated deprecatedSince forRemoval }} }}
                pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
              eventDefinitions {{ data {{ id applicationID name description group spec {{ data type format }}
                  version {{ value deprecated deprecatedSince forRemoval }} }}
                pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
              documents {{ data {{ id applicationID title displayName description format kind data }}
                pageInfo {{ startCursor endCursor hasNextPage }} totalCount }} }}
            pageInfo {{ startCursor endCursor hasNextPage }} totalCount }} }}"
    );
    let body = app
        .gql_as(&app.admin_token, &query, json!({"rt": rt}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let result = &body["data"]["result"];
    assert_eq!(result["totalCount"], 2);
    for application in result["data"].as_array().unwrap() {
        assert_eq!(application["apiDefinitions"]["totalCount"], 3);
        assert_eq!(application["eventDefinitions"]["totalCount"], 2);
        assert_eq!(application["documents"]["totalCount"], 1);
    }
}

/// `eventingConfiguration` in a page of applications.
async fn eventing_configuration_of_a_page_costs_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_runtime(
        "rt",
        json!({"scenarios": ["DEFAULT"], "runtime/event_service_url": "https://events.example.com"}),
    )
    .await;
    let query = "query($first: Int) { applications(first: $first) { data { id eventingConfiguration { defaultURL } } } }";
    for i in 0..10 {
        app.register_app(&format!("app-{i}"), json!({})).await;
    }
    let mut counts = Vec::new();
    for first in [1, 10] {
        let before = app.statements();
        let data = app.gql(query, json!({"first": first})).await;
        counts.push(app.statements() - before);
        let list = data["applications"]["data"].as_array().unwrap();
        assert_eq!(list.len(), first);
        for application in list {
            assert_eq!(
                application["eventingConfiguration"]["defaultURL"],
                "https://events.example.com"
            );
        }
    }
    eprintln!("eventingConfiguration: {counts:?} statements for 1 and 10 applications");
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the page"
    );
}

/// Spec texts are read with the pages only where `spec.data` is selected, also through a
/// fragment (a missed selection would answer null), for no statement more.
async fn spec_texts_are_read_only_when_selected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rt = app
        .register_runtime("texts-rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    build(&app, "DEFAULT", &rt, 3, 4, 2).await;
    let without = "{ applications { data { id
        apiDefinitions { data { id spec { format type } } }
        eventDefinitions { data { id spec { format type } } } } } }";
    let with = "{ applications { data { id
        apiDefinitions { data { id spec { format type data } } }
        eventDefinitions { data { id spec { ...text format type } } } } } }
        fragment text on EventSpec { data }";
    let (bare, data) = measure(&app, without, json!({})).await;
    let first = &data["applications"]["data"][0];
    assert!(
        first["apiDefinitions"]["data"][0]["spec"]
            .get("data")
            .is_none()
    );
    let (texts, data) = measure(&app, with, json!({})).await;
    assert_eq!(texts, bare, "texts come with the pages");
    let list = data["applications"]["data"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for application in list {
        for api in application["apiDefinitions"]["data"].as_array().unwrap() {
            assert_eq!(api["spec"]["data"], crate::helpers::OPENAPI_YAML);
        }
        for event in application["eventDefinitions"]["data"].as_array().unwrap() {
            assert_eq!(event["spec"]["data"], crate::helpers::ASYNCAPI_YAML);
        }
    }
}

on_both_backends!(
    nested_catalog_query_costs_constant_statements,
    spec_texts_are_read_only_when_selected,
    runtime_agent_sync_query_is_accepted,
    eventing_configuration_of_a_page_costs_constant_statements,
);
