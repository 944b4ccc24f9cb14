//! Runtimes: register, read, update (labels replaced), unregister, validation, uniqueness,
//! tenants, pagination, and the applications a runtime sees through scenarios.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error_code};
use crate::on_both_backends;

const FIELDS: &str =
    "id name description labels status { condition timestamp } metadata { creationTimestamp }";

fn register_mutation() -> String {
    format!("mutation($in: RuntimeInput!) {{ registerRuntime(in: $in) {{ {FIELDS} }} }}")
}

fn update_mutation() -> String {
    format!(
        "mutation($id: ID!, $in: RuntimeInput!) {{ updateRuntime(id: $id, in: $in) {{ {FIELDS} }} }}"
    )
}

async fn read_runtime(app: &TestApp, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ runtime(id: $id) {{ {FIELDS} }} }}");
    app.gql(&query, json!({"id": id})).await["runtime"].clone()
}

async fn all_runtimes(app: &TestApp) -> Value {
    let query = format!("{{ runtimes {{ totalCount data {{ {FIELDS} }} }} }}");
    app.gql(&query, json!({})).await["runtimes"].clone()
}

fn assert_recent(timestamp: &Value) {
    let text = timestamp
        .as_str()
        .unwrap_or_else(|| panic!("timestamp {timestamp}"));
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("timestamp {text:?} is not RFC 3339: {e}"));
    let age = time::OffsetDateTime::now_utc() - parsed;
    assert!(
        age.abs() < time::Duration::minutes(1),
        "timestamp {text} is not recent"
    );
}

fn ids_of(page: &Value) -> BTreeSet<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Registers an application as `token` and returns its id.
async fn register_app_as(app: &TestApp, token: &str, name: &str, labels: Value) -> String {
    let body = app
        .gql_as(
            token,
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": name, "providerName": "p", "labels": labels}}),
        )
        .await;
    body["data"]["registerApplication"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn register_with_labels_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let input = json!({
        "name": "runtime-1",
        "description": "a runtime",
        "labels": {"scenarios": ["DEFAULT"], "env": "prod", "nodes": [1, 2]},
    });
    let registered =
        app.gql(&register_mutation(), json!({"in": input})).await["registerRuntime"].clone();
    let id = registered["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(registered["name"], "runtime-1");
    assert_eq!(registered["description"], "a runtime");
    assert_eq!(
        registered["labels"],
        json!({"scenarios": ["DEFAULT"], "env": "prod", "nodes": [1, 2]})
    );
    assert_eq!(registered["status"]["condition"], "INITIAL");
    assert_recent(&registered["status"]["timestamp"]);
    assert_recent(&registered["metadata"]["creationTimestamp"]);

    assert_eq!(read_runtime(&app, &id).await, registered);
    let list = all_runtimes(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"], json!([registered]));
    // The scenarios definition exists after registering a runtime.
    let data = app
        .gql(
            r#"{ labelDefinition(key: "scenarios") { key } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["labelDefinition"]["key"], "scenarios");
}

async fn register_without_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .gql(&register_mutation(), json!({"in": {"name": "bare"}}))
        .await["registerRuntime"]
        .clone();
    assert_eq!(registered["description"], Value::Null);
    // Runtimes get no default scenario.
    assert_eq!(registered["labels"], json!({}));
    assert_eq!(registered["status"]["condition"], "INITIAL");
    let id = registered["id"].as_str().unwrap();
    assert_eq!(read_runtime(&app, id).await, registered);
    let id = app.register_runtime("empty-labels", json!({})).await;
    assert_eq!(read_runtime(&app, &id).await["labels"], json!({}));
}

async fn update_replaces_fields_and_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .register_runtime("before", json!({"a": 1, "b": 2, "scenarios": ["DEFAULT"]}))
        .await;
    let before = read_runtime(&app, &id).await;
    let updated = app
        .gql(
            &update_mutation(),
            json!({"id": id, "in": {"name": "after", "description": "new", "labels": {"c": 3, "a": "x"}}}),
        )
        .await["updateRuntime"]
        .clone();
    let expected = json!({
        "id": id,
        "name": "after",
        "description": "new",
        "labels": {"c": 3, "a": "x"},
        "status": before["status"],
        "metadata": before["metadata"],
    });
    assert_eq!(updated, expected);
    assert_eq!(read_runtime(&app, &id).await, expected);

    // Without labels and description, both are cleared.
    let updated = app
        .gql(
            &update_mutation(),
            json!({"id": id, "in": {"name": "after"}}),
        )
        .await["updateRuntime"]
        .clone();
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["labels"], json!({}));
    assert_eq!(read_runtime(&app, &id).await, updated);
    let data = app
        .gql(
            r#"{ runtimes(filter: [{key: "c"}]) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["runtimes"]["totalCount"], 0);
}

async fn unregister_returns_the_runtime_and_removes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_runtime("doomed", json!({"env": "prod"})).await;
    let keep = app.register_runtime("kept", json!({"env": "dev"})).await;
    let before = read_runtime(&app, &id).await;
    let query = format!("mutation($id: ID!) {{ unregisterRuntime(id: $id) {{ {FIELDS} }} }}");
    let removed = app.gql(&query, json!({"id": id})).await["unregisterRuntime"].clone();
    assert_eq!(removed, before);
    assert_eq!(removed["labels"], json!({"env": "prod"}));
    assert_eq!(read_runtime(&app, &id).await, Value::Null);
    let list = all_runtimes(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0]["id"], keep.as_str());
    assert_eq!(list["data"][0]["labels"], json!({"env": "dev"}));
    let message = app.gql_error("NOT_FOUND", &query, json!({"id": id})).await;
    assert!(message.contains("does not exist"), "{message}");
    for id in ["not-a-uuid".to_owned(), uuid::Uuid::new_v4().to_string()] {
        let message = app.gql_error("NOT_FOUND", &query, json!({"id": id})).await;
        assert!(message.contains("does not exist"), "{message}");
        let message = app
            .gql_error(
                "NOT_FOUND",
                &update_mutation(),
                json!({"id": id, "in": {"name": "x"}}),
            )
            .await;
        assert!(message.contains("does not exist"), "{message}");
    }
    assert_eq!(read_runtime(&app, "not-a-uuid").await, Value::Null);
    // The name is free again.
    app.register_runtime("doomed", json!({})).await;
}

async fn duplicate_names_are_refused_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_runtime("dup", json!({"env": "one"})).await;
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            &register_mutation(),
            json!({"in": {"name": "dup", "labels": {"env": "two"}}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    let list = all_runtimes(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0]["labels"], json!({"env": "one"}));

    // Updating to a taken name is refused and keeps fields and labels.
    let second = app.register_runtime("second", json!({"keep": true})).await;
    let before = read_runtime(&app, &second).await;
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            &update_mutation(),
            json!({"id": second, "in": {"name": "dup", "description": "d", "labels": {"new": 1}}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(read_runtime(&app, &second).await, before);

    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(
            &other,
            "mutation { registerRuntime(in: {name: \"dup\"}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["registerRuntime"]["name"], "dup", "{body}");
    assert_eq!(all_runtimes(&app).await["totalCount"], 2);
}

async fn validation_errors_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_runtime("target", json!({"env": "prod"})).await;
    let before = read_runtime(&app, &id).await;
    let cases = [
        (json!({"name": "0invalid"}), "name"),
        (json!({"name": "UPPER"}), "name"),
        (json!({"name": "a".repeat(37)}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "ok", "description": "d".repeat(129)}),
            "description",
        ),
        (json!({"name": "ok", "labels": {"": 1}}), "labels"),
        (
            json!({"name": "ok", "labels": {"env": null}}),
            "labels: (env",
        ),
    ];
    for (input, field) in cases {
        let prefix = format!("validation error for type RuntimeInput: {field}: ");
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                &register_mutation(),
                json!({"in": input}),
            )
            .await;
        assert!(message.starts_with(&prefix), "register {input}: {message}");
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                &update_mutation(),
                json!({"id": id, "in": input}),
            )
            .await;
        assert!(message.starts_with(&prefix), "update {input}: {message}");
        assert_eq!(read_runtime(&app, &id).await, before, "after {input}");
    }
    assert_eq!(all_runtimes(&app).await["totalCount"], 1);
    // The limits themselves are allowed.
    app.gql(
        &register_mutation(),
        json!({"in": {"name": "a".repeat(36), "description": "d".repeat(128)}}),
    )
    .await;
    assert_eq!(all_runtimes(&app).await["totalCount"], 2);
}

async fn pagination_walks_every_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut registered = BTreeSet::new();
    for i in 0..7 {
        registered.insert(app.register_runtime(&format!("rt-{i}"), json!({})).await);
    }
    let query = "query($after: PageCursor) { runtimes(first: 2, after: $after) { \
                 totalCount data { id } pageInfo { endCursor hasNextPage } } }";
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app.gql(query, json!({"after": after})).await["runtimes"].clone();
        assert_eq!(page["totalCount"], 7, "{page}");
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        seen.extend(data.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert!(sizes.len() < 10, "pagination does not end");
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(sizes, vec![2, 2, 2, 1]);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), registered);
    for first in [0, 101] {
        let message = app
            .gql_error(
                "INVALID_DATA",
                "query($first: Int) { runtimes(first: $first) { totalCount } }",
                json!({"first": first}),
            )
            .await;
        assert!(message.contains("page size"), "{message}");
    }
    let message = app
        .gql_error(
            "INVALID_DATA",
            r#"{ runtimes(after: "garbage!") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(message.contains("cursor"), "{message}");
}

async fn tenants_are_separated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .register_runtime("owned-by-a", json!({"env": "prod"}))
        .await;
    let before = read_runtime(&app, &id).await;
    let (_, b) = app.other_tenant();
    let body = app
        .gql_as(
            &b,
            "query($id: ID!) { runtime(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"]["runtime"], Value::Null, "{body}");
    let body = app
        .gql_as(&b, "{ runtimes { totalCount data { id } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["runtimes"],
        json!({"totalCount": 0, "data": []})
    );
    for (mutation, name) in [
        (
            "mutation($id: ID!) { updateRuntime(id: $id, in: {name: \"stolen\", labels: {x: 1}}) { id } }",
            "updateRuntime",
        ),
        (
            "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
            "unregisterRuntime",
        ),
        (
            "mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: \"env\", value: \"hacked\") { key } }",
            "setRuntimeLabel",
        ),
        (
            "mutation($id: ID!) { deleteRuntimeLabel(runtimeID: $id, key: \"env\") { key } }",
            "deleteRuntimeLabel",
        ),
    ] {
        let body = app.gql_as(&b, mutation, json!({"id": id})).await;
        let message = assert_error_code(&body, "NOT_FOUND");
        assert!(message.contains("does not exist"), "{name}: {message}");
        assert_eq!(read_runtime(&app, &id).await, before, "after {name}");
    }
    let body = app
        .gql_as(
            &b,
            "mutation { registerRuntime(in: {name: \"owned-by-b\"}) { id } }",
            json!({}),
        )
        .await;
    let b_id = body["data"]["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(read_runtime(&app, &b_id).await, Value::Null);
    let list = all_runtimes(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0], before);
}

const FOR_RUNTIME: &str = "query($id: ID!, $first: Int, $after: PageCursor) { \
                           applicationsForRuntime(runtimeID: $id, first: $first, after: $after) { \
                           totalCount data { id name } pageInfo { endCursor hasNextPage } } }";

async fn apps_for(app: &TestApp, runtime: &str) -> Value {
    app.gql(FOR_RUNTIME, json!({"id": runtime})).await["applicationsForRuntime"].clone()
}

async fn applications_for_runtime_follow_scenarios(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["black-friday", "christmas", "easter"])
        .await;
    let a1 = app.register_app("a1", json!({})).await; // DEFAULT
    let a2 = app
        .register_app("a2", json!({"scenarios": ["black-friday"]}))
        .await;
    let a3 = app
        .register_app("a3", json!({"scenarios": ["christmas", "DEFAULT"]}))
        .await;
    let a4 = app
        .register_app("a4", json!({"scenarios": ["easter", "black-friday"]}))
        .await;

    // Another tenant with the same scenario and an application in it.
    let (_, other) = app.other_tenant();
    let scenarios = json!({
        "type": "array", "minItems": 1, "uniqueItems": true,
        "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9\\s]*[A-Za-z0-9])$",
                  "enum": ["DEFAULT", "black-friday"], "maxLength": 128}
    });
    let body = app
        .gql_as(
            &other,
            "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }",
            json!({"in": {"key": "scenarios", "schema": scenarios.to_string()}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    register_app_as(
        &app,
        &other,
        "foreign",
        json!({"scenarios": ["DEFAULT", "black-friday"]}),
    )
    .await;

    let all = app
        .register_runtime(
            "all",
            json!({"scenarios": ["DEFAULT", "black-friday", "christmas", "easter"]}),
        )
        .await;
    let page = apps_for(&app, &all).await;
    let expected: BTreeSet<String> = [&a1, &a2, &a3, &a4].into_iter().cloned().collect();
    assert_eq!(ids_of(&page), expected);
    assert_eq!(page["totalCount"], 4);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // Paging through the same list.
    let mut seen = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .gql(FOR_RUNTIME, json!({"id": all, "first": 3, "after": after}))
            .await["applicationsForRuntime"]
            .clone();
        assert_eq!(page["totalCount"], 4);
        for id in ids_of(&page) {
            assert!(seen.insert(id), "an application came twice");
        }
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);

    let one = app
        .register_runtime("one", json!({"scenarios": ["black-friday"]}))
        .await;
    let page = apps_for(&app, &one).await;
    assert_eq!(ids_of(&page), [&a2, &a4].into_iter().cloned().collect());
    assert_eq!(page["totalCount"], 2);
    let xmas = app
        .register_runtime("xmas", json!({"scenarios": ["christmas"]}))
        .await;
    assert_eq!(ids_of(&apps_for(&app, &xmas).await), [a3.clone()].into());

    // Without scenarios the runtime sees nothing.
    let none = app.register_runtime("none", json!({"env": "prod"})).await;
    let page = apps_for(&app, &none).await;
    assert_eq!(page["totalCount"], 0);
    assert_eq!(page["data"], json!([]));
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // Changing a runtime's scenarios changes what it sees.
    app.gql(
        "mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: \"scenarios\", value: [\"easter\"]) { key } }",
        json!({"id": none}),
    )
    .await;
    assert_eq!(ids_of(&apps_for(&app, &none).await), [a4.clone()].into());
    app.gql(
        "mutation($id: ID!) { deleteRuntimeLabel(runtimeID: $id, key: \"scenarios\") { key } }",
        json!({"id": none}),
    )
    .await;
    assert_eq!(apps_for(&app, &none).await["totalCount"], 0);
    // An unregistered application is no longer seen.
    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": a2}),
    )
    .await;
    assert_eq!(ids_of(&apps_for(&app, &one).await), [a4.clone()].into());
}

async fn applications_for_unknown_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_app("an-app", json!({})).await;
    let message = app
        .gql_error(
            "NOT_FOUND",
            FOR_RUNTIME,
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert!(message.contains("runtime does not exist"), "{message}");
    let message = app
        .gql_error("NOT_FOUND", FOR_RUNTIME, json!({"id": "not-a-uuid"}))
        .await;
    assert!(message.contains("does not exist"), "{message}");

    // A runtime of another tenant is unknown here, even with a matching scenario.
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(
            &other,
            "mutation { registerRuntime(in: {name: \"foreign\", labels: {scenarios: [\"DEFAULT\"]}}) { id } }",
            json!({}),
        )
        .await;
    let foreign = body["data"]["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = app
        .gql_error("NOT_FOUND", FOR_RUNTIME, json!({"id": foreign}))
        .await;
    assert!(message.contains("runtime does not exist"), "{message}");
    // In its own tenant it sees no application of ours.
    let body = app
        .gql_as(&other, FOR_RUNTIME, json!({"id": foreign}))
        .await;
    assert_eq!(
        body["data"]["applicationsForRuntime"]["totalCount"], 0,
        "{body}"
    );
}

on_both_backends!(
    register_with_labels_and_read_back,
    register_without_labels,
    update_replaces_fields_and_labels,
    unregister_returns_the_runtime_and_removes_it,
    duplicate_names_are_refused_per_tenant,
    validation_errors_change_nothing,
    pagination_walks_every_page,
    tenants_are_separated,
    applications_for_runtime_follow_scenarios,
    applications_for_unknown_runtime,
);
