//! One-time tokens from the Director (`requestOneTimeTokenFor*`): the answer's shape, one
//! system auth per request, storage as a hash with kind, client, tenant and expiry, and
//! removal with their system auth. (Redeeming them is the Connector's.)

use base64::Engine;
use serde_json::{Value, json};
use sextant_domain::{OneTimeTokenKind, TenantId};

use crate::helpers::{Backend, TestApp, assert_error_code};

async fn request(app: &TestApp, kind: &str, id: &str) -> Value {
    let data = app
        .gql(
            &format!(
                "mutation($id: ID!) {{ t: requestOneTimeTokenFor{kind}(id: $id) {{ token connectorURL raw rawEncoded }} }}"
            ),
            json!({"id": id}),
        )
        .await;
    data["t"].clone()
}

/// Redeems a token directly in the server's store (as the Connector will).
async fn redeem(app: &TestApp, token: &str) -> Option<sextant_domain::OneTimeToken> {
    let store = &app.server().store;
    let mut tx = store.write().await.unwrap();
    let redeemed = tx
        .redeem_one_time_token(
            &sextant_auth::secret_hash(token),
            &[
                OneTimeTokenKind::Application,
                OneTimeTokenKind::Runtime,
                OneTimeTokenKind::Csr,
            ],
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    redeemed
}

async fn tokens_have_compass_shape_and_are_stored_as_hashes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let runtime_id = app.register_runtime("rt", json!({})).await;

    for (kind, id, owner_kind, minutes) in [
        ("Application", &app_id, OneTimeTokenKind::Application, 5),
        ("Runtime", &runtime_id, OneTimeTokenKind::Runtime, 60),
    ] {
        let answer = request(&app, kind, id).await;
        let token = answer["token"].as_str().unwrap();
        assert!(token.len() >= 43, "at least 256 bits: {token}");
        let connector = format!("{}/connector/graphql", app.base);
        assert_eq!(answer["connectorURL"], json!(connector));
        let raw: Value = serde_json::from_str(answer["raw"].as_str().unwrap()).unwrap();
        assert_eq!(raw, json!({"token": token, "connectorURL": connector}));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(answer["rawEncoded"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, answer["raw"].as_str().unwrap().as_bytes());

        let stored = redeem(&app, token).await.expect("stored under its hash");
        assert_eq!(stored.kind, owner_kind);
        assert_eq!(stored.tenant, TenantId::DEFAULT);
        assert_eq!(
            (stored.expires_at - stored.created_at).whole_minutes(),
            minutes,
            "{kind}"
        );
        assert!(redeem(&app, token).await.is_none(), "once only");
    }

    // Three requests, three system auths (Compass's token_api_test), without credentials to
    // show; the client id of a token is one of them.
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(
            request(&app, "Application", &app_id).await["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let data = app
        .gql(
            "query($a: ID!) { application(id: $a) { auths { id auth { credential { __typename } } } } }",
            json!({"a": app_id}),
        )
        .await;
    let auths = data["application"]["auths"].as_array().unwrap();
    assert_eq!(auths.len(), 4, "one per token request: {data}");
    assert!(auths.iter().all(|a| a["auth"].is_null()));
    let stored = redeem(&app, &tokens[0]).await.unwrap();
    assert!(
        auths
            .iter()
            .any(|a| a["id"] == json!(stored.client_id.to_string()))
    );
}

async fn deleting_the_system_auth_removes_its_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let token = request(&app, "Application", &app_id).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = app
        .gql(
            "query($a: ID!) { application(id: $a) { auths { id } } }",
            json!({"a": app_id}),
        )
        .await;
    let auth_id = data["application"]["auths"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
        json!({"id": auth_id}),
    )
    .await;
    assert!(redeem(&app, &token).await.is_none());

    // And unregistering the runtime takes its tokens.
    let runtime_id = app.register_runtime("rt", json!({})).await;
    let token = request(&app, "Runtime", &runtime_id).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": runtime_id}),
    )
    .await;
    assert!(redeem(&app, &token).await.is_none());
}

async fn tokens_only_for_existing_objects_in_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let runtime_id = app.register_runtime("rt", json!({})).await;
    let missing = uuid::Uuid::new_v4().to_string();
    for kind in ["Application", "Runtime"] {
        let err = app
            .gql_error(
                "NOT_FOUND",
                &format!(
                    "mutation($id: ID!) {{ requestOneTimeTokenFor{kind}(id: $id) {{ token }} }}"
                ),
                json!({"id": missing}),
            )
            .await;
        assert!(err.contains("does not exist"), "{kind}: {err}");
    }
    // Another tenant's objects are missing there.
    let (_, other) = app.other_tenant();
    for (kind, id) in [("Application", &app_id), ("Runtime", &runtime_id)] {
        let body = app
            .gql_as(
                &other,
                &format!(
                    "mutation($id: ID!) {{ requestOneTimeTokenFor{kind}(id: $id) {{ token }} }}"
                ),
                json!({"id": id}),
            )
            .await;
        assert!(
            assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
            "{kind}: {body}"
        );
    }
    // Scopes as in Compass.
    let reader = app.token(&[TenantId::DEFAULT], &["application:write"]);
    let body = app
        .gql_as(
            &reader,
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime_id}),
        )
        .await;
    assert!(
        assert_error_code(&body, "INSUFFICIENT_SCOPES").contains("insufficient scopes"),
        "{body}"
    );
    // Nothing was created by the refused requests.
    let data = app
        .gql(
            "query($a: ID!, $r: ID!) { application(id: $a) { auths { id } } runtime(id: $r) { auths { id } } }",
            json!({"a": app_id, "r": runtime_id}),
        )
        .await;
    assert_eq!(data["application"]["auths"], json!([]));
    assert_eq!(data["runtime"]["auths"], json!([]));
}

crate::on_both_backends!(
    tokens_have_compass_shape_and_are_stored_as_hashes,
    deleting_the_system_auth_removes_its_token,
    tokens_only_for_existing_objects_in_reach,
);
