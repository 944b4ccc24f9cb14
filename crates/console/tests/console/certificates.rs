//! An application's client certificates on its page: each paired client's certificate with
//! its serial, validity and state, and a "Revoke" form per certificate (CSRF, scope, tenant
//! and application checked) after which the mTLS listener refuses it.

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, Page, TestServer, mtls_probe, pair_application, register,
};

/// The serials the page offers to revoke, in its order (newest first).
fn revoke_forms(page: &Page, app: &str) -> Vec<String> {
    let prefix = format!("action=\"/console/applications/{app}/certificates/");
    page.body
        .match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &page.body[at + prefix.len()..];
            rest[..rest.find('/').unwrap()].to_owned()
        })
        .collect()
}

async fn a_certificate_is_revoked_only_with_csrf_scope_and_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = register(&server, "shop", json!({})).await;
    let other = register(&server, "other", json!({})).await;
    let client = pair_application(&server, &shop).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let detail = format!("/console/applications/{shop}");
    let page = browser.get(&detail).await;
    assert!(
        page.body.contains("Client certificates (1)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<td class=\"certificate-state\">valid</td>")
    );
    let serials = revoke_forms(&page, &shop);
    assert_eq!(serials.len(), 1, "{}", page.body);
    let serial = &serials[0];
    assert!(
        page.body
            .contains(&format!("<td><code>{serial}</code></td>"))
    );
    let revoke = format!("{detail}/certificates/{serial}/revoke");
    assert_eq!(mtls_probe(&server, &client).await, 200);

    // Refused before anything is revoked: no CSRF token, a wrong one, no session.
    assert_eq!(
        browser.post(&revoke, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.post(&revoke, &[("csrf", "wrong")]).await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = page.csrf();
    assert_eq!(
        Browser::new(&server)
            .post(&revoke, &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A session that may only read sees the certificate, no button, and is refused.
    let mut reader = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let read = reader.get(&detail).await;
    assert!(read.body.contains(serial.as_str()), "{}", read.body);
    assert!(revoke_forms(&read, &shop).is_empty(), "{}", read.body);
    let refused = reader.post(&revoke, &[("csrf", &read.csrf())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("insufficient scopes"));
    // Another tenant's session finds nothing; nor does another application's page.
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let csrf_elsewhere = stranger.csrf().await;
    let page = stranger.post(&revoke, &[("csrf", &csrf_elsewhere)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let elsewhere = format!("/console/applications/{other}/certificates/{serial}/revoke");
    let page = browser.post(&elsewhere, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(mtls_probe(&server, &client).await, 200, "still accepted");

    // With all of them: revoked, and refused on the mTLS listener.
    let page = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some(detail.as_str()));
    assert_eq!(mtls_probe(&server, &client).await, 401);
    let page = browser.get(&detail).await;
    assert!(
        page.body
            .contains("<td class=\"certificate-state\">revoked "),
        "{}",
        page.body
    );
    assert!(
        revoke_forms(&page, &shop).is_empty(),
        "nothing left to revoke"
    );
}

on_both_backends!(a_certificate_is_revoked_only_with_csrf_scope_and_tenant);
