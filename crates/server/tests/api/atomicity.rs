//! Every mutation runs in one transaction: when any part fails, nothing of it remains.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn failed_registration_leaves_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The application row and the first labels are written before the bad scenarios value
    // is validated; all of it must roll back.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": "half", "providerName": "p",
                          "labels": {"aaa-new-key": 1, "scenarios": ["NOT-DEFINED"]}}}),
        )
        .await;
    assert!(
        message.contains("while validating Label value for 'scenarios'"),
        "{message}"
    );
    let data = app
        .gql(
            r#"{ applications { totalCount } labelDefinition(key: "aaa-new-key") { key } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["applications"]["totalCount"], 0);
    assert!(
        data["labelDefinition"].is_null(),
        "label definition of a failed mutation: {data}"
    );
    // The name is free again.
    app.register_app("half", json!({})).await;
}

async fn failed_runtime_update_keeps_old_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .register_runtime("rt", json!({"scenarios": ["DEFAULT"], "region": "eu"}))
        .await;
    // updateRuntime deletes all labels, then re-creates the input's; the bad value fails it.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            "mutation($id: ID!, $in: RuntimeInput!) { updateRuntime(id: $id, in: $in) { id } }",
            json!({"id": id, "in": {"name": "renamed", "labels": {"scenarios": ["NOPE"]}}}),
        )
        .await;
    assert!(message.contains("scenarios"), "{message}");
    let data = app
        .gql(
            "query($id: ID!) { runtime(id: $id) { name labels } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["runtime"]["name"], "rt");
    assert_eq!(
        data["runtime"]["labels"],
        json!({"scenarios": ["DEFAULT"], "region": "eu"})
    );
}

async fn failed_schema_update_keeps_old_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("a", json!({"size": "big"})).await;
    let message = app
        .gql_error("INVALID_DATA", 
            r#"mutation { updateLabelDefinition(in: {key: "size", schema: "{\"type\": \"number\"}"}) { key } }"#,
            json!({}),
        )
        .await;
    assert!(
        message.starts_with(&format!(
            "label with key \"size\" is not valid against new schema for Application with ID \"{id}\""
        )),
        "{message}"
    );
    let data = app
        .gql(r#"{ labelDefinition(key: "size") { schema } }"#, json!({}))
        .await;
    assert!(
        data["labelDefinition"]["schema"].is_null(),
        "schema unchanged: {data}"
    );
}

on_both_backends!(
    failed_registration_leaves_nothing_behind,
    failed_runtime_update_keeps_old_labels,
    failed_schema_update_keeps_old_schema,
);
