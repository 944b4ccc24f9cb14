//! `oneTimeTokenStatus` (a Sextant query): whether a pairing token was used, and when, read by
//! the id of the client it pairs, never by the token; user-only and confined to the tenant.

use serde_json::{Value, json};
use sextant_domain::{
    ApplicationId, OneTimeToken, OneTimeTokenKind, SystemAuth, SystemAuthId, SystemAuthOwner,
    TenantId,
};

use crate::connector::{CONFIGURATION, connector, mtls_gql, paired_full};
use crate::helpers::{Backend, TestApp, assert_error_code};

const STATUS: &str = "query($id: ID!) { oneTimeTokenStatus(id: $id) { \
    id state applicationID runtimeID createdAt expiresAt usedAt } }";

/// A token for the application: (token, id, expiresAt).
async fn issue(app: &TestApp, app_id: &str) -> (String, String, String) {
    let issued = app
        .gql(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { \
             token id expiresAt } }",
            json!({"id": app_id}),
        )
        .await["requestOneTimeTokenForApplication"]
        .clone();
    let text = |k: &str| issued[k].as_str().unwrap().to_owned();
    (text("token"), text("id"), text("expiresAt"))
}

async fn status(app: &TestApp, id: &str) -> Value {
    app.gql(STATUS, json!({"id": id})).await["oneTimeTokenStatus"].clone()
}

async fn a_token_reads_unused_then_used(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (token, id, expires_at) = issue(&app, &app_id).await;
    // The id is the client the token pairs, as the application's auths list it.
    let auths = app
        .gql(
            "query($a: ID!) { application(id: $a) { auths { id } } }",
            json!({"a": app_id}),
        )
        .await;
    assert_eq!(auths["application"]["auths"][0]["id"], id.as_str());

    let unused = status(&app, &id).await;
    assert_eq!(unused["state"], "UNUSED", "{unused}");
    assert_eq!(unused["id"], id.as_str());
    assert_eq!(unused["applicationID"], app_id.as_str());
    assert_eq!(unused["runtimeID"], Value::Null);
    assert_eq!(unused["expiresAt"], expires_at.as_str());
    assert_eq!(unused["usedAt"], Value::Null);
    assert!(
        !unused.to_string().contains(&token),
        "the token is never answered"
    );

    let before = time::OffsetDateTime::now_utc();
    let (code, _) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    assert_eq!(code, 200);
    let used = status(&app, &id).await;
    assert_eq!(used["state"], "USED", "{used}");
    assert_eq!(used["expiresAt"], Value::Null);
    let used_at = time::OffsetDateTime::parse(
        used["usedAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(used_at >= before - time::Duration::seconds(1), "{used}");
    assert!(used_at <= time::OffsetDateTime::now_utc(), "{used}");
}

async fn a_runtime_token_names_its_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let id = app
        .gql(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { id } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unused = status(&app, &id).await;
    assert_eq!(unused["state"], "UNUSED", "{unused}");
    assert_eq!(unused["runtimeID"], runtime.as_str());
    assert_eq!(unused["applicationID"], Value::Null);
    // A session that may read applications but not runtimes does not read it.
    let apps_only = app.token(&[TenantId::DEFAULT], &["application:read"]);
    app.gql_error_as("INSUFFICIENT_SCOPES", &apps_only, STATUS, json!({"id": id}))
        .await;
    // Without either read scope, even an unknown id is refused for the scope, not looked up.
    let neither = app.token(&[TenantId::DEFAULT], &["application:write"]);
    let unknown = uuid::Uuid::new_v4().to_string();
    app.gql_error_as(
        "INSUFFICIENT_SCOPES",
        &neither,
        STATUS,
        json!({"id": unknown}),
    )
    .await;
}

async fn an_expired_token_reads_expired_also_once_purged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id: ApplicationId = app.register_app("app", json!({})).await.parse().unwrap();
    let client = SystemAuthId::new_v4();
    let now = time::OffsetDateTime::now_utc();
    let expired_at = now - time::Duration::minutes(5);
    let mut tx = app.server().store.write().await.unwrap();
    tx.insert_system_auth(&SystemAuth {
        id: client,
        tenant: Some(TenantId::DEFAULT),
        owner: SystemAuthOwner::Application(app_id),
        secret_hash: None,
        created_at: now - time::Duration::minutes(10),
    })
    .await
    .unwrap();
    tx.insert_one_time_token(&OneTimeToken {
        hash: sextant_auth::secret_hash("expired-token-for-the-test"),
        kind: OneTimeTokenKind::Application,
        client_id: client,
        tenant: TenantId::DEFAULT,
        created_at: now - time::Duration::minutes(10),
        expires_at: expired_at,
        parent_serial: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let expired = status(&app, &client.to_string()).await;
    assert_eq!(expired["state"], "EXPIRED", "{expired}");
    assert_eq!(expired["usedAt"], Value::Null);
    assert!(expired["expiresAt"].is_string(), "{expired}");

    let mut tx = app.server().store.write().await.unwrap();
    assert_eq!(tx.purge_expired_tokens(now).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let purged = status(&app, &client.to_string()).await;
    assert_eq!(purged["state"], "EXPIRED", "{purged}");
    assert_eq!(purged["expiresAt"], Value::Null);
}

async fn out_of_reach_ids_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (_, id, _) = issue(&app, &app_id).await;
    // Another tenant's user, an unknown id, an OAuth2 client's id: all "not found".
    let (_, other) = app.other_tenant();
    app.gql_error_as("NOT_FOUND", &other, STATUS, json!({"id": id}))
        .await;
    app.gql_error(
        "NOT_FOUND",
        STATUS,
        json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    let oauth = app
        .gql(
            "mutation($id: ID!) { requestClientCredentialsForApplication(id: $id) { id } }",
            json!({"id": app_id}),
        )
        .await["requestClientCredentialsForApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_error("NOT_FOUND", STATUS, json!({"id": oauth}))
        .await;
}

async fn only_users_read_token_states(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (_, id, _) = issue(&app, &app_id).await;
    // The application itself, through its certificate, asks about its own next token.
    let (client, _, _, _) = paired_full(&app, "Application", &app_id).await;
    let (code, body) = mtls_gql(&app, &client, &[], STATUS, json!({"id": id})).await;
    assert_eq!(code, 200);
    assert_error_code(&body, "FORBIDDEN");
}

crate::on_both_backends!(
    a_token_reads_unused_then_used,
    a_runtime_token_names_its_runtime,
    an_expired_token_reads_expired_also_once_purged,
    out_of_reach_ids_are_not_found,
    only_users_read_token_states,
);
