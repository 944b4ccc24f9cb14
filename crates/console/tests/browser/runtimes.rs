//! Runtimes in the browser: the list and a runtime's detail (checked with axe-core like
//! every page), then a runtime provisioned through the form, whose operation's progress
//! changes on the page without a reload.

use std::time::Duration;

use serde_json::json;
use sextant_test_browser::{Browser, sign_in};
use sextant_test_support::on_both_backends;

use crate::helpers::{Backend, SilentAgent, register, register_runtime};

/// How long an operation waits for the silent agent: long enough to see it run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

async fn list_detail_and_an_operation_that_changes_without_a_reload(backend: Backend) {
    let agent = SilentAgent::create();
    let server = agent.server(backend, CONNECT_TIMEOUT).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let plain = register_runtime(
        &server,
        "plain",
        json!({"scenarios": ["billing"], "env": "dev"}),
    )
    .await;
    register(&server, "orders", json!({"scenarios": ["billing"]})).await;
    let mut browser = Browser::start(&server, "runtimes").await;
    sign_in(&mut browser, &server).await;

    browser.click("nav a[href='/console/runtimes']").await;
    browser.page("Runtimes", "list").await;
    assert_eq!(browser.count("a.runtime").await, 1);
    browser.click("a.runtime").await;
    browser.page("plain", "detail").await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/console/runtimes/{plain}"));
    assert_eq!(browser.text("a.runtime-application").await, "orders");

    // Provision through the form; the page that follows shows the operation running.
    browser.click("nav a[href='/console/runtimes']").await;
    browser.page("Runtimes", "list-again").await;
    browser.click("a[href='/console/runtimes/new']").await;
    browser.page("Provision a runtime", "provision-form").await;
    browser.click("#name").await;
    browser.type_text("edge").await;
    browser.click("#labels").await;
    browser.type_text("scenarios=[\"billing\"]").await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until(
            "the operation running",
            "document.querySelector('#operation-state')?.textContent === 'In progress'",
        )
        .await;
    browser.page("edge", "provisioning").await;
    assert_eq!(browser.text("#operation-kind").await, "Provisioning");
    // A mark that a reload would wipe out.
    browser
        .js("window.sextantNotReloaded = true; return true;", vec![])
        .await;

    // The fragment polls itself and stops once the operation ended: the silent agent never
    // pairs, so it fails at the connect timeout.
    browser
        .wait_until(
            "the operation failed",
            "document.querySelector('#operation-state')?.textContent === 'Failed'",
        )
        .await;
    browser.visited("failed").await;
    assert_eq!(
        browser
            .js("return window.sextantNotReloaded === true", vec![])
            .await,
        json!(true),
        "the page was not reloaded"
    );
    assert_eq!(
        browser
            .js(
                "return document.querySelector('#operation').hasAttribute('hx-trigger')",
                vec![]
            )
            .await,
        json!(false),
        "a finished operation stops polling"
    );
    assert!(!browser.text("#operation-message").await.is_empty());
    browser.finish().await;
}

on_both_backends!(list_detail_and_an_operation_that_changes_without_a_reload);
