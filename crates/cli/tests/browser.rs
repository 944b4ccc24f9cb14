//! The console in a real browser over a runtime whose agent is this crate's `sextant` binary
//! (`CARGO_BIN_EXE_sextant`, built for this test run): the administrator provisions it
//! through the console's form and watches it become READY, then deprovisions it, without
//! ever reloading the page. The harness is `sextant-test-browser`'s: headless chromium
//! through chromedriver, axe-core on every page visited, screenshots under
//! `target/console-screenshots/`. Both backends.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and `npm ci` run in
//! `crates/test-browser`; without them the test fails, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use sextant_test_browser::{Browser, sign_in};
use sextant_test_support::on_both_backends;

use common::{Backend, Plane, agent_pid, process_runs_in};

on_both_backends!(provision_a_runtime_watch_it_become_ready_and_deprovision_it);

/// How long the page may take to show an operation's end: the server waits up to its
/// connect timeout (a minute) for the agent, on a machine that may be busy.
const OPERATION: Duration = Duration::from_secs(90);

/// Whether the page still carries the mark a reload would wipe out.
async fn not_reloaded(browser: &Browser) -> bool {
    browser
        .js("return window.sextantNotReloaded === true", vec![])
        .await
        == json!(true)
}

/// Whether the element `id` polls (carries an htmx trigger).
async fn polls(browser: &Browser, id: &str) -> bool {
    browser
        .js(
            "const e = document.getElementById(arguments[0]); \
             return e !== null && e.hasAttribute('hx-trigger');",
            vec![json!(id)],
        )
        .await
        == json!(true)
}

async fn provision_a_runtime_watch_it_become_ready_and_deprovision_it(backend: Backend) {
    let started = Instant::now();
    let plane = Plane::new(backend).await;
    let mut browser = Browser::start(&plane, "runtime-ready").await;
    sign_in(&mut browser, &plane).await;

    // Provision through the form; the page that follows shows the operation running.
    browser.click("nav a[href='/console/runtimes']").await;
    browser.page("Runtimes", "list").await;
    browser.click("a[href='/console/runtimes/new']").await;
    browser.page("Provision a runtime", "provision-form").await;
    browser.click("#name").await;
    browser.type_text("edge").await;
    browser.click("#labels").await;
    browser.type_text("scenarios=[\"DEFAULT\"]").await;
    browser.click("form.stack button[type=submit]").await;
    browser
        .wait_until(
            "the operation running",
            "document.querySelector('#operation-state')?.textContent === 'In progress'",
        )
        .await;
    browser.page("edge", "provisioning").await;
    assert_eq!(browser.text("#operation-kind").await, "Provisioning");
    let url = browser.client.current_url().await.unwrap();
    let runtime = url
        .path()
        .strip_prefix("/console/runtimes/")
        .unwrap()
        .to_owned();
    // A mark that a reload would wipe out.
    browser
        .js("window.sextantNotReloaded = true; return true;", vec![])
        .await;

    // The real agent pairs, applies its configuration and reports READY: the operation's
    // fragment shows it succeed, and the runtime's facts follow by themselves.
    browser
        .wait_until_within(
            OPERATION,
            "the operation ended",
            "document.querySelector('#operation-state')?.textContent !== 'In progress'",
        )
        .await;
    browser.visited("operation-ended").await;
    assert_eq!(
        browser.text("#operation-state").await,
        "Succeeded",
        "the provisioning failed: {}",
        browser.text("#operation-message").await
    );
    let ready_at = started.elapsed();
    browser
        .wait_until(
            "the runtime READY, its agent connected and seen holding the current configuration",
            "document.querySelector('#runtime-status')?.textContent === 'READY' && \
             document.querySelector('#agent-connection')?.textContent === 'Connected' && \
             document.querySelector('#agent-configuration')?.textContent === 'Current' && \
             document.querySelector('#agent-last-seen')?.textContent !== 'Never' && \
             !document.querySelector('#runtime-facts').hasAttribute('hx-trigger')",
        )
        .await;
    browser.visited("ready").await;
    assert!(not_reloaded(&browser).await, "the page was not reloaded");
    assert!(
        !polls(&browser, "operation").await,
        "a finished operation stops polling"
    );
    assert_eq!(
        plane.director_runtime(&runtime).await.unwrap()["status"]["condition"],
        "READY"
    );
    let dir = plane.runtime_dir(&runtime);
    let pid = agent_pid(&dir).expect("the agent runs");

    // Deprovision from the page, the name typed to confirm. The page that follows shows
    // the operation, unless it ended first (then the runtime is already gone).
    browser.click("#deprovision_name").await;
    browser.type_text("edge").await;
    browser.click("form.danger button[type=submit]").await;
    browser
        .wait_until(
            "the deprovisioning shown, or the runtime gone",
            "document.querySelector('#operation-kind')?.textContent === 'Deprovisioning' || \
             document.title.startsWith('Not found')",
        )
        .await;
    let shown = browser.js("return document.title", vec![]).await;
    let followed = shown.as_str().is_some_and(|t| t.starts_with("edge"));
    if followed {
        browser.page("edge", "deprovisioning").await;
        browser
            .js("window.sextantNotReloaded = true; return true;", vec![])
            .await;
        browser
            .wait_until_within(
                OPERATION,
                "the deprovisioning ended",
                "document.querySelector('#operation-state')?.textContent !== 'In progress'",
            )
            .await;
        assert_eq!(
            browser.text("#operation-state").await,
            "Succeeded",
            "the deprovisioning failed: {}",
            browser.text("#operation-message").await
        );
        browser
            .wait_until(
                "the runtime's facts gone",
                "document.querySelector('#runtime-facts-error') !== null",
            )
            .await;
        browser.visited("deprovisioned").await;
        assert!(not_reloaded(&browser).await, "the page was not reloaded");
        assert!(!polls(&browser, "operation").await);
        assert!(!polls(&browser, "runtime-facts").await);
        browser
            .click("#operation a[href='/console/runtimes']")
            .await;
    } else {
        // A short page without the console's navigation.
        browser.page("Not found", "deprovisioned-at-once").await;
        browser.goto("/console/runtimes").await;
    }
    browser.page("Runtimes", "list-after").await;
    assert_eq!(browser.count("a.runtime").await, 0);
    assert!(!process_runs_in(pid, &dir), "the agent process is gone");
    assert!(!dir.exists(), "the runtime's directory is removed");
    assert!(plane.director_runtime(&runtime).await.is_none());
    browser.finish().await;
    eprintln!(
        "{backend:?}: READY {ready_at:?} after the test began, done after {:?}; the \
         deprovisioning {}",
        started.elapsed(),
        if followed {
            "followed on the page"
        } else {
            "ended before the page showed it"
        }
    );
}
