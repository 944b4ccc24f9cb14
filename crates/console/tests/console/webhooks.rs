//! An application's webhook delivery log: an event delivered to a real local receiver, and
//! one the receiver refuses, appear on the application's page with their state, attempts
//! (each with its time, HTTP status, latency and error) and last error; a delivery sent
//! again, or a test event sent, from the page (CSRF, scope and tenant checked) reaches the
//! receiver through the notifier.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode as ReceiverStatus;
use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, Page, TestServer, register, register_runtime};

/// A webhook receiver on loopback answering `status` to every request; counts them.
async fn receiver(status: ReceiverStatus) -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let handler = move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            status
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap();
    });
    (url, got)
}

/// Adds a webhook; answers its id.
async fn add_webhook(server: &TestServer, app: &str, url: &str) -> String {
    server
        .director(
            "mutation($app: ID!, $in: WebhookInput!) { \
             addWebhook(applicationID: $app, in: $in) { id } }",
            json!({"app": app, "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
        )
        .await["addWebhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The page at `path` once it shows `text` (within 15 s).
async fn page_until(browser: &mut Browser, path: &str, text: &str) -> Page {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = browser.get(path).await;
        if page.body.contains(text) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{text} never shown:\n{}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn deliveries_appear_in_the_log_with_their_outcome(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (good_url, good) = receiver(ReceiverStatus::NO_CONTENT).await;
    let (bad_url, bad) = receiver(ReceiverStatus::SERVICE_UNAVAILABLE).await;
    let shop = register(&server, "shop", json!({"scenarios": ["DEFAULT"]})).await;
    add_webhook(&server, &shop, &good_url).await;
    let broken = register(&server, "broken", json!({"scenarios": ["DEFAULT"]})).await;
    add_webhook(&server, &broken, &bad_url).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let page = browser.get(&format!("/console/applications/{shop}")).await;
    assert!(page.body.contains("No deliveries yet."), "{}", page.body);

    // A runtime joins their scenario: each application hears of it.
    register_runtime(&server, "rt", json!({"scenarios": ["DEFAULT"]})).await;
    let page = page_until(
        &mut browser,
        &format!("/console/applications/{shop}"),
        "<td class=\"delivery-state\">delivered</td>",
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<td>CONFIGURATION_CHANGED</td>"));
    assert!(page.body.contains(" ms</td>"), "the time to deliver");
    assert_eq!(good.load(Ordering::SeqCst), 1);

    // The refused one is retried, and the log says why.
    let page = page_until(
        &mut browser,
        &format!("/console/applications/{broken}"),
        "503",
    )
    .await;
    assert!(
        page.body
            .contains("<td class=\"delivery-state\">pending</td>")
    );
    assert!(bad.load(Ordering::SeqCst) >= 1);
    // Each attempt with its status, latency and error.
    assert!(
        page.body.contains("<td class=\"attempt-status\">503</td>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<td class=\"attempt-error\">the webhook answered HTTP 503</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(" ms</td>"));

    // Another tenant sees neither the application nor its log.
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    assert_eq!(
        stranger
            .get(&format!("/console/applications/{shop}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The ids of the deliveries a page offers to send again, in its order (newest first).
fn resend_forms(page: &Page, app: &str) -> Vec<String> {
    let prefix = format!("action=\"/console/applications/{app}/deliveries/");
    page.body
        .match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &page.body[at + prefix.len()..];
            rest[..rest.find('/').unwrap()].to_owned()
        })
        .collect()
}

async fn a_delivery_is_sent_again_only_with_csrf_scope_and_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (url, got) = receiver(ReceiverStatus::NO_CONTENT).await;
    let shop = register(&server, "shop", json!({"scenarios": ["DEFAULT"]})).await;
    add_webhook(&server, &shop, &url).await;
    register_runtime(&server, "rt", json!({"scenarios": ["DEFAULT"]})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let detail = format!("/console/applications/{shop}");
    let page = page_until(&mut browser, &detail, "Send again").await;
    let forms = resend_forms(&page, &shop);
    assert_eq!(forms.len(), 1, "{}", page.body);
    let resend = format!("{detail}/deliveries/{}/resend", forms[0]);

    // Refused before anything is queued: no CSRF token, a wrong one, no session.
    assert_eq!(
        browser.post(&resend, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.post(&resend, &[("csrf", "wrong")]).await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = page.csrf();
    assert_eq!(
        Browser::new(&server)
            .post(&resend, &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A session that may only read sees no button and is refused by the Director.
    let mut reader = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let read = reader.get(&detail).await;
    assert!(read.body.contains("delivery-state"));
    assert!(resend_forms(&read, &shop).is_empty());
    let refused = reader.post(&resend, &[("csrf", &read.csrf())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("insufficient scopes"));
    // Another tenant's session finds nothing.
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let csrf_elsewhere = stranger.csrf().await;
    let page = stranger.post(&resend, &[("csrf", &csrf_elsewhere)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.load(Ordering::SeqCst), 1, "nothing sent again");

    // With all of them: queued, then sent by the notifier; the log shows both.
    let page = browser.post(&resend, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some(detail.as_str()));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = browser.get(&detail).await;
        let delivered = page
            .body
            .matches("<td class=\"delivery-state\">delivered</td>")
            .count();
        if delivered == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got.load(Ordering::SeqCst), 2);
}

/// How many deliveries the administrator's GraphQL lists for the application's webhook.
async fn deliveries_of(server: &TestServer, app: &str) -> usize {
    server
        .director(
            "query($id: ID!) { application(id: $id) { webhooks { deliveries { id } } } }",
            json!({"id": app}),
        )
        .await["application"]["webhooks"][0]["deliveries"]
        .as_array()
        .unwrap()
        .len()
}

async fn a_test_event_is_sent_only_with_csrf_scope_and_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (url, got) = receiver(ReceiverStatus::NO_CONTENT).await;
    let shop = register(&server, "shop", json!({})).await;
    let webhook = add_webhook(&server, &shop, &url).await;
    let other = register(&server, "other", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let detail = format!("/console/applications/{shop}");
    let page = browser.get(&detail).await;
    let test = format!("{detail}/webhooks/{webhook}/test");
    assert!(
        page.body.contains(&format!("action=\"{test}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("Send a test event"));

    // Refused before anything is queued: no CSRF token, a wrong one, no session.
    assert_eq!(browser.post(&test, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        browser.post(&test, &[("csrf", "wrong")]).await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = page.csrf();
    assert_eq!(
        Browser::new(&server)
            .post(&test, &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A session that may only read sees no button and is refused by the Director.
    let mut reader = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let read = reader.get(&detail).await;
    assert!(read.body.contains(&url), "{}", read.body);
    assert!(!read.body.contains("Send a test event"), "{}", read.body);
    let refused = reader.post(&test, &[("csrf", &read.csrf())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("insufficient scopes"));
    // Another tenant's session finds nothing; nor does another application's page.
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let csrf_elsewhere = stranger.csrf().await;
    let page = stranger.post(&test, &[("csrf", &csrf_elsewhere)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let elsewhere = format!("/console/applications/{other}/webhooks/{webhook}/test");
    let page = browser.post(&elsewhere, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.load(Ordering::SeqCst), 0, "nothing sent");
    assert_eq!(deliveries_of(&server, &shop).await, 0, "nothing queued");

    // With all of them: queued, sent by the notifier, and logged with its attempt.
    let page = browser.post(&test, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some(detail.as_str()));
    // The delivery and its attempts are read by two statements: wait for both.
    let page = page_until(
        &mut browser,
        &detail,
        "<td class=\"delivery-state\">delivered</td>",
    )
    .await;
    assert!(
        page.body.contains("<td class=\"attempt-status\">204</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>TEST</td>"), "{}", page.body);
    assert!(page.body.contains("<tr class=\"attempt\"><td>1</td>"));
    assert!(page.body.contains("<td class=\"attempt-latency\">"));
    assert_eq!(got.load(Ordering::SeqCst), 1);
}

on_both_backends!(
    a_test_event_is_sent_only_with_csrf_scope_and_tenant,
    deliveries_appear_in_the_log_with_their_outcome,
    a_delivery_is_sent_again_only_with_csrf_scope_and_tenant,
);
