//! Labels and label definitions: auto-created definitions, schemas, scenarios, deletion,
//! search by label, tenants.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error_code};
use crate::on_both_backends;

const SET_APP_LABEL: &str = "mutation($id: ID!, $key: String!, $value: Any!) { \
                             setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value } }";
const DELETE_APP_LABEL: &str = "mutation($id: ID!, $key: String!) { \
                                deleteApplicationLabel(applicationID: $id, key: $key) { key value } }";
const SET_RT_LABEL: &str = "mutation($id: ID!, $key: String!, $value: Any!) { \
                            setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key value } }";
const DELETE_RT_LABEL: &str = "mutation($id: ID!, $key: String!) { \
                               deleteRuntimeLabel(runtimeID: $id, key: $key) { key value } }";
const CREATE_DEF: &str =
    "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key schema } }";
const UPDATE_DEF: &str =
    "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key schema } }";
const DELETE_DEF: &str = "mutation($key: String!, $related: Boolean) { \
                          deleteLabelDefinition(key: $key, deleteRelatedLabels: $related) { key schema } }";
const GET_DEF: &str = "query($key: String!) { labelDefinition(key: $key) { key schema } }";

async fn app_labels(app: &TestApp, id: &str) -> Value {
    app.gql(
        "query($id: ID!) { application(id: $id) { labels } }",
        json!({"id": id}),
    )
    .await["application"]["labels"]
        .clone()
}

async fn runtime_labels(app: &TestApp, id: &str) -> Value {
    app.gql(
        "query($id: ID!) { runtime(id: $id) { labels } }",
        json!({"id": id}),
    )
    .await["runtime"]["labels"]
        .clone()
}

/// `labelDefinition(key)` with its schema parsed (null if there is no definition).
async fn definition(app: &TestApp, key: &str) -> Value {
    parse_schema(app.gql(GET_DEF, json!({"key": key})).await["labelDefinition"].clone())
}

async fn definitions_as(app: &TestApp, token: &str) -> BTreeSet<String> {
    let body = app
        .gql_as(token, "{ labelDefinitions { key schema } }", json!({}))
        .await;
    body["data"]["labelDefinitions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Replaces the schema string of a definition by the JSON it holds.
fn parse_schema(mut definition: Value) -> Value {
    if let Some(text) = definition.get("schema").and_then(Value::as_str) {
        definition["schema"] = serde_json::from_str(text).unwrap();
    }
    definition
}

fn scenarios_schema(values: &[&str]) -> Value {
    json!({
        "type": "array", "minItems": 1, "uniqueItems": true,
        "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9\\s]*[A-Za-z0-9])$",
                  "enum": values, "maxLength": 128}
    })
}

fn keys(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn setting_a_label_creates_its_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("labelled", json!({})).await;
    let rt = app.register_runtime("rt", json!({})).await;

    let set = app
        .gql(
            SET_APP_LABEL,
            json!({"id": id, "key": "env", "value": "prod"}),
        )
        .await;
    assert_eq!(
        set["setApplicationLabel"],
        json!({"key": "env", "value": "prod"})
    );
    assert_eq!(
        definition(&app, "env").await,
        json!({"key": "env", "schema": null})
    );

    let value = json!({"a": 1, "b": [true, null, "x"]});
    let set = app
        .gql(
            SET_RT_LABEL,
            json!({"id": rt, "key": "region", "value": value}),
        )
        .await;
    assert_eq!(
        set["setRuntimeLabel"],
        json!({"key": "region", "value": value})
    );
    assert_eq!(
        definition(&app, "region").await,
        json!({"key": "region", "schema": null})
    );

    // Any JSON value, and setting again replaces.
    for value in [
        json!(1),
        json!(2.5),
        json!(false),
        json!(["a", "b"]),
        json!("dev"),
    ] {
        app.gql(
            SET_APP_LABEL,
            json!({"id": id, "key": "env", "value": value}),
        )
        .await;
        assert_eq!(app_labels(&app, &id).await["env"], value);
    }
    assert_eq!(
        app_labels(&app, &id).await,
        json!({"env": "dev", "scenarios": ["DEFAULT"], "integration-system-id": ""})
    );
    assert_eq!(runtime_labels(&app, &rt).await, json!({"region": value}));
    // The same key on a runtime shares the definition.
    app.gql(
        SET_RT_LABEL,
        json!({"id": rt, "key": "env", "value": "prod"}),
    )
    .await;
    assert_eq!(
        definitions_as(&app, &app.admin_token).await,
        keys(&["env", "region", "scenarios", "integration-system-id"])
    );

    // `labels(key)` returns only that key.
    let data = app
        .gql(
            r#"query($id: ID!) { application(id: $id) { labels(key: "env") } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["application"]["labels"], json!({"env": "dev"}));
    let data = app
        .gql(
            r#"query($id: ID!) { runtime(id: $id) { labels(key: "region") } }"#,
            json!({"id": rt}),
        )
        .await;
    assert_eq!(data["runtime"]["labels"], json!({"region": value}));

    // Deleting returns the label; a second delete finds nothing.
    let deleted = app
        .gql(DELETE_APP_LABEL, json!({"id": id, "key": "env"}))
        .await;
    assert_eq!(
        deleted["deleteApplicationLabel"],
        json!({"key": "env", "value": "dev"})
    );
    assert!(app_labels(&app, &id).await.get("env").is_none());
    let message = app
        .gql_error(
            "NOT_FOUND",
            DELETE_APP_LABEL,
            json!({"id": id, "key": "env"}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let deleted = app
        .gql(DELETE_RT_LABEL, json!({"id": rt, "key": "region"}))
        .await;
    assert_eq!(
        deleted["deleteRuntimeLabel"],
        json!({"key": "region", "value": value})
    );
    assert_eq!(runtime_labels(&app, &rt).await, json!({"env": "prod"}));
    // The definition stays.
    assert_eq!(definition(&app, "region").await["key"], "region");
}

async fn bad_label_writes_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("target", json!({"env": "prod"})).await;
    let rt = app.register_runtime("rt", json!({"env": "prod"})).await;
    let before = app_labels(&app, &id).await;

    // A null value (refused as not an `Any!`, or by the Director).
    let refuses_null =
        |m: &str| m.contains("null") || m.contains("argument \"value\", expected type \"Any\"");
    let message = app
        .gql_err(
            SET_APP_LABEL,
            json!({"id": id, "key": "env", "value": null}),
        )
        .await;
    assert!(refuses_null(&message), "{message}");
    let message = app
        .gql_err(SET_RT_LABEL, json!({"id": rt, "key": "env", "value": null}))
        .await;
    assert!(refuses_null(&message), "{message}");
    // A blank key.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            SET_APP_LABEL,
            json!({"id": id, "key": "", "value": 1}),
        )
        .await;
    assert!(message.contains("cannot be blank"), "{message}");
    assert_eq!(app_labels(&app, &id).await, before);
    assert_eq!(runtime_labels(&app, &rt).await, json!({"env": "prod"}));

    // Objects that do not exist: no label and no definition.
    let missing = uuid::Uuid::new_v4().to_string();
    for (mutation, name) in [(SET_APP_LABEL, "application"), (SET_RT_LABEL, "runtime")] {
        for id in [missing.as_str(), "not-a-uuid"] {
            let message = app
                .gql_error(
                    "NOT_FOUND",
                    mutation,
                    json!({"id": id, "key": "ghost", "value": 1}),
                )
                .await;
            assert!(
                message.contains(name) && message.contains("does not exist"),
                "{message}"
            );
        }
    }
    for (mutation, name) in [
        (DELETE_APP_LABEL, "application"),
        (DELETE_RT_LABEL, "runtime"),
    ] {
        let message = app
            .gql_error("NOT_FOUND", mutation, json!({"id": missing, "key": "env"}))
            .await;
        assert!(
            message.contains(name) && message.contains("does not exist"),
            "{message}"
        );
    }
    assert_eq!(definition(&app, "ghost").await, Value::Null);
}

async fn schema_violations_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let schema = json!({"type": "integer", "minimum": 1});
    let created = app
        .gql(
            CREATE_DEF,
            json!({"in": {"key": "size", "schema": schema.to_string()}}),
        )
        .await;
    assert_eq!(
        parse_schema(created["createLabelDefinition"].clone()),
        json!({"key": "size", "schema": schema})
    );
    assert_eq!(
        definition(&app, "size").await,
        json!({"key": "size", "schema": schema})
    );

    let id = app.register_app("sized", json!({"size": 2})).await;
    let rt = app.register_runtime("rt", json!({"size": 5})).await;
    for bad in [json!("big"), json!(0), json!(1.5), json!([1])] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                SET_APP_LABEL,
                json!({"id": id, "key": "size", "value": bad}),
            )
            .await;
        assert!(
            message.contains("while validating Label value for 'size'"),
            "{bad}: {message}"
        );
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                SET_RT_LABEL,
                json!({"id": rt, "key": "size", "value": bad}),
            )
            .await;
        assert!(
            message.contains("while validating Label value for 'size'"),
            "{bad}: {message}"
        );
    }
    assert_eq!(app_labels(&app, &id).await["size"], 2);
    assert_eq!(runtime_labels(&app, &rt).await, json!({"size": 5}));
    let set = app
        .gql(SET_APP_LABEL, json!({"id": id, "key": "size", "value": 7}))
        .await;
    assert_eq!(
        set["setApplicationLabel"],
        json!({"key": "size", "value": 7})
    );

    // Labels given at registration are checked too, and a refusal registers nothing.
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation { registerApplication(in: {name: \"bad\", providerName: \"p\", labels: {size: 0}}) { id } }",
            json!({}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'size'"),
        "{message}"
    );
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            "mutation { registerRuntime(in: {name: \"bad\", labels: {size: \"x\"}}) { id } }",
            json!({}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'size'"),
        "{message}"
    );
    let data = app
        .gql(
            "{ applications { totalCount } runtimes { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["applications"]["totalCount"], 1);
    assert_eq!(data["runtimes"]["totalCount"], 1);

    // An update of a runtime (which replaces its labels) with a bad label changes nothing.
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation($id: ID!) { updateRuntime(id: $id, in: {name: \"renamed\", labels: {other: 1, size: -1}}) { id } }",
            json!({"id": rt}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'size'"),
        "{message}"
    );
    let data = app
        .gql(
            "query($id: ID!) { runtime(id: $id) { name labels } }",
            json!({"id": rt}),
        )
        .await;
    assert_eq!(
        data["runtime"],
        json!({"name": "rt", "labels": {"size": 5}})
    );
}

async fn updating_a_definition_checks_existing_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("holder", json!({"env": "prod"})).await;
    let rt = app.register_runtime("rt", json!({"zone": "eu-1"})).await;

    let message = app
        .gql_error(
            "INVALID_DATA",
            UPDATE_DEF,
            json!({"in": {"key": "env", "schema": r#"{"type": "integer"}"#}}),
        )
        .await;
    let prefix = format!(
        "label with key \"env\" is not valid against new schema for Application with ID \"{id}\": "
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(
        definition(&app, "env").await,
        json!({"key": "env", "schema": null})
    );

    let message = app
        .gql_error(
            "INVALID_DATA",
            UPDATE_DEF,
            json!({"in": {"key": "zone", "schema": r#"{"type": "string", "pattern": "^us-"}"#}}),
        )
        .await;
    let prefix = format!(
        "label with key \"zone\" is not valid against new schema for Runtime with ID \"{rt}\": "
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(
        definition(&app, "zone").await,
        json!({"key": "zone", "schema": null})
    );

    // A compatible schema is accepted and then enforced.
    let schema = json!({"type": "string", "enum": ["prod", "dev"]});
    let updated = app
        .gql(
            UPDATE_DEF,
            json!({"in": {"key": "env", "schema": schema.to_string()}}),
        )
        .await;
    assert_eq!(
        parse_schema(updated["updateLabelDefinition"].clone()),
        json!({"key": "env", "schema": schema})
    );
    assert_eq!(
        definition(&app, "env").await,
        json!({"key": "env", "schema": schema})
    );
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            SET_APP_LABEL,
            json!({"id": id, "key": "env", "value": "staging"}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'env'"),
        "{message}"
    );
    // Removing the schema again allows anything.
    let updated = app.gql(UPDATE_DEF, json!({"in": {"key": "env"}})).await;
    assert_eq!(
        updated["updateLabelDefinition"],
        json!({"key": "env", "schema": null})
    );
    app.gql(
        SET_APP_LABEL,
        json!({"id": id, "key": "env", "value": "staging"}),
    )
    .await;

    // A definition that does not exist cannot be updated.
    let message = app
        .gql_error(
            "NOT_FOUND",
            UPDATE_DEF,
            json!({"in": {"key": "nope", "schema": "{}"}}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(definition(&app, "nope").await, Value::Null);
}

async fn deleting_a_definition_in_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("holder", json!({"owner": "alice"})).await;
    let rt = app
        .register_runtime("rt", json!({"owner": "bob", "other": 1}))
        .await;
    let message = app
        .gql_error(
            "IN_USE",
            DELETE_DEF,
            json!({"key": "owner", "related": false}),
        )
        .await;
    assert_eq!(
        message,
        "could not delete label definition, it is already used by at least one label"
    );
    let message = app
        .gql_error("IN_USE", DELETE_DEF, json!({"key": "owner"}))
        .await;
    assert_eq!(
        message,
        "could not delete label definition, it is already used by at least one label"
    );
    assert_eq!(definition(&app, "owner").await["key"], "owner");
    assert_eq!(app_labels(&app, &id).await["owner"], "alice");
    assert_eq!(runtime_labels(&app, &rt).await["owner"], "bob");

    let deleted = app
        .gql(DELETE_DEF, json!({"key": "owner", "related": true}))
        .await;
    assert_eq!(
        deleted["deleteLabelDefinition"],
        json!({"key": "owner", "schema": null})
    );
    assert_eq!(definition(&app, "owner").await, Value::Null);
    assert!(app_labels(&app, &id).await.get("owner").is_none());
    assert_eq!(runtime_labels(&app, &rt).await, json!({"other": 1}));
    let data = app
        .gql(r#"{ applications(filter: [{key: "owner"}]) { totalCount } runtimes(filter: [{key: "owner"}]) { totalCount } }"#, json!({}))
        .await;
    assert_eq!(data["applications"]["totalCount"], 0);
    assert_eq!(data["runtimes"]["totalCount"], 0);

    // An unused definition goes without the flag; a missing one is an error.
    app.gql(
        CREATE_DEF,
        json!({"in": {"key": "unused", "schema": r#"{"type": "string"}"#}}),
    )
    .await;
    let deleted = app.gql(DELETE_DEF, json!({"key": "unused"})).await;
    assert_eq!(deleted["deleteLabelDefinition"]["key"], "unused");
    assert_eq!(definition(&app, "unused").await, Value::Null);
    let message = app
        .gql_error("NOT_FOUND", DELETE_DEF, json!({"key": "unused"}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
}

async fn scenarios_definition_and_label_are_protected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(definition(&app, "scenarios").await, Value::Null);
    let id = app.register_app("first", json!({})).await;
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["DEFAULT"]));
    assert_eq!(
        definition(&app, "scenarios").await,
        json!({"key": "scenarios", "schema": scenarios_schema(&["DEFAULT"])})
    );

    for related in [false, true] {
        let message = app
            .gql_error(
                "INVALID_DATA",
                DELETE_DEF,
                json!({"key": "scenarios", "related": related}),
            )
            .await;
        assert!(message.contains("can not be deleted"), "{message}");
    }
    assert_eq!(definition(&app, "scenarios").await["key"], "scenarios");

    let message = app
        .gql_error(
            "INVALID_DATA",
            DELETE_APP_LABEL,
            json!({"id": id, "key": "scenarios"}),
        )
        .await;
    assert_eq!(
        message,
        "scenarios label can not be deleted from application"
    );
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["DEFAULT"]));

    // The scenarios definition cannot be created twice nor be without a schema.
    let message = app
        .gql_error("NOT_UNIQUE", 
            CREATE_DEF,
            json!({"in": {"key": "scenarios", "schema": scenarios_schema(&["DEFAULT", "XX"]).to_string()}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    let message = app
        .gql_error(
            "INVALID_DATA",
            UPDATE_DEF,
            json!({"in": {"key": "scenarios"}}),
        )
        .await;
    assert!(message.contains("requires a schema"), "{message}");
    assert_eq!(
        definition(&app, "scenarios").await["schema"],
        scenarios_schema(&["DEFAULT"])
    );
}

async fn runtime_scenarios_label_can_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rt = app
        .register_runtime("rt", json!({"scenarios": ["DEFAULT"], "env": "prod"}))
        .await;
    let deleted = app
        .gql(DELETE_RT_LABEL, json!({"id": rt, "key": "scenarios"}))
        .await;
    assert_eq!(
        deleted["deleteRuntimeLabel"],
        json!({"key": "scenarios", "value": ["DEFAULT"]})
    );
    assert_eq!(runtime_labels(&app, &rt).await, json!({"env": "prod"}));
}

async fn scenarios_can_be_extended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("app", json!({})).await;
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            SET_APP_LABEL,
            json!({"id": id, "key": "scenarios", "value": ["ADDITIONAL"]}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'scenarios'"),
        "{message}"
    );

    app.define_scenarios(&["ADDITIONAL", "Christmas", "New Year"])
        .await;
    assert_eq!(
        definition(&app, "scenarios").await["schema"],
        scenarios_schema(&["DEFAULT", "ADDITIONAL", "Christmas", "New Year"])
    );
    let set = app
        .gql(
            SET_APP_LABEL,
            json!({"id": id, "key": "scenarios", "value": ["DEFAULT", "ADDITIONAL"]}),
        )
        .await;
    assert_eq!(
        set["setApplicationLabel"],
        json!({"key": "scenarios", "value": ["DEFAULT", "ADDITIONAL"]})
    );
    assert_eq!(
        app_labels(&app, &id).await["scenarios"],
        json!(["DEFAULT", "ADDITIONAL"])
    );
    let other = app
        .register_app("other", json!({"scenarios": ["Christmas", "New Year"]}))
        .await;
    assert_eq!(
        app_labels(&app, &other).await["scenarios"],
        json!(["Christmas", "New Year"])
    );

    // A scenarios schema without DEFAULT is refused, as is any other shape.
    let before = definition(&app, "scenarios").await;
    for bad in [
        scenarios_schema(&["ADDITIONAL", "Christmas", "New Year"]),
        json!({"type": "array"}),
        json!({"type": "string"}),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                UPDATE_DEF,
                json!({"in": {"key": "scenarios", "schema": bad.to_string()}}),
            )
            .await;
        assert!(
            message.starts_with("validation error for type LabelDefinitionInput: schema: "),
            "{bad}: {message}"
        );
    }
    assert_eq!(definition(&app, "scenarios").await, before);

    // Dropping a scenario that is in use is refused.
    let message = app
        .gql_error("INVALID_DATA", 
            UPDATE_DEF,
            json!({"in": {"key": "scenarios", "schema": scenarios_schema(&["DEFAULT", "Christmas", "New Year"]).to_string()}}),
        )
        .await;
    let prefix = format!(
        "label with key \"scenarios\" is not valid against new schema for Application with ID \"{id}\": "
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(definition(&app, "scenarios").await, before);
}

async fn invalid_scenarios_values_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["Christmas", "New Year"]).await;
    let id = app
        .register_app("app", json!({"scenarios": ["Christmas"]}))
        .await;
    let rt = app
        .register_runtime("rt", json!({"scenarios": ["Christmas"]}))
        .await;
    for bad in [
        json!([""]),
        json!(["UNKNOWN"]),
        json!([]),
        json!("DEFAULT"),
        json!(["DEFAULT", "DEFAULT"]),
        json!([1]),
        json!({"DEFAULT": true}),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                SET_APP_LABEL,
                json!({"id": id, "key": "scenarios", "value": bad}),
            )
            .await;
        assert!(
            message.contains("while validating Label value for 'scenarios'"),
            "{bad}: {message}"
        );
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                SET_RT_LABEL,
                json!({"id": rt, "key": "scenarios", "value": bad}),
            )
            .await;
        assert!(
            message.contains("while validating Label value for 'scenarios'"),
            "{bad}: {message}"
        );
        let message = app
            .gql_error("VALIDATION_ERROR", 
                "mutation($labels: Labels) { registerApplication(in: {name: \"refused\", providerName: \"p\", labels: $labels}) { id } }",
                json!({"labels": {"scenarios": bad}}),
            )
            .await;
        assert!(
            message.contains("while validating Label value for 'scenarios'"),
            "{bad}: {message}"
        );
    }
    assert_eq!(
        app_labels(&app, &id).await["scenarios"],
        json!(["Christmas"])
    );
    assert_eq!(
        runtime_labels(&app, &rt).await,
        json!({"scenarios": ["Christmas"]})
    );
    let data = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(data["applications"]["totalCount"], 1);
}

async fn label_definitions_list_get_and_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app
        .gql("{ labelDefinitions { key schema } }", json!({}))
        .await;
    assert_eq!(data["labelDefinitions"], json!([]));
    assert_eq!(definition(&app, "anything").await, Value::Null);

    let schema =
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
    app.gql(
        CREATE_DEF,
        json!({"in": {"key": "with-schema", "schema": schema.to_string()}}),
    )
    .await;
    let created = app.gql(CREATE_DEF, json!({"in": {"key": "without"}})).await;
    assert_eq!(
        created["createLabelDefinition"],
        json!({"key": "without", "schema": null})
    );
    let data = app
        .gql("{ labelDefinitions { key schema } }", json!({}))
        .await;
    let mut listed: Vec<Value> = data["labelDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(parse_schema)
        .collect();
    listed.sort_by_key(|d| d["key"].as_str().unwrap().to_owned());
    assert_eq!(
        listed,
        vec![
            json!({"key": "with-schema", "schema": schema}),
            json!({"key": "without", "schema": null}),
        ]
    );
    assert_eq!(
        definition(&app, "with-schema").await,
        json!({"key": "with-schema", "schema": schema})
    );

    // Duplicates are refused and change nothing.
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            CREATE_DEF,
            json!({"in": {"key": "with-schema", "schema": "{}"}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(definition(&app, "with-schema").await["schema"], schema);

    // Invalid input is a validation error of LabelDefinitionInput.
    for (input, field) in [
        (json!({"key": "bad", "schema": "{not json"}), "schema"),
        (json!({"key": "bad", "schema": r#"{"type": 12}"#}), "schema"),
        (
            json!({"key": "bad", "schema": r#"{"type": "no-such-type"}"#}),
            "schema",
        ),
        (json!({"key": "", "schema": "{}"}), "key"),
        (json!({"key": "k".repeat(257)}), "key"),
    ] {
        let prefix = format!("validation error for type LabelDefinitionInput: {field}: ");
        let message = app
            .gql_error("VALIDATION_ERROR", CREATE_DEF, json!({"in": input}))
            .await;
        assert!(message.starts_with(&prefix), "create {input}: {message}");
        if field == "schema" {
            let message = app
                .gql_error(
                    "VALIDATION_ERROR",
                    UPDATE_DEF,
                    json!({"in": {"key": "without", "schema": input["schema"]}}),
                )
                .await;
            assert!(message.starts_with(&prefix), "update {input}: {message}");
        }
    }
    assert_eq!(
        definition(&app, "without").await,
        json!({"key": "without", "schema": null})
    );
    assert_eq!(
        definitions_as(&app, &app.admin_token).await,
        keys(&["with-schema", "without"])
    );

    // Registering an application adds the definitions of the labels it gets.
    app.register_app("app", json!({"custom": 1})).await;
    assert_eq!(
        definitions_as(&app, &app.admin_token).await,
        keys(&[
            "with-schema",
            "without",
            "scenarios",
            "integration-system-id",
            "custom"
        ])
    );
}

async fn label_definitions_are_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.gql(
        CREATE_DEF,
        json!({"in": {"key": "env", "schema": r#"{"type": "integer"}"#}}),
    )
    .await;
    let (_, b) = app.other_tenant();
    let body = app.gql_as(&b, GET_DEF, json!({"key": "env"})).await;
    assert_eq!(body["data"]["labelDefinition"], Value::Null, "{body}");
    assert_eq!(definitions_as(&app, &b).await, keys(&[]));

    // B defines the same key differently and uses it; A's definition is untouched.
    let body = app
        .gql_as(
            &b,
            CREATE_DEF,
            json!({"in": {"key": "env", "schema": r#"{"type": "string"}"#}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql_as(
            &b,
            "mutation { registerApplication(in: {name: \"b-app\", providerName: \"p\", labels: {env: \"prod\"}}) { id } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        definition(&app, "env").await,
        json!({"key": "env", "schema": {"type": "integer"}})
    );
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation { registerApplication(in: {name: \"a-app\", providerName: \"p\", labels: {env: \"prod\"}}) { id } }",
            json!({}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'env'"),
        "{message}"
    );

    // A uses its definition; B's schema changes and deletions only look at B's labels.
    let a_app = app.register_app("a-app", json!({"env": 5})).await;
    let a_rt = app.register_runtime("a-rt", json!({"env": 6})).await;
    let body = app
        .gql_as(
            &b,
            UPDATE_DEF,
            json!({"in": {"key": "env", "schema": r#"{"type": "string", "minLength": 2}"#}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql_as(&b, DELETE_DEF, json!({"key": "env", "related": true}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(definition(&app, "env").await["key"], "env");
    assert_eq!(app_labels(&app, &a_app).await["env"], 5);
    assert_eq!(runtime_labels(&app, &a_rt).await, json!({"env": 6}));
    // And A's "in use" check does not see B's labels.
    let body = app
        .gql_as(
            &b,
            "mutation { registerRuntime(in: {name: \"b-rt\", labels: {shared: 1}}) { id } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    app.gql(CREATE_DEF, json!({"in": {"key": "shared"}})).await;
    app.gql(DELETE_DEF, json!({"key": "shared"})).await;
    let body = app.gql_as(&b, GET_DEF, json!({"key": "shared"})).await;
    assert_eq!(body["data"]["labelDefinition"]["key"], "shared", "{body}");
    // A's definition cannot be deleted or updated through B.
    let body = app.gql_as(&b, DELETE_DEF, json!({"key": "env"})).await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let body = app
        .gql_as(
            &b,
            UPDATE_DEF,
            json!({"in": {"key": "env", "schema": "{}"}}),
        )
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    assert_eq!(
        definition(&app, "env").await,
        json!({"key": "env", "schema": {"type": "integer"}})
    );
}

async fn search_by_label_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a1 = app.register_app("a1", json!({"foo": "x"})).await;
    let a2 = app.register_app("a2", json!({"foo": "y"})).await;
    app.register_app("a3", json!({"bar": "x"})).await;
    let r1 = app.register_runtime("r1", json!({"foo": 1})).await;
    let r2 = app.register_runtime("r2", json!({})).await;
    let query = r#"{ applications(filter: [{key: "foo"}]) { totalCount }
                     runtimes(filter: [{key: "foo"}]) { totalCount } }"#;
    let data = app.gql(query, json!({})).await;
    assert_eq!(data["applications"]["totalCount"], 2);
    assert_eq!(data["runtimes"]["totalCount"], 1);

    app.gql(DELETE_APP_LABEL, json!({"id": a2, "key": "foo"}))
        .await;
    app.gql(SET_RT_LABEL, json!({"id": r2, "key": "foo", "value": 2}))
        .await;
    let data = app.gql(query, json!({})).await;
    assert_eq!(data["applications"]["totalCount"], 1);
    assert_eq!(data["runtimes"]["totalCount"], 2);
    let data = app
        .gql(r#"{ applications(filter: [{key: "foo"}]) { data { id } } runtimes(filter: [{key: "foo", query: "1"}]) { data { id } } }"#, json!({}))
        .await;
    assert_eq!(data["applications"]["data"], json!([{"id": a1}]));
    assert_eq!(data["runtimes"]["data"], json!([{"id": r1}]));
}

const SCENARIO_COUNTS: &str = "{ scenarioCounts { scenario applications runtimes } }";

async fn scenario_counts_count_members_in_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["DEFAULT", "billing", "unused"])
        .await;
    for i in 0..3 {
        app.register_app(&format!("billing-{i}"), json!({"scenarios": ["billing"]}))
            .await;
    }
    app.register_app("both", json!({"scenarios": ["DEFAULT", "billing"]}))
        .await;
    app.register_app("plain", json!({})).await;
    app.register_runtime("edge", json!({"scenarios": ["billing"]}))
        .await;
    app.register_runtime("bare", json!({})).await;

    let before = app.statements();
    let counts = app.gql(SCENARIO_COUNTS, json!({})).await;
    let small = app.statements() - before;
    assert_eq!(
        counts["scenarioCounts"],
        json!([
            {"scenario": "DEFAULT", "applications": 2, "runtimes": 0},
            {"scenario": "billing", "applications": 4, "runtimes": 1},
        ])
    );

    // Many more objects and scenarios: the same statements.
    let many: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    let mut all: Vec<&str> = vec!["DEFAULT", "billing"];
    all.extend(many.iter().map(String::as_str));
    app.define_scenarios(&all).await;
    for (i, scenario) in many.iter().enumerate() {
        app.register_app(
            &format!("many-{i}"),
            json!({"scenarios": [scenario, "billing"]}),
        )
        .await;
        app.register_runtime(&format!("rt-{i}"), json!({"scenarios": [scenario]}))
            .await;
    }
    let before = app.statements();
    let counts = app.gql(SCENARIO_COUNTS, json!({})).await;
    assert_eq!(app.statements() - before, small);
    let counts = counts["scenarioCounts"].as_array().unwrap();
    assert_eq!(counts.len(), 22);
    let billing = counts.iter().find(|c| c["scenario"] == "billing").unwrap();
    assert_eq!(billing["applications"], 24);
    let s7 = counts.iter().find(|c| c["scenario"] == "s7").unwrap();
    assert_eq!(
        s7,
        &json!({"scenario": "s7", "applications": 1, "runtimes": 1})
    );

    // A count the caller may not read is null; neither readable is refused.
    let apps_only = app.token(&[sextant_domain::TenantId::DEFAULT], &["application:read"]);
    let body = app.gql_as(&apps_only, SCENARIO_COUNTS, json!({})).await;
    let billing = body["data"]["scenarioCounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == "billing")
        .unwrap()
        .clone();
    assert_eq!(
        billing,
        json!({"scenario": "billing", "applications": 24, "runtimes": null})
    );
    let neither = app.token(
        &[sextant_domain::TenantId::DEFAULT],
        &["label_definition:read"],
    );
    app.gql_error_as("INSUFFICIENT_SCOPES", &neither, SCENARIO_COUNTS, json!({}))
        .await;

    // Another tenant counts its own objects only.
    let (_, other) = app.other_tenant();
    let body = app.gql_as(&other, SCENARIO_COUNTS, json!({})).await;
    assert_eq!(body["data"]["scenarioCounts"], json!([]));
}

const ADD_APP_SCENARIO: &str = "mutation($id: ID!, $s: String!) { \
                                addApplicationScenario(applicationID: $id, scenario: $s) { key value } }";
const REMOVE_APP_SCENARIO: &str = "mutation($id: ID!, $s: String!) { \
                                   removeApplicationScenario(applicationID: $id, scenario: $s) { key value } }";
const ADD_RT_SCENARIO: &str = "mutation($id: ID!, $s: String!) { \
                               addRuntimeScenario(runtimeID: $id, scenario: $s) { key value } }";
const REMOVE_RT_SCENARIO: &str = "mutation($id: ID!, $s: String!) { \
                                  removeRuntimeScenario(runtimeID: $id, scenario: $s) { key value } }";

async fn scenarios_are_added_and_removed_one_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["DEFAULT", "billing", "shipping"])
        .await;
    let id = app.register_app("shop", json!({})).await;
    let rt = app.register_runtime("edge", json!({"env": "prod"})).await;

    // Added last, in the label's order; adding again changes nothing.
    let added = app
        .gql(ADD_APP_SCENARIO, json!({"id": id, "s": "billing"}))
        .await;
    assert_eq!(
        added["addApplicationScenario"],
        json!({"key": "scenarios", "value": ["DEFAULT", "billing"]})
    );
    let again = app
        .gql(ADD_APP_SCENARIO, json!({"id": id, "s": "billing"}))
        .await;
    assert_eq!(
        again["addApplicationScenario"],
        added["addApplicationScenario"]
    );
    let removed = app
        .gql(REMOVE_APP_SCENARIO, json!({"id": id, "s": "DEFAULT"}))
        .await;
    assert_eq!(
        removed["removeApplicationScenario"]["value"],
        json!(["billing"])
    );
    // Removing what is not there changes nothing.
    let absent = app
        .gql(REMOVE_APP_SCENARIO, json!({"id": id, "s": "shipping"}))
        .await;
    assert_eq!(
        absent["removeApplicationScenario"]["value"],
        json!(["billing"])
    );
    // An application keeps its last scenario.
    let message = app
        .gql_error(
            "INVALID_DATA",
            REMOVE_APP_SCENARIO,
            json!({"id": id, "s": "billing"}),
        )
        .await;
    assert!(message.contains("last"), "{message}");
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["billing"]));
    // A scenario the definition does not allow is refused, and nothing changes.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            ADD_APP_SCENARIO,
            json!({"id": id, "s": "unknown"}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'scenarios'"),
        "{message}"
    );
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["billing"]));

    // A runtime without the label gets it; its last scenario takes the label with it.
    let added = app
        .gql(ADD_RT_SCENARIO, json!({"id": rt, "s": "shipping"}))
        .await;
    assert_eq!(added["addRuntimeScenario"]["value"], json!(["shipping"]));
    let removed = app
        .gql(REMOVE_RT_SCENARIO, json!({"id": rt, "s": "shipping"}))
        .await;
    assert_eq!(
        removed["removeRuntimeScenario"],
        json!({"key": "scenarios", "value": []})
    );
    assert_eq!(runtime_labels(&app, &rt).await, json!({"env": "prod"}));

    // Objects of no tenant, or of another, are not found.
    let missing = uuid::Uuid::new_v4().to_string();
    for (mutation, object) in [(ADD_APP_SCENARIO, &missing), (ADD_RT_SCENARIO, &missing)] {
        app.gql_error("NOT_FOUND", mutation, json!({"id": object, "s": "billing"}))
            .await;
    }
    let (_, other) = app.other_tenant();
    for (mutation, object) in [(ADD_APP_SCENARIO, &id), (REMOVE_RT_SCENARIO, &rt)] {
        let body = app
            .gql_as(&other, mutation, json!({"id": object, "s": "billing"}))
            .await;
        assert_error_code(&body, "NOT_FOUND");
    }
    // Only users change scenarios: not the application itself.
    let token = crate::compat::client_token(&app, "Application", &id).await;
    let body = app
        .gql_as(&token, ADD_APP_SCENARIO, json!({"id": id, "s": "shipping"}))
        .await;
    assert_error_code(&body, "FORBIDDEN");
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["billing"]));
}

/// Runs each mutation with each scenario for its object, all at once; every one succeeds.
async fn race(app: &std::sync::Arc<TestApp>, names: &[String], mutations: [(&str, &String); 2]) {
    let mut racing = tokio::task::JoinSet::new();
    for name in names {
        for (mutation, object) in mutations {
            let app = app.clone();
            let (mutation, variables) = (mutation.to_owned(), json!({"id": object, "s": name}));
            racing.spawn(async move { app.gql(&mutation, variables).await });
        }
    }
    while let Some(done) = racing.join_next().await {
        done.unwrap();
    }
}

/// Many users adding different scenarios to one object at once: every one lands (each
/// mutation reads and writes the label holding the object's row).
async fn concurrent_scenario_changes_all_land(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let names: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    let mut all: Vec<&str> = vec!["DEFAULT"];
    all.extend(names.iter().map(String::as_str));
    app.define_scenarios(&all).await;
    let id = app.register_app("busy", json!({})).await;
    let rt = app.register_runtime("busy", json!({})).await;
    race(
        &app,
        &names,
        [(ADD_APP_SCENARIO, &id), (ADD_RT_SCENARIO, &rt)],
    )
    .await;
    let wanted: BTreeSet<String> = names.iter().cloned().collect();
    let of = |labels: Value| -> BTreeSet<String> {
        labels["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let mut with_default = wanted.clone();
    with_default.insert("DEFAULT".to_owned());
    assert_eq!(of(app_labels(&app, &id).await), with_default);
    assert_eq!(of(runtime_labels(&app, &rt).await), wanted);

    race(
        &app,
        &names,
        [(REMOVE_APP_SCENARIO, &id), (REMOVE_RT_SCENARIO, &rt)],
    )
    .await;
    assert_eq!(app_labels(&app, &id).await["scenarios"], json!(["DEFAULT"]));
    assert!(runtime_labels(&app, &rt).await.get("scenarios").is_none());
}

on_both_backends!(
    scenarios_are_added_and_removed_one_at_a_time,
    concurrent_scenario_changes_all_land,
    scenario_counts_count_members_in_constant_statements,
    setting_a_label_creates_its_definition,
    bad_label_writes_are_refused,
    schema_violations_are_refused,
    updating_a_definition_checks_existing_labels,
    deleting_a_definition_in_use,
    scenarios_definition_and_label_are_protected,
    runtime_scenarios_label_can_be_deleted,
    scenarios_can_be_extended,
    invalid_scenarios_values_are_refused,
    label_definitions_list_get_and_validation,
    label_definitions_are_per_tenant,
    search_by_label_key,
);
