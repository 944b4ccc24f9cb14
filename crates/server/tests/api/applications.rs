//! Applications: register, read, update, unregister, validation, uniqueness, tenants,
//! pagination and label filters.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error_code};
use crate::on_both_backends;

const FIELDS: &str = "id name providerName description integrationSystemID healthCheckURL \
                      labels status { condition timestamp }";

fn register_mutation() -> String {
    format!(
        "mutation($in: ApplicationRegisterInput!) {{ registerApplication(in: $in) {{ {FIELDS} }} }}"
    )
}

fn update_mutation() -> String {
    format!(
        "mutation($id: ID!, $in: ApplicationUpdateInput!) {{ updateApplication(id: $id, in: $in) {{ {FIELDS} }} }}"
    )
}

/// `application(id)` as the administrator.
async fn read_app(app: &TestApp, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ application(id: $id) {{ {FIELDS} }} }}");
    app.gql(&query, json!({"id": id})).await["application"].clone()
}

/// Every application of the administrator's tenant, in one page.
async fn all_apps(app: &TestApp) -> Value {
    let query = format!("{{ applications {{ totalCount data {{ {FIELDS} }} }} }}");
    app.gql(&query, json!({})).await["applications"].clone()
}

async fn register_system(app: &TestApp, name: &str) -> String {
    app.gql(
        "mutation($in: IntegrationSystemInput!) { registerIntegrationSystem(in: $in) { id } }",
        json!({"in": {"name": name}}),
    )
    .await["registerIntegrationSystem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Checks that a Timestamp is RFC 3339 and within a minute of now.
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
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn register_with_all_simple_fields_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = register_system(&app, "my-system").await;
    let input = json!({
        "name": "wordpress",
        "providerName": "compass",
        "description": "my first wordpress application",
        "healthCheckURL": "http://mywordpress.com/health",
        "integrationSystemID": system,
        "labels": {"group": ["production", "experimental"], "env": "prod", "count": 3},
    });
    let registered =
        app.gql(&register_mutation(), json!({"in": input})).await["registerApplication"].clone();
    let id = registered["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(registered["name"], "wordpress");
    assert_eq!(registered["providerName"], "compass");
    assert_eq!(registered["description"], "my first wordpress application");
    assert_eq!(
        registered["healthCheckURL"],
        "http://mywordpress.com/health"
    );
    assert_eq!(registered["integrationSystemID"], system.as_str());
    assert_eq!(
        registered["labels"],
        json!({
            "group": ["production", "experimental"],
            "env": "prod",
            "count": 3,
            "scenarios": ["DEFAULT"],
            "integration-system-id": system,
        })
    );
    assert_eq!(registered["status"]["condition"], "INITIAL");
    assert_recent(&registered["status"]["timestamp"]);

    // Read back one, and as a list.
    assert_eq!(read_app(&app, &id).await, registered);
    let list = all_apps(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"], json!([registered]));

    // `labels(key)` selects one label.
    let data = app
        .gql(
            r#"query($id: ID!) { application(id: $id) { labels(key: "env") } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["application"]["labels"], json!({"env": "prod"}));
    let data = app
        .gql(
            r#"query($id: ID!) { application(id: $id) { labels(key: "nope") } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["application"]["labels"], json!({}));
}

async fn register_with_only_required_fields_gets_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .gql(
            &register_mutation(),
            json!({"in": {"name": "minimal", "providerName": "p"}}),
        )
        .await["registerApplication"]
        .clone();
    assert_eq!(registered["description"], Value::Null);
    assert_eq!(registered["healthCheckURL"], Value::Null);
    assert_eq!(registered["integrationSystemID"], Value::Null);
    assert_eq!(
        registered["labels"],
        json!({"scenarios": ["DEFAULT"], "integration-system-id": ""})
    );
    assert_eq!(registered["status"]["condition"], "INITIAL");
    assert_recent(&registered["status"]["timestamp"]);
    let id = registered["id"].as_str().unwrap();
    assert_eq!(read_app(&app, id).await, registered);
    // Explicit scenarios are kept as given.
    let id = app
        .register_app(
            "explicit",
            json!({"scenarios": ["DEFAULT"], "x": {"nested": [1, 2]}}),
        )
        .await;
    assert_eq!(
        read_app(&app, &id).await["labels"],
        json!({"scenarios": ["DEFAULT"], "x": {"nested": [1, 2]}, "integration-system-id": ""})
    );
}

async fn update_changes_only_basic_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = register_system(&app, "updater").await;
    let id = app.register_app("before", json!({"env": "prod"})).await;
    app.gql(
        "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"extra\", value: [1]) { key } }",
        json!({"id": id}),
    )
    .await;
    let before = read_app(&app, &id).await;

    let updated = app
        .gql(
            &update_mutation(),
            json!({"id": id, "in": {
                "name": "after",
                "providerName": "new-provider",
                "description": "new description",
                "healthCheckURL": "https://example.com/health",
                "integrationSystemID": system,
            }}),
        )
        .await["updateApplication"]
        .clone();
    let expected = json!({
        "id": id,
        "name": "after",
        "providerName": "new-provider",
        "description": "new description",
        "healthCheckURL": "https://example.com/health",
        "integrationSystemID": system,
        "labels": {
            "env": "prod",
            "extra": [1],
            "scenarios": ["DEFAULT"],
            "integration-system-id": system,
        },
        "status": before["status"],
    });
    assert_eq!(updated, expected);
    assert_eq!(read_app(&app, &id).await, expected);

    // Clearing the optional fields clears them, and the integration-system-id label too.
    let updated = app
        .gql(
            &update_mutation(),
            json!({"id": id, "in": {"name": "after", "providerName": "p"}}),
        )
        .await["updateApplication"]
        .clone();
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["healthCheckURL"], Value::Null);
    assert_eq!(updated["integrationSystemID"], Value::Null);
    let read = read_app(&app, &id).await;
    assert_eq!(read, updated);
    assert_eq!(
        read["labels"],
        json!({"env": "prod", "extra": [1], "scenarios": ["DEFAULT"], "integration-system-id": ""})
    );
}

async fn unregister_returns_the_app_and_removes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("doomed", json!({"env": "prod"})).await;
    let keep = app.register_app("kept", json!({})).await;
    let before = read_app(&app, &id).await;
    let query = format!("mutation($id: ID!) {{ unregisterApplication(id: $id) {{ {FIELDS} }} }}");
    let removed = app.gql(&query, json!({"id": id})).await["unregisterApplication"].clone();
    assert_eq!(removed, before);
    assert_eq!(
        removed["labels"],
        json!({"env": "prod", "scenarios": ["DEFAULT"], "integration-system-id": ""})
    );
    assert_eq!(read_app(&app, &id).await, Value::Null);
    let list = all_apps(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0]["id"], keep.as_str());
    // A second unregister finds nothing.
    let message = app.gql_error("NOT_FOUND", &query, json!({"id": id})).await;
    assert!(message.contains("does not exist"), "{message}");
    // Its labels are gone with it: nothing matches the key any more.
    let data = app
        .gql(
            r#"{ applications(filter: [{key: "env"}]) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["applications"]["totalCount"], 0);
    // The name is free again.
    app.register_app("doomed", json!({})).await;
}

async fn duplicate_names_are_refused_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.register_app("dup", json!({"env": "one"})).await;
    let body = app
        .gql_as(
            &app.admin_token,
            &register_mutation(),
            json!({"in": {"name": "dup", "providerName": "p", "labels": {"env": "two"}}}),
        )
        .await;
    assert!(
        assert_error_code(&body, "NOT_UNIQUE").contains("not unique"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_UNIQUE");
    let list = all_apps(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0]["labels"]["env"], "one");

    // Updating another application to the taken name is refused and changes nothing.
    let second = app.register_app("second", json!({})).await;
    let before = read_app(&app, &second).await;
    let message = app
        .gql_error("NOT_UNIQUE", 
            &update_mutation(),
            json!({"id": second, "in": {"name": "dup", "providerName": "changed", "description": "d"}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(read_app(&app, &second).await, before);
    assert_eq!(read_app(&app, &first).await["name"], "dup");
    // Updating an application to its own name is fine.
    app.gql(
        &update_mutation(),
        json!({"id": first, "in": {"name": "dup", "providerName": "p2"}}),
    )
    .await;

    // The same name in another tenant is fine.
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(
            &other,
            "mutation { registerApplication(in: {name: \"dup\", providerName: \"p\"}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["registerApplication"]["name"], "dup", "{body}");
    assert_eq!(all_apps(&app).await["totalCount"], 2);
}

async fn unknown_integration_system_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = uuid::Uuid::new_v4().to_string();
    let message = app
        .gql_error(
            "NOT_FOUND",
            &register_mutation(),
            json!({"in": {"name": "orphan", "providerName": "p", "integrationSystemID": missing}}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(all_apps(&app).await["totalCount"], 0);

    let id = app.register_app("plain", json!({})).await;
    let before = read_app(&app, &id).await;
    let message = app
        .gql_error("NOT_FOUND", 
            &update_mutation(),
            json!({"id": id, "in": {"name": "renamed", "providerName": "p", "integrationSystemID": missing}}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(read_app(&app, &id).await, before);

    // A malformed id is a validation error.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            &register_mutation(),
            json!({"in": {"name": "orphan", "providerName": "p", "integrationSystemID": "nope"}}),
        )
        .await;
    assert!(
        message.starts_with(
            "validation error for type ApplicationRegisterInput: integrationSystemID: "
        ),
        "{message}"
    );
    assert_eq!(all_apps(&app).await["totalCount"], 1);
}

/// Invalid fields of an application input, each with the field the error must name.
fn invalid_fields() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"name": "0invalid"}), "name"),
        (json!({"name": "UPPER"}), "name"),
        (json!({"name": "a".repeat(37)}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "under_score"}), "name"),
        (json!({"name": "-dash"}), "name"),
        (json!({"providerName": ""}), "providerName"),
        (json!({"providerName": "p".repeat(257)}), "providerName"),
        (json!({"description": "d".repeat(129)}), "description"),
        (json!({"healthCheckURL": "not a url"}), "healthCheckURL"),
        (
            json!({"healthCheckURL": "ftp://example.com/health"}),
            "healthCheckURL",
        ),
        (
            json!({"healthCheckURL": format!("https://example.com/{}", "a".repeat(250))}),
            "healthCheckURL",
        ),
    ]
}

fn merged(base: &Value, patch: &Value) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

async fn register_validation_errors_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = json!({"name": "valid", "providerName": "p"});
    let mut cases = invalid_fields();
    cases.push((json!({"labels": {"": "empty key"}}), "labels"));
    cases.push((json!({"labels": {"env": null}}), "labels: (env"));
    for (patch, field) in cases {
        let input = merged(&base, &patch);
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                &register_mutation(),
                json!({"in": input}),
            )
            .await;
        let prefix = format!("validation error for type ApplicationRegisterInput: {field}: ");
        assert!(message.starts_with(&prefix), "{input}: {message}");
    }
    assert_eq!(all_apps(&app).await["totalCount"], 0);
    // Nothing was half-done either: not even the scenarios definition exists.
    let data = app.gql("{ labelDefinitions { key } }", json!({})).await;
    assert_eq!(data["labelDefinitions"], json!([]));

    // The limits themselves are allowed.
    let at_limits = json!({
        "name": "a".repeat(36),
        "providerName": "p".repeat(256),
        "description": "d".repeat(128),
        "healthCheckURL": "http://127.0.0.1:8080/health",
    });
    app.gql(&register_mutation(), json!({"in": at_limits}))
        .await;
    assert_eq!(all_apps(&app).await["totalCount"], 1);
}

async fn update_validation_errors_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("target", json!({"env": "prod"})).await;
    let before = read_app(&app, &id).await;
    let base = json!({"name": "valid", "providerName": "p", "description": "fine"});
    let mut cases = invalid_fields();
    cases.push((
        json!({"integrationSystemID": "not-a-uuid"}),
        "integrationSystemID",
    ));
    for (patch, field) in cases {
        let input = merged(&base, &patch);
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                &update_mutation(),
                json!({"id": id, "in": input}),
            )
            .await;
        let prefix = format!("validation error for type ApplicationUpdateInput: {field}: ");
        assert!(message.starts_with(&prefix), "{input}: {message}");
        assert_eq!(read_app(&app, &id).await, before, "after {input}");
    }
}

async fn tenants_are_separated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("owned-by-a", json!({"env": "prod"})).await;
    let before = read_app(&app, &id).await;
    let (_, b) = app.other_tenant();

    let body = app
        .gql_as(
            &b,
            "query($id: ID!) { application(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"]["application"], Value::Null, "{body}");
    let body = app
        .gql_as(&b, "{ applications { totalCount data { id } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["applications"],
        json!({"totalCount": 0, "data": []})
    );

    let attempts = [
        (
            "mutation($id: ID!) { updateApplication(id: $id, in: {name: \"stolen\", providerName: \"b\"}) { id } }",
            "updateApplication",
        ),
        (
            "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
            "unregisterApplication",
        ),
        (
            "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"env\", value: \"hacked\") { key } }",
            "setApplicationLabel",
        ),
        (
            "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"new\", value: 1) { key } }",
            "setApplicationLabel",
        ),
        (
            "mutation($id: ID!) { deleteApplicationLabel(applicationID: $id, key: \"env\") { key } }",
            "deleteApplicationLabel",
        ),
    ];
    for (mutation, name) in attempts {
        let body = app.gql_as(&b, mutation, json!({"id": id})).await;
        let message = assert_error_code(&body, "NOT_FOUND");
        assert!(message.contains("does not exist"), "{name}: {message}");
        assert_eq!(body["data"], Value::Null, "{name}: {body}");
        assert_eq!(read_app(&app, &id).await, before, "after {name}");
    }
    // B's refused label write did not even create a definition in B.
    let body = app
        .gql_as(&b, "{ labelDefinitions { key } }", json!({}))
        .await;
    assert_eq!(body["data"]["labelDefinitions"], json!([]));

    // B's own application is invisible to A.
    let body = app
        .gql_as(
            &b,
            "mutation { registerApplication(in: {name: \"owned-by-b\", providerName: \"b\"}) { id } }",
            json!({}),
        )
        .await;
    let b_id = body["data"]["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(read_app(&app, &b_id).await, Value::Null);
    let list = all_apps(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0], before);
}

async fn pagination_walks_every_application_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut registered = BTreeSet::new();
    for i in 0..10 {
        registered.insert(app.register_app(&format!("app-{i}"), json!({})).await);
    }
    let query = "query($after: PageCursor) { applications(first: 3, after: $after) { \
                 totalCount data { id } pageInfo { startCursor endCursor hasNextPage } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut sizes = Vec::new();
    loop {
        let page = app.gql(query, json!({"after": after})).await["applications"].clone();
        assert_eq!(page["totalCount"], 10, "{page}");
        let ids = page["data"].as_array().unwrap();
        sizes.push(ids.len());
        seen.extend(ids.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        if after.is_string() {
            assert_eq!(page["pageInfo"]["startCursor"], after);
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert!(sizes.len() < 10, "pagination does not end");
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), registered);

    // A page size that divides the list: the last full page says there is no next one.
    let page = app
        .gql(
            "{ applications(first: 10) { data { id } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["applications"]["data"].as_array().unwrap().len(), 10);
    assert_eq!(page["applications"]["pageInfo"]["hasNextPage"], false);
    let page = app
        .gql(
            "{ applications(first: 100) { totalCount data { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids_of(&page["applications"]), registered);

    for first in [0, 101, -1] {
        let message = app
            .gql_error(
                "INVALID_DATA",
                "query($first: Int) { applications(first: $first) { totalCount } }",
                json!({"first": first}),
            )
            .await;
        assert!(message.contains("page size"), "first {first}: {message}");
    }
    // Cursors are positions, not offsets: deleting the last item of a page does not make the
    // next page repeat or skip anything.
    let page = app.gql(query, json!({"after": null})).await["applications"].clone();
    let first_ids = ids_of(&page);
    let last = page["data"][2]["id"].as_str().unwrap().to_owned();
    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": last}),
    )
    .await;
    let mut rest = BTreeSet::new();
    let mut after = page["pageInfo"]["endCursor"].clone();
    loop {
        let page = app.gql(query, json!({"after": after})).await["applications"].clone();
        assert_eq!(page["totalCount"], 9);
        rest.extend(ids_of(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert!(rest.is_disjoint(&first_ids));
    assert_eq!(rest.len(), 7);
    registered.remove(&last);
    assert_eq!(
        first_ids.union(&rest).cloned().collect::<BTreeSet<_>>(),
        registered.iter().cloned().chain([last]).collect()
    );

    // A filtered list is paged by its own count.
    let page = app
        .gql(
            r#"{ applications(first: 2, filter: [{key: "scenarios"}]) { totalCount data { id } pageInfo { hasNextPage } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(page["applications"]["totalCount"], 9);
    assert_eq!(page["applications"]["pageInfo"]["hasNextPage"], true);

    for garbage in ["garbage!", "Zm9vYmFy", "c3gxOm5vdC1hLXV1aWQ"] {
        let message = app
            .gql_error("INVALID_DATA", 
                "query($after: PageCursor) { applications(first: 3, after: $after) { totalCount } }",
                json!({"after": garbage}),
            )
            .await;
        assert!(message.contains("cursor"), "cursor {garbage}: {message}");
    }
}

async fn label_filters_select_applications(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["AA", "BB", "CC", "New Year"]).await;
    let a1 = app
        .register_app(
            "a1",
            json!({"env": "prod", "scenarios": ["DEFAULT", "AA"], "team": {"name": "x", "size": 2}}),
        )
        .await;
    let a2 = app
        .register_app(
            "a2",
            json!({"env": "dev", "scenarios": ["BB", "New Year"], "count": 3}),
        )
        .await;
    let a3 = app
        .register_app("a3", json!({"scenarios": ["CC"], "tags": ["red", "blue"]}))
        .await;
    let a4 = app.register_app("a4", json!({})).await;
    let query = "query($filter: [LabelFilter!]) { applications(filter: $filter) { totalCount data { id } } }";
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let cases: Vec<(Value, BTreeSet<String>)> = vec![
        (json!([{"key": "env"}]), set(&[&a1, &a2])),
        (json!([{"key": "env", "query": "\"prod\""}]), set(&[&a1])),
        (json!([{"key": "env", "query": "\"staging\""}]), set(&[])),
        (json!([{"key": "count", "query": "3"}]), set(&[&a2])),
        (json!([{"key": "count", "query": "3.0"}]), set(&[&a2])),
        (json!([{"key": "count", "query": "\"3\""}]), set(&[])),
        (json!([{"key": "env", "query": "[\"prod\"]"}]), set(&[])),
        (json!([{"key": "tags", "query": "[\"blue\"]"}]), set(&[&a3])),
        (json!([{"key": "tags", "query": "\"red\""}]), set(&[&a3])),
        (
            json!([{"key": "team", "query": "{\"name\": \"x\"}"}]),
            set(&[&a1]),
        ),
        (
            json!([{"key": "team", "query": "{\"name\": \"y\"}"}]),
            set(&[]),
        ),
        (json!([{"key": "scenarios"}]), set(&[&a1, &a2, &a3, &a4])),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"AA\" || @ == \"BB\")"}]),
            set(&[&a1, &a2]),
        ),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"DEFAULT\")"}]),
            set(&[&a1, &a4]),
        ),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"CC\")"}]),
            set(&[&a3]),
        ),
        (json!([{"key": "missing"}]), set(&[])),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"New Year\")"}]),
            set(&[&a2]),
        ),
        // The key `scenarios` is matched in any case.
        (
            json!([{"key": "SCENARIOS", "query": "$[*] ? (@ == \"CC\")"}]),
            set(&[&a3]),
        ),
        // Several filters are ANDed.
        (
            json!([{"key": "env"}, {"key": "scenarios", "query": "$[*] ? (@ == \"AA\" || @ == \"BB\")"}]),
            set(&[&a1, &a2]),
        ),
        (
            json!([{"key": "env", "query": "\"dev\""}, {"key": "scenarios", "query": "$[*] ? (@ == \"AA\")"}]),
            set(&[]),
        ),
        (
            json!([{"key": "env", "query": "\"prod\""}, {"key": "scenarios", "query": "$[*] ? (@ == \"DEFAULT\")"}]),
            set(&[&a1]),
        ),
        (json!([{"key": "env"}, {"key": "count"}]), set(&[&a2])),
    ];
    for (filter, expected) in cases {
        let page = app.gql(query, json!({"filter": filter})).await["applications"].clone();
        assert_eq!(ids_of(&page), expected, "filter {filter}");
        assert_eq!(page["totalCount"], expected.len(), "filter {filter}");
    }
    for (filter, what) in [
        (
            json!([{"key": "scenarios", "query": "\"A\""}]),
            "scenarios JSON literal",
        ),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"A\" && @ == \"B\")"}]),
            "&&",
        ),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == A)"}]),
            "unquoted",
        ),
        (
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"x'y\")"}]),
            "quote",
        ),
        (json!([{"key": "env", "query": "prod"}]), "non-JSON literal"),
        (json!([{"key": ""}]), "blank key"),
    ] {
        let message = app
            .gql_error("VALIDATION_ERROR", query, json!({"filter": filter}))
            .await;
        assert!(
            message.starts_with("validation error for type LabelFilter: "),
            "{what}: {message}"
        );
    }
}

async fn malformed_or_unknown_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_app("exists", json!({})).await;
    assert_eq!(read_app(&app, "not-a-uuid").await, Value::Null);
    assert_eq!(
        read_app(&app, &uuid::Uuid::new_v4().to_string()).await,
        Value::Null
    );
    for id in ["not-a-uuid".to_owned(), uuid::Uuid::new_v4().to_string()] {
        let message = app
            .gql_error("NOT_FOUND", 
                "mutation($id: ID!) { updateApplication(id: $id, in: {name: \"x\", providerName: \"p\"}) { id } }",
                json!({"id": id}),
            )
            .await;
        assert!(message.contains("does not exist"), "{id}: {message}");
        let message = app
            .gql_error(
                "NOT_FOUND",
                "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;
        assert!(message.contains("does not exist"), "{id}: {message}");
    }
    let list = all_apps(&app).await;
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["data"][0]["name"], "exists");
}

on_both_backends!(
    register_with_all_simple_fields_and_read_back,
    register_with_only_required_fields_gets_defaults,
    update_changes_only_basic_fields,
    unregister_returns_the_app_and_removes_it,
    duplicate_names_are_refused_per_tenant,
    unknown_integration_system_is_refused,
    register_validation_errors_change_nothing,
    update_validation_errors_change_nothing,
    tenants_are_separated,
    pagination_walks_every_application_once,
    label_filters_select_applications,
    malformed_or_unknown_ids,
);
