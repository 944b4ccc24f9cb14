//! The dashboard in the browser with something in every section (checked with axe-core like
//! every page): a runtime behind, a certificate expiring, a failing webhook, a failed spec
//! fetch, and the last hour's charts.

use std::time::Duration;

use serde_json::json;
use sextant_test_browser::{Browser, sign_in};
use sextant_test_server::Setup;
use sextant_test_support::on_both_backends;

use crate::helpers::{Backend, TestServer, pair_and_fetch, register, register_runtime};

async fn a_dashboard_with_something_in_every_section(backend: Backend) {
    // Certificates valid 7 days (within the dashboard's 14); deliveries give up in a second.
    let mut setup = Setup::issuing_for(Duration::from_secs(7 * 86_400));
    setup.options.notifier = Some(sextant_server::notifier::NotifierSettings {
        retry_base: Duration::from_millis(100),
        give_up_after: Duration::from_secs(1),
        ..sextant_server::notifier::NotifierSettings::default()
    });
    let server = TestServer::start_with(backend, setup).await;
    let shop = register(&server, "shop", json!({})).await;
    server
        .director(
            "mutation($id: ID!) { addWebhook(applicationID: $id, in: {type: CONFIGURATION_CHANGED, url: \"https://hooks.example.com/hook\"}) { id } }",
            json!({"id": shop}),
        )
        .await;
    server
        .director(
            "mutation($id: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $id, in: $in) { id } }",
            json!({"id": shop, "in": {"name": "unreachable", "targetURL": "https://api.example.com",
                "spec": {"type": "OPEN_API", "format": "YAML",
                         "fetchRequest": {"url": "http://127.0.0.1:1/spec.yaml"}}}}),
        )
        .await;
    let runtime = register_runtime(&server, "edge", json!({"scenarios": ["DEFAULT"]})).await;
    assert_eq!(pair_and_fetch(&server, &runtime).await, 200);
    // A change after the agent asked: its configuration is behind.
    server
        .director(
            r#"mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: "team", value: "a") { key } }"#,
            json!({"id": runtime}),
        )
        .await;

    let mut browser = Browser::start(&server, "dashboard").await;
    sign_in(&mut browser, &server).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto("/console/").await;
        let ready = browser
            .js(
                "return document.querySelector('#failing-webhook-count')?.textContent === '1' \
                 && document.querySelector('#attention-count')?.textContent === '1' \
                 && document.querySelectorAll('#fetches-chart-totals td')[0]?.textContent !== '0'",
                vec![],
            )
            .await;
        if ready == json!(true) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard never showed every section"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.page("Dashboard", "every-section").await;
    assert_eq!(browser.text("#certificate-count").await, "1");
    assert_eq!(browser.text("#failed-fetch-count").await, "1");
    assert!(browser.count("figure.chart svg rect").await >= 1, "bars");
    browser.click("#attention a").await;
    browser.page("edge", "runtime-behind").await;
    assert_eq!(browser.text("#agent-configuration").await, "Behind");
    browser.finish().await;
}

on_both_backends!(a_dashboard_with_something_in_every_section);
