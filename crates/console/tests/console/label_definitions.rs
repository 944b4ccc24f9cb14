//! Label definitions in the console: list, create, detail with the schema, edit (refused
//! when labels would break), delete; scopes and tenants as the Director's.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, TestServer, label_definitions, register};

async fn create_see_edit_and_delete_a_definition(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let list = browser.get("/console/label-definitions").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Create a label definition"));
    let csrf = list.csrf();

    // A key that is not a plain path segment, and a schema.
    let page = browser
        .post(
            "/console/label-definitions",
            &[
                ("csrf", &csrf),
                ("key", "team/owner"),
                ("schema", r#"{"type": "string", "maxLength": 10}"#),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    assert_eq!(location, "/console/label-definitions/team%2Fowner");
    let stored = label_definitions(&server).await;
    let schema: Value = serde_json::from_str(stored["team/owner"].as_str().unwrap()).unwrap();
    assert_eq!(schema, json!({"type": "string", "maxLength": 10}));

    let detail = browser.get(&location).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert!(detail.body.contains("team/owner"));
    assert!(
        detail.body.contains("&quot;maxLength&quot;: 10")
            || detail.body.contains("&#34;maxLength&#34;: 10"),
        "{}",
        detail.body
    );
    let list = browser.get("/console/label-definitions").await;
    assert!(
        list.linked("label-definition", "/console/label-definitions/")
            .contains(&"team%2Fowner".to_owned())
    );

    // Edit: a wider limit.
    let page = browser
        .post(
            &location,
            &[
                ("csrf", &csrf),
                ("schema", r#"{"type": "string", "maxLength": 20}"#),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let stored = label_definitions(&server).await;
    let schema: Value = serde_json::from_str(stored["team/owner"].as_str().unwrap()).unwrap();
    assert_eq!(schema["maxLength"], 20);

    // A malformed schema: the error beside the field, the text kept, nothing changed.
    let page = browser
        .post(&location, &[("csrf", &csrf), ("schema", "{not json")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"schema-error\""), "{}", page.body);
    assert!(page.body.contains("{not json</textarea>"));
    assert_eq!(label_definitions(&server).await, stored);

    // Delete: the key typed to confirm.
    let delete = format!("{location}/delete");
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_key", "team")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"delete-error\""));
    assert!(label_definitions(&server).await.get("team/owner").is_some());
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_key", "team/owner")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(label_definitions(&server).await.get("team/owner").is_none());
    assert_eq!(browser.get(&location).await.status, StatusCode::NOT_FOUND);
}

async fn a_schema_that_existing_labels_break_is_refused_beside_the_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    register(&server, "orders", json!({"size": "large"})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let before = label_definitions(&server).await;

    let page = browser
        .post(
            "/console/label-definitions/size",
            &[("csrf", &csrf), ("schema", r#"{"type": "integer"}"#)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let error = page.text_of("schema-error").unwrap();
    assert!(error.contains("not valid against new schema"), "{error}");
    assert!(
        page.body
            .contains("{&quot;type&quot;: &quot;integer&quot;}</textarea>")
            || page
                .body
                .contains("{&#34;type&#34;: &#34;integer&#34;}</textarea>"),
        "{}",
        page.body
    );
    assert_eq!(label_definitions(&server).await, before);

    // A duplicate key on creation: the error beside the creation form.
    let page = browser
        .post(
            "/console/label-definitions",
            &[("csrf", &csrf), ("key", "size"), ("schema", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"create-error\""), "{}", page.body);
    assert_eq!(page.input("key").as_deref(), Some("size"));
    assert_eq!(label_definitions(&server).await, before);
}

async fn label_definitions_follow_scopes_and_tenants(backend: Backend) {
    let server = TestServer::start(backend).await;
    register(&server, "orders", json!({"size": "large"})).await;
    let before = label_definitions(&server).await;

    // Read only: no write actions, and forged POSTs are refused.
    let mut reader =
        Browser::signed_in(&server, &[TenantId::DEFAULT], "label_definition:read").await;
    let list = reader.get("/console/label-definitions").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.linked("label-definition", "/console/label-definitions/")
            .contains(&"size".to_owned())
    );
    assert!(!list.body.contains("Create a label definition"));
    let detail = reader.get("/console/label-definitions/size").await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("Save the schema"));
    assert!(!detail.body.contains("/delete"));
    let csrf = detail.csrf();
    for (path, fields) in [
        (
            "/console/label-definitions",
            vec![("csrf", csrf.as_str()), ("key", "forged"), ("schema", "")],
        ),
        (
            "/console/label-definitions/size",
            vec![("csrf", csrf.as_str()), ("schema", r#"{"type":"string"}"#)],
        ),
        (
            "/console/label-definitions/size/delete",
            vec![("csrf", csrf.as_str()), ("confirm_key", "size")],
        ),
    ] {
        let page = reader.post(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(page.body.contains("insufficient scopes"), "{path}");
    }
    assert_eq!(label_definitions(&server).await, before);

    // Another tenant: the key is not there.
    let other = TenantId(uuid::Uuid::new_v4());
    let mut stranger = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = stranger.csrf().await;
    assert_eq!(
        stranger.get("/console/label-definitions/size").await.status,
        StatusCode::NOT_FOUND
    );
    let page = stranger
        .post(
            "/console/label-definitions/size",
            &[("csrf", &csrf), ("schema", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(
            "/console/label-definitions/size/delete",
            &[("csrf", &csrf), ("confirm_key", "size")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(label_definitions(&server).await, before);
}

on_both_backends!(
    create_see_edit_and_delete_a_definition,
    a_schema_that_existing_labels_break_is_refused_beside_the_field,
    label_definitions_follow_scopes_and_tenants,
);
