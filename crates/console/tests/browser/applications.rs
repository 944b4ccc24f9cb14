//! Applications in the browser: registering through the form by keyboard, the list and the
//! detail, paging through more than 100 forward and back, the label filter, deleting with
//! the name typed.

use std::collections::HashSet;

use fantoccini::key::Key;
use serde_json::json;
use sextant_test_browser::{Browser, sign_in};
use sextant_test_support::on_both_backends;

use crate::helpers::{Backend, TestServer, application, register};

async fn register_with_the_keyboard_then_see_it_in_the_list_and_its_detail(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::start(&server, "register").await;
    sign_in(&mut browser, &server).await;

    browser.click("nav a[href='/console/applications']").await;
    browser.page("Applications", "empty-list").await;
    assert!(browser.application_ids().await.is_empty());
    browser.click("a[href='/console/applications/new']").await;
    browser
        .page("Register an application", "register-form")
        .await;

    // A refused registration shows why beside the form and keeps what was typed.
    browser.tab_to("#name").await;
    browser.type_text("Not A Name!").await;
    browser.press(Key::Tab).await;
    browser.type_text("acme").await;
    browser.tab_to("button[type=submit]").await;
    browser.press(Key::Enter).await;
    browser
        .wait_until("the refusal", "document.querySelector('#register-error')")
        .await;
    browser
        .page("Register an application", "register-refused")
        .await;
    assert_eq!(
        browser
            .js("return document.querySelector('#name').value", vec![])
            .await,
        json!("Not A Name!")
    );

    // Field by field with Tab (which selects a field's text, so typing replaces it); a
    // newline in the labels is Enter; Enter on the button.
    browser.tab_to("#name").await;
    browser.type_text("orders").await;
    browser.press(Key::Tab).await;
    browser.type_text("acme").await;
    browser.press(Key::Tab).await;
    browser.type_text("Order intake").await;
    browser.press(Key::Tab).await;
    browser.type_text("env=prod\nscenarios=[\"DEFAULT\"]").await;
    browser.press(Key::Tab).await;
    assert_eq!(
        browser
            .js("return document.activeElement.textContent", vec![])
            .await,
        json!("Register")
    );
    browser.press(Key::Enter).await;
    browser.page("orders", "detail").await;

    let id = browser.text("dl.facts dd code").await;
    // The address bar follows (htmx pushes the redirect's target): a reload shows the same.
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/console/applications/{id}"));
    let stored = application(&server, &id).await;
    assert_eq!(stored["name"], "orders");
    assert_eq!(stored["providerName"], "acme");
    assert_eq!(stored["description"], "Order intake");
    assert_eq!(stored["labels"]["env"], "prod");
    assert_eq!(stored["labels"]["scenarios"], json!(["DEFAULT"]));
    let shown = browser.text("main").await;
    for expected in ["orders", "acme", "Order intake", "env", "prod", "DEFAULT"] {
        assert!(shown.contains(expected), "{expected} in {shown}");
    }

    browser.click("nav a[href='/console/applications']").await;
    browser.page("Applications", "list").await;
    assert_eq!(browser.application_ids().await, vec![id.clone()]);
    browser.click("a.application").await;
    browser.page("orders", "detail-from-list").await;
    browser.finish().await;
}

/// The ids on the list page shown, once its summary reads `summary`.
async fn list_page(browser: &mut Browser, summary: &str, shot: &str) -> Vec<String> {
    browser
        .wait_until(
            summary,
            &format!(
                "document.querySelector('p.total')?.textContent === {}",
                json!(summary)
            ),
        )
        .await;
    browser.page("Applications", shot).await;
    browser.application_ids().await
}

async fn page_through_more_than_a_hundred_and_filter_by_label(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut all = HashSet::new();
    for i in 0..120 {
        let env = if i % 3 == 0 { "prod" } else { "dev" };
        all.insert(register(&server, &format!("app-{i:03}"), json!({"env": env})).await);
    }
    let mut browser = Browser::start(&server, "pages").await;
    sign_in(&mut browser, &server).await;
    browser.click("nav a[href='/console/applications']").await;

    let first = list_page(&mut browser, "120 applications, showing 1 to 50.", "page-1").await;
    assert_eq!(browser.count("a[rel=prev]").await, 0);
    browser.click("a[rel=next]").await;
    let second = list_page(
        &mut browser,
        "120 applications, showing 51 to 100.",
        "page-2",
    )
    .await;
    browser.click("a[rel=next]").await;
    let third = list_page(
        &mut browser,
        "120 applications, showing 101 to 120.",
        "page-3",
    )
    .await;
    assert_eq!(browser.count("a[rel=next]").await, 0);
    assert_eq!((first.len(), second.len(), third.len()), (50, 50, 20));
    let seen: HashSet<String> = first.iter().chain(&second).chain(&third).cloned().collect();
    assert_eq!(seen, all, "every application once");

    // And back, by the keyboard: Tab to "Previous page", Enter.
    browser.tab_to("a[rel=prev]").await;
    browser.press(Key::Enter).await;
    let back = list_page(
        &mut browser,
        "120 applications, showing 51 to 100.",
        "page-2-again",
    )
    .await;
    assert_eq!(back, second);
    browser.click("a[rel=prev]").await;
    let back = list_page(
        &mut browser,
        "120 applications, showing 1 to 50.",
        "page-1-again",
    )
    .await;
    assert_eq!(back, first);
    assert_eq!(browser.count("a[rel=prev]").await, 0);

    // The label filter: typed, then Enter.
    browser.click("#label").await;
    browser.type_text("env=prod\n").await;
    let prod = list_page(
        &mut browser,
        "40 applications match, showing 1 to 40.",
        "prod",
    )
    .await;
    assert_eq!(prod.len(), 40);
    assert_eq!(browser.count("a[rel=next]").await, 0);
    assert_eq!(
        browser
            .js("return document.querySelector('#label').value", vec![])
            .await,
        json!("env=prod")
    );

    // The start of the name, in capitals, with the label kept: app-000, 003, 006, 009.
    browser.click("#q").await;
    browser.type_text("APP-00\n").await;
    let found = list_page(
        &mut browser,
        "4 applications match, showing 1 to 4.",
        "search",
    )
    .await;
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|id| prod.contains(id)));
    browser.finish().await;
}

/// An application's API: its page from the detail, the outline of its spec and the raw spec
/// in a disclosure, checked like every page.
async fn an_apis_spec_is_outlined_and_shown_raw(backend: Backend) {
    let server = TestServer::start(backend).await;
    let openapi = "openapi: 3.0.0\ninfo: {title: Orders, version: '1'}\npaths:\n  /orders:\n    get: {summary: List orders}\n    post: {operationId: createOrder}\n";
    let id = server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": "orders", "providerName": "acme", "apiDefinitions": [
                {"name": "orders-api", "targetURL": "https://orders.example",
                 "spec": {"type": "OPEN_API", "format": "YAML", "data": openapi}}]}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::start(&server, "spec").await;
    sign_in(&mut browser, &server).await;
    browser.goto(&format!("/console/applications/{id}")).await;
    browser.page("orders", "detail").await;
    browser.click("a.api").await;
    browser.page("orders-api · orders", "spec").await;
    assert_eq!(browser.count("tr.outline-row").await, 2);
    let outline = browser.text("table.outline").await;
    assert!(
        outline.contains("List orders") && outline.contains("createOrder"),
        "{outline}"
    );
    browser.click("details.raw summary").await;
    browser
        .wait_until("the raw spec", "document.querySelector('details.raw').open")
        .await;
    browser.visited("spec-raw").await;
    assert!(browser.text("#raw-spec").await.contains("openapi: 3.0.0"));
    browser.finish().await;
}

async fn delete_with_the_name_typed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    register(&server, "billing", json!({})).await;
    let mut browser = Browser::start(&server, "delete").await;
    sign_in(&mut browser, &server).await;
    browser.goto(&format!("/console/applications/{id}")).await;
    browser.page("orders", "detail").await;

    // The wrong name is refused beside the form; nothing is deleted.
    browser.click("#confirm_name").await;
    browser.type_text("order\n").await;
    browser
        .wait_until("the refusal", "document.querySelector('#delete-error')")
        .await;
    browser.page("orders", "delete-refused").await;
    assert_eq!(application(&server, &id).await["name"], "orders");

    browser.click("#confirm_name").await;
    browser.type_text("orders").await;
    browser.click("form.danger button[type=submit]").await;
    browser
        .wait_until(
            "the list without it",
            "document.querySelector('p.total')?.textContent === '1 applications, showing 1 to 1.'",
        )
        .await;
    browser.page("Applications", "after-delete").await;
    assert!(!browser.application_ids().await.contains(&id));
    assert!(application(&server, &id).await.is_null());
    browser.finish().await;
}

on_both_backends!(
    an_apis_spec_is_outlined_and_shown_raw,
    register_with_the_keyboard_then_see_it_in_the_list_and_its_detail,
    page_through_more_than_a_hundred_and_filter_by_label,
    delete_with_the_name_typed,
);
