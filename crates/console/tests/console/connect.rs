//! Connecting an application: a one-time token issued by a POST with the session's CSRF
//! token, shown once with the commands that pair with it, and its state followed by a
//! fragment until it is used; refusals without a session, a CSRF token, the scope or the
//! tenant.

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, Page, TestServer, application_auths, redeem_token, register,
};

/// The `hx-get` URL of the token's state fragment on a page.
fn fragment_href(page: &Page) -> String {
    let at = page.body.find("id=\"token-status\"").unwrap();
    let rest = &page.body[at..];
    let start = rest.find("hx-get=\"").unwrap() + "hx-get=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

async fn a_token_is_shown_once_and_its_state_follows_its_use(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let detail = browser.get(&format!("/console/applications/{id}")).await;
    let connect = format!("/console/applications/{id}/connect");
    assert!(detail.body.contains(&format!("href=\"{connect}\"")));
    let page = browser.get(&connect).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"issue-token\""));
    assert_eq!(application_auths(&server, &id).await, 0);

    let page = browser.post(&connect, &[("csrf", &page.csrf())]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = page.text_of("token").unwrap();
    let connector = page.text_of("connector-url").unwrap();
    assert_eq!(connector, format!("{}/connector/graphql", server.base));
    assert_eq!(
        page.text_of("pair-command").unwrap(),
        format!(
            "sextant app pair --token '{token}' --connector-url '{connector}' --ca-file ca.crt"
        )
    );
    let steps = page.text_of("openssl-steps").unwrap();
    assert!(
        steps.starts_with(&format!("TOKEN='{token}'; CONNECTOR='{connector}'")),
        "{steps}"
    );
    assert!(steps.contains("signCertificateSigningRequest"));
    assert!(page.body.contains("data-expires-at=\""));
    assert!(page.text_of("token-expiry").unwrap().ends_with(" UTC"));
    assert_eq!(page.text_of("token-state").as_deref(), Some("Not used yet"));
    assert_eq!(application_auths(&server, &id).await, 1);

    // The fragment names the token by its client's id, never by the token, and polls.
    let href = fragment_href(&page);
    assert!(!href.contains(&token));
    let unused = browser.get(&href).await;
    assert_eq!(unused.status, StatusCode::OK);
    assert!(unused.body.contains("hx-trigger=\"every 2s\""));
    assert!(!unused.body.contains(&token));

    redeem_token(&server, &token).await;
    let used = browser.get(&href).await;
    assert_eq!(used.status, StatusCode::OK);
    assert_eq!(used.text_of("token-state").as_deref(), Some("Used"));
    assert!(used.text_of("token-used-at").unwrap().ends_with(" UTC"));
    assert!(
        !used.body.contains("hx-trigger"),
        "a used token stops polling"
    );

    // No other page shows the token.
    for path in [connect.as_str(), &format!("/console/applications/{id}")] {
        assert!(!browser.get(path).await.body.contains(&token), "{path}");
    }
}

async fn issuing_refuses_a_missing_or_wrong_csrf_token_and_no_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let connect = format!("/console/applications/{id}/connect");
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut other = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let others = other.csrf().await;

    assert_eq!(
        browser.post(&connect, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    for token in ["wrong", others.as_str()] {
        let page = browser.post(&connect, &[("csrf", token)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "with {token}");
    }
    let mut anonymous = Browser::new(&server);
    assert_eq!(
        anonymous.post(&connect, &[("csrf", &others)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(application_auths(&server, &id).await, 0, "no token issued");

    // Signed out: the page sends to the login, the fragment says so and stops polling.
    let page = anonymous.get(&connect).await;
    assert_eq!(page.location(), Some("/console/login"));
    let fragment = anonymous
        .get(&format!("{connect}/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(fragment.status, StatusCode::UNAUTHORIZED);
    assert!(fragment.body.contains("id=\"token-status-error\""));
    assert!(!fragment.body.contains("hx-trigger"));
}

async fn a_session_without_write_scope_sees_no_button_and_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let connect = format!("/console/applications/{id}/connect");
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let page = browser.get(&connect).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"issue-token\""));
    assert!(!page.body.contains(&format!("action=\"{connect}\"")));

    // A forged POST with the session's own CSRF token: the Director refuses it.
    let page = browser.post(&connect, &[("csrf", &page.csrf())]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("insufficient scopes"), "{}", page.body);
    assert!(page.text_of("token").is_none());
    assert_eq!(application_auths(&server, &id).await, 0);
}

async fn another_tenants_application_and_token_are_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let sibling = register(&server, "billing", json!({})).await;
    let connect = format!("/console/applications/{id}/connect");
    let mut owner = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = owner.csrf().await;
    let issued = owner.post(&connect, &[("csrf", &csrf)]).await;
    let href = fragment_href(&issued);

    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let csrf = stranger.csrf().await;
    assert_eq!(stranger.get(&connect).await.status, StatusCode::NOT_FOUND);
    let page = stranger.post(&connect, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let fragment = stranger.get(&href).await;
    assert_eq!(fragment.status, StatusCode::NOT_FOUND);
    assert!(!fragment.body.contains("hx-trigger"));
    assert_eq!(application_auths(&server, &id).await, 1, "only the owner's");

    // In the tenant, a token is followed only on its own application's page.
    let token_id = href.rsplit('/').next().unwrap();
    let elsewhere = owner
        .get(&format!(
            "/console/applications/{sibling}/connect/{token_id}"
        ))
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert_eq!(
        owner
            .get("/console/applications/not-an-id/connect")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

on_both_backends!(
    a_token_is_shown_once_and_its_state_follows_its_use,
    issuing_refuses_a_missing_or_wrong_csrf_token_and_no_session,
    a_session_without_write_scope_sees_no_button_and_is_refused,
    another_tenants_application_and_token_are_not_found,
);
