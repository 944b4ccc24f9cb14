//! Connecting an application in the browser: the token issued from the application's page,
//! its expiry counting down, and the application client (`sextant-app`, the code behind
//! `sextant app pair`) pairing with the token read off the page, which then shows the token
//! used without a reload.

use serde_json::json;
use sextant_app::{AppClient, PairOptions};
use sextant_test_browser::{Browser, sign_in};
use sextant_test_support::on_both_backends;

use crate::helpers::{Backend, TestServer, register};

async fn the_page_shows_the_token_used_once_the_application_paired(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let mut browser = Browser::start(&server, "connect").await;
    sign_in(&mut browser, &server).await;

    browser.goto(&format!("/console/applications/{id}")).await;
    browser.page("orders", "application").await;
    browser.click("#connect").await;
    browser.page("Connect orders", "connect").await;
    browser.click("#issue-token").await;
    browser
        .wait_until(
            "the token",
            "document.querySelector('#token') && document.querySelector('#token-state')",
        )
        .await;
    browser
        .wait_until(
            "the countdown",
            "document.querySelector('#token-countdown')?.textContent.startsWith('in ')",
        )
        .await;
    browser.page("Connect orders", "token").await;
    assert_eq!(browser.text("#token-state").await, "Not used yet");
    let token = browser.text("#token").await;
    let connector_url = browser.text("#connector-url").await;
    let command = browser.text("#pair-command").await;
    assert!(
        command.starts_with("sextant app pair --token "),
        "{command}"
    );
    // A mark that a reload would wipe out.
    browser
        .js("window.sextantNotReloaded = true; return true;", vec![])
        .await;

    // The application pairs with what the page shows, as `sextant app pair` would.
    let state_dir = server
        .db
        .dir
        .join(format!("app-state-{}", uuid::Uuid::new_v4().simple()));
    AppClient::pair(
        &state_dir,
        PairOptions {
            token: Some(token),
            connector_url: Some(connector_url),
            ca_file: Some(server.ca_path()),
            renew_now: false,
        },
    )
    .await
    .expect("the application pairs with the token from the page");

    browser
        .wait_until(
            "the token used",
            "document.querySelector('#token-state')?.textContent === 'Used'",
        )
        .await;
    browser.visited("used").await;
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
                "return document.querySelector('#token-status').hasAttribute('hx-trigger')",
                vec![]
            )
            .await,
        json!(false),
        "a used token stops polling"
    );
    assert!(!browser.text("#token-used-at").await.is_empty());
    browser.finish().await;
}

on_both_backends!(the_page_shows_the_token_used_once_the_application_paired);
