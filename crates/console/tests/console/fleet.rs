//! The fleet in the console: the runtime pages' agent and certificate columns, and the
//! dashboard's numbers (what needs attention, the last hour's activity), on both backends.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_server::Setup;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, Page, TestServer, fetch_configuration, pair_runtime, register,
    register_runtime,
};

/// The text of the first `<td class="CLASS">` of a page, up to the next tag.
fn cell(page: &Page, class: &str) -> String {
    let marker = format!("<td class=\"{class}\">");
    let start = page.body.find(&marker).unwrap() + marker.len();
    let end = start + page.body[start..].find('<').unwrap();
    page.body[start..end].trim().to_owned()
}

/// GETs `path` until `ready` holds for the page (20 s at most), and answers it.
async fn page_when(
    browser: &mut Browser,
    path: &str,
    what: &str,
    ready: impl Fn(&Page) -> bool,
) -> Page {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        if ready(&page) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn runtime_pages_show_the_agent_and_the_certificate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let runtime = register_runtime(&server, "edge", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let list = browser.get("/console/runtimes").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(cell(&list, "agent-seen"), "Never");
    assert_eq!(cell(&list, "agent-configuration"), "Unknown");
    assert_eq!(cell(&list, "certificate-expiry"), "No valid certificate");

    let agent = pair_runtime(&server, &runtime).await;
    assert_eq!(fetch_configuration(&server, &agent).await, 200);
    let list = page_when(
        &mut browser,
        "/console/runtimes",
        "the agent on the list",
        |page| cell(page, "agent-configuration") == "Current",
    )
    .await;
    assert!(cell(&list, "agent-seen").ends_with("UTC"), "{}", list.body);
    assert!(cell(&list, "certificate-expiry").ends_with("UTC"));
    let detail = browser.get(&format!("/console/runtimes/{runtime}")).await;
    assert_eq!(
        detail.text_of("agent-configuration").as_deref(),
        Some("Current")
    );
    assert!(detail.text_of("agent-last-seen").unwrap().ends_with("UTC"));
    let serial = detail.text_of("certificate-serial").unwrap();
    assert!(
        serial.len() >= 16 && serial.chars().all(|c| c.is_ascii_hexdigit()),
        "{serial}"
    );
    assert!(list.body.contains(&serial), "the list shows the serial too");

    // A change that reaches the runtime: behind until the agent asks again.
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    server
        .director(
            r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "scenarios", value: ["billing"]) { key } }"#,
            json!({"id": runtime}),
        )
        .await;
    let detail = browser.get(&format!("/console/runtimes/{runtime}")).await;
    assert_eq!(
        detail.text_of("agent-configuration").as_deref(),
        Some("Behind")
    );
    assert_eq!(fetch_configuration(&server, &agent).await, 200);
    let path = format!("/console/runtimes/{runtime}");
    page_when(&mut browser, &path, "current again", |page| {
        page.text_of("agent-configuration").as_deref() == Some("Current")
    })
    .await;
}

/// A server whose client certificates are valid 7 days (so they expire within the
/// dashboard's 14) and whose webhook deliveries give up after a second.
async fn short_lived(backend: Backend) -> TestServer {
    let mut setup = Setup::issuing_for(Duration::from_secs(7 * 86_400));
    setup.options.notifier = Some(sextant_server::notifier::NotifierSettings {
        retry_base: Duration::from_millis(100),
        give_up_after: Duration::from_secs(1),
        ..sextant_server::notifier::NotifierSettings::default()
    });
    TestServer::start_with(backend, setup).await
}

/// The text of the element with `data-ATTR="VALUE"`.
fn data_of(page: &Page, attr: &str, value: &str) -> Option<String> {
    let marker = format!("data-{attr}=\"{value}\">");
    let start = page.body.find(&marker)? + marker.len();
    let end = start + page.body[start..].find('<')?;
    Some(page.body[start..end].to_owned())
}

async fn the_dashboard_counts_what_needs_attention(backend: Backend) {
    let server = short_lived(backend).await;
    let shop = register(&server, "shop", json!({})).await;
    register(&server, "billing", json!({})).await;
    let runtime = register_runtime(&server, "edge", json!({})).await;
    // A webhook nobody can reach (off the loopback allow-list) gives up: failing.
    server
        .director(
            "mutation($id: ID!) { addWebhook(applicationID: $id, in: {type: CONFIGURATION_CHANGED, url: \"https://hooks.example.com/hook\"}) { id } }",
            json!({"id": shop}),
        )
        .await;
    // A runtime joining the application's scenario, READY: events for the webhook.
    let ready = register_runtime(&server, "ready", json!({"scenarios": ["DEFAULT"]})).await;
    server
        .director(
            "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
            json!({"id": ready}),
        )
        .await;
    // A spec whose fetch fails (nothing listens on port 1).
    server
        .director(
            "mutation($id: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $id, in: $in) { id } }",
            json!({"id": shop, "in": {"name": "unreachable", "targetURL": "https://api.example.com",
                "spec": {"type": "OPEN_API", "format": "YAML",
                         "fetchRequest": {"url": "http://127.0.0.1:1/spec.yaml"}}}}),
        )
        .await;
    // The runtime's agent pairs (a certificate for 7 days) and asks; then the tenant moves on.
    let agent = pair_runtime(&server, &runtime).await;
    assert_eq!(fetch_configuration(&server, &agent).await, 200);
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let page = page_when(
        &mut browser,
        "/console/",
        "the dashboard's numbers",
        |page| {
            let fetched = data_of(page, "total", "requests")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            page.text_of("failing-webhook-count").as_deref() == Some("1") && fetched >= 1
        },
    )
    .await;
    assert_eq!(page.text_of("application-count").as_deref(), Some("2"));
    assert_eq!(page.text_of("runtime-count").as_deref(), Some("2"));
    assert_eq!(
        data_of(&page, "application-status", "INITIAL").as_deref(),
        Some("2")
    );
    assert_eq!(
        data_of(&page, "runtime-status", "READY").as_deref(),
        Some("1")
    );
    assert_eq!(
        data_of(&page, "runtime-status", "INITIAL").as_deref(),
        Some("1")
    );
    assert_eq!(page.text_of("certificate-count").as_deref(), Some("1"));
    assert!(page.body.contains(&format!("/console/runtimes/{runtime}")));
    assert_eq!(page.text_of("failed-fetch-count").as_deref(), Some("1"));
    assert!(page.body.contains("unreachable"));
    assert!(
        page.body
            .contains(&format!("href=\"/console/applications/{shop}\""))
    );
    assert!(
        data_of(&page, "total", "not delivered").is_some_and(|n| n.parse::<u64>().unwrap() >= 1),
        "the failed attempt in the chart's totals"
    );
    assert!(page.body.contains("<svg"), "the charts");
    assert!(page.body.contains("<title id=\"deliveries-chart-title\">"));
    assert!(page.body.contains("<title id=\"fetches-chart-title\">"));
    // The agent asked after every change so far; a change now puts it behind.
    assert_eq!(page.text_of("attention-count").as_deref(), Some("0"));
    server
        .director(
            r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "team", value: "a") { key } }"#,
            json!({"id": runtime}),
        )
        .await;
    let page = browser.get("/console/").await;
    assert_eq!(page.text_of("attention-count").as_deref(), Some("1"));
    assert!(page.body.contains(">Behind<"), "{}", page.body);
}

async fn without_runtime_read_no_runtime_item_shows(backend: Backend) {
    let server = short_lived(backend).await;
    let runtime = register_runtime(&server, "edge", json!({})).await;
    register(&server, "shop", json!({})).await;
    let agent = pair_runtime(&server, &runtime).await;
    assert_eq!(fetch_configuration(&server, &agent).await, 200);
    let mut browser = Browser::signed_in(
        &server,
        &[TenantId::DEFAULT],
        "application:read application:write",
    )
    .await;
    let page = browser.get("/console/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.text_of("application-count").as_deref(), Some("1"));
    for hidden in [
        "runtime-count",
        "attention-heading",
        "fetches-chart",
        "/console/runtimes/",
    ] {
        assert!(!page.body.contains(hidden), "{hidden} shown: {}", page.body);
    }
    // The runtime's certificate (7 days) is not listed; the applications' list is empty.
    assert_eq!(page.text_of("certificate-count").as_deref(), Some("0"));
    assert!(page.body.contains("deliveries-chart"));

    // And the other way round.
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], "runtime:read").await;
    let page = browser.get("/console/").await;
    assert_eq!(page.text_of("runtime-count").as_deref(), Some("1"));
    assert_eq!(page.text_of("certificate-count").as_deref(), Some("1"));
    for hidden in [
        "application-count",
        "failing-webhook-count",
        "failed-fetch-count",
        "deliveries-chart",
    ] {
        assert!(!page.body.contains(hidden), "{hidden} shown: {}", page.body);
    }
}

async fn statements_of(server: &TestServer, browser: &mut Browser) -> u64 {
    let before = server.server().store.statements().get();
    let page = browser.get("/console/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    server.server().store.statements().get() - before
}

/// The dashboard costs a fixed number of statements, whatever the tenant holds.
async fn the_dashboard_costs_the_same_with_more_objects(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    statements_of(&server, &mut browser).await;
    let few = statements_of(&server, &mut browser).await;
    for i in 0..6 {
        let app = register(&server, &format!("app-{i}"), json!({})).await;
        server
            .director(
                "mutation($id: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $id, in: $in) { id } }",
                json!({"id": app, "in": {"name": "unreachable", "targetURL": "https://api.example.com",
                    "spec": {"type": "OPEN_API", "format": "YAML",
                             "fetchRequest": {"url": "http://127.0.0.1:1/spec.yaml"}}}}),
            )
            .await;
        let runtime = register_runtime(&server, &format!("rt-{i}"), json!({})).await;
        let agent = pair_runtime(&server, &runtime).await;
        assert_eq!(fetch_configuration(&server, &agent).await, 200);
    }
    let many = statements_of(&server, &mut browser).await;
    assert_eq!(few, many, "the dashboard's statements grow with the data");
}

on_both_backends!(
    runtime_pages_show_the_agent_and_the_certificate,
    the_dashboard_counts_what_needs_attention,
    without_runtime_read_no_runtime_item_shows,
    the_dashboard_costs_the_same_with_more_objects,
);
