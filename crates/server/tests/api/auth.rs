//! Authentication and authorization: tokens, tenants, scopes.

use serde_json::json;
use sextant_domain::TenantId;

use crate::helpers::{ALL_SCOPES, Backend, TestApp, assert_error_code};
use crate::on_both_backends;

const LIST: &str = "{ applications { totalCount } }";

async fn missing_or_invalid_token_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.post(None, None, LIST, json!({})).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    for bad in ["garbage", "a.b.c", &format!("{}x", app.admin_token)] {
        let response = app.post(Some(bad), None, LIST, json!({})).await;
        assert_eq!(response.status(), 401, "token {bad:?}");
    }
    // A token signed by another server's key is refused.
    let other = TestApp::spawn(backend).await;
    let response = app
        .post(Some(&other.admin_token), None, LIST, json!({}))
        .await;
    assert_eq!(response.status(), 401);
}

async fn tenant_header_selects_only_allowed_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t1 = TenantId(uuid::Uuid::new_v4());
    let t2 = TenantId(uuid::Uuid::new_v4());
    let both = app.token(&[t1, t2], ALL_SCOPES);
    let register =
        "mutation { registerApplication(in: {name: \"in-t2\", providerName: \"p\"}) { id } }";
    let response = app
        .post(Some(&both), Some(&t2.to_string()), register, json!({}))
        .await;
    assert_eq!(response.status(), 200);
    // Visible in t2, not in t1 (the token's default tenant).
    let count =
        |body: serde_json::Value| body["data"]["applications"]["totalCount"].as_i64().unwrap();
    let in_t2 = app
        .post(Some(&both), Some(&t2.to_string()), LIST, json!({}))
        .await;
    assert_eq!(count(in_t2.json().await.unwrap()), 1);
    let in_t1 = app.post(Some(&both), None, LIST, json!({})).await;
    assert_eq!(count(in_t1.json().await.unwrap()), 0);
    // A tenant the token does not allow: 403, and nothing happens.
    let only_t1 = app.token(&[t1], ALL_SCOPES);
    let response = app
        .post(Some(&only_t1), Some(&t2.to_string()), register, json!({}))
        .await;
    assert_eq!(response.status(), 403);
    let response = app
        .post(Some(&only_t1), Some("not-a-uuid"), LIST, json!({}))
        .await;
    assert_eq!(response.status(), 403);
    let in_t2 = app
        .post(Some(&both), Some(&t2.to_string()), LIST, json!({}))
        .await;
    assert_eq!(count(in_t2.json().await.unwrap()), 1);
}

async fn missing_scopes_give_the_compass_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rt = app.register_runtime("rt", json!({})).await;
    let query = "query($id: ID!) { applicationsForRuntime(runtimeID: $id) { totalCount } }";
    for scopes in [&["foo", "bar"][..], &[][..]] {
        let token = app.token(&[TenantId::DEFAULT], scopes);
        let body = app.gql_as(&token, query, json!({"id": rt})).await;
        let message = assert_error_code(&body, "INSUFFICIENT_SCOPES");
        assert_eq!(
            message,
            format!(
                "insufficient scopes provided, required: [application:read], actual: [{}]",
                scopes.join(" ")
            )
        );
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INSUFFICIENT_SCOPES"
        );
    }
    // Read scope does not allow writing, and the refused write changes nothing.
    let reader = app.token(&[TenantId::DEFAULT], &["application:read"]);
    let body = app
        .gql_as(
            &reader,
            "mutation { registerApplication(in: {name: \"nope\", providerName: \"p\"}) { id } }",
            json!({}),
        )
        .await;
    assert!(
        assert_error_code(&body, "INSUFFICIENT_SCOPES")
            .starts_with("insufficient scopes provided, required: [application:write]")
    );
    let body = app.gql_as(&reader, LIST, json!({})).await;
    assert_eq!(body["data"]["applications"]["totalCount"], 0);
}

async fn forged_identity_headers_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other_tenant, _) = app.other_tenant();
    app.register_app("mine", json!({})).await;
    // Headers Compass's gateway trusted must not claim anything here.
    let response = app
        .client
        .post(format!("{}/director/graphql", app.base))
        .header("Client-Id-From-Token", "someone")
        .header("Client-Id-From-Certificate", "someone")
        .header("Client-Certificate-Hash", "abc")
        .header("Certificate-Data", "forged")
        .json(&json!({"query": LIST}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "no bearer token: no identity");
    let reader = app.token(&[other_tenant], &["application:read"]);
    let response = app
        .client
        .post(format!("{}/director/graphql", app.base))
        .bearer_auth(&reader)
        .header("Client-Id-From-Certificate", "admin")
        .header("Client-Id-From-Token", "admin")
        .header("Certificate-Data", "forged")
        .json(&json!({"query": LIST}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["applications"]["totalCount"], 0,
        "still the token's tenant"
    );
}

on_both_backends!(
    missing_or_invalid_token_is_401,
    tenant_header_selects_only_allowed_tenants,
    missing_scopes_give_the_compass_error,
    forged_identity_headers_change_nothing,
);
