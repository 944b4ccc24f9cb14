//! Applications in the console: register, list, filter, paginate, detail, delete; scopes
//! and tenants as the Director's.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::{ApplicationId, ApplicationStatusCondition, TenantId};
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, TestServer, application_count, register};

async fn register_then_see_it_in_the_list_and_its_detail(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let form = browser.get("/console/applications/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();

    let page = browser
        .post(
            "/console/applications",
            &[
                ("csrf", &csrf),
                ("name", "orders"),
                ("provider", "acme"),
                ("description", "Order intake"),
                ("labels", "env=prod\nscenarios=[\"DEFAULT\"]"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    let id = location.strip_prefix("/console/applications/").unwrap();
    let stored = server
        .director(
            "query($id: ID!) { application(id: $id) { name providerName description labels } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stored["application"]["name"], "orders");
    assert_eq!(stored["application"]["labels"]["env"], "prod");
    assert_eq!(
        stored["application"]["labels"]["scenarios"],
        json!(["DEFAULT"])
    );

    let detail = browser.get(&location).await;
    assert_eq!(detail.status, StatusCode::OK);
    for shown in ["orders", "acme", "Order intake", "env", "prod", "DEFAULT"] {
        assert!(detail.body.contains(shown), "{shown} in {}", detail.body);
    }
    assert!(detail.body.contains("Delete the application"));

    let list = browser.get("/console/applications").await;
    assert_eq!(list.application_ids(), vec![id.to_owned()]);
    assert!(list.body.contains("Register an application"));
    let dashboard = browser.get("/console/").await;
    assert!(dashboard.body.contains("id=\"application-count\">1<"));
}

async fn a_refused_registration_shows_why_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    register(&server, "taken", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;

    let page = browser
        .post(
            "/console/applications",
            &[("csrf", &csrf), ("name", "taken"), ("provider", "acme")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"register-error\""), "{}", page.body);
    // The form keeps what was typed.
    assert_eq!(page.input("name").as_deref(), Some("taken"));

    let page = browser
        .post(
            "/console/applications",
            &[
                ("csrf", &csrf),
                ("name", "Not A Name!"),
                ("provider", "acme"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("register-error"));

    let page = browser
        .post(
            "/console/applications",
            &[
                ("csrf", &csrf),
                ("name", "fine"),
                ("provider", "acme"),
                ("labels", "no-equals"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(application_count(&server).await, 1);
}

async fn a_session_without_write_scope_sees_no_write_action_and_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let mut browser = Browser::signed_in(
        &server,
        &[TenantId::DEFAULT],
        "application:read runtime:read",
    )
    .await;

    let list = browser.get("/console/applications").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.application_ids(), vec![id.clone()]);
    assert!(!list.body.contains("Register an application"));
    assert!(!list.body.contains("/console/applications/new"));
    let detail = browser.get(&format!("/console/applications/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("/delete"));
    assert_eq!(
        browser.get("/console/applications/new").await.status,
        StatusCode::FORBIDDEN
    );

    // Forged POSTs, with the session's own CSRF token: the Director refuses them.
    let csrf = detail.csrf();
    let page = browser
        .post(
            "/console/applications",
            &[("csrf", &csrf), ("name", "forged"), ("provider", "acme")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("insufficient scopes"), "{}", page.body);
    let page = browser
        .post(
            &format!("/console/applications/{id}/delete"),
            &[("csrf", &csrf), ("confirm_name", "orders")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(application_count(&server).await, 1);

    // Without application:read, the list shows the Director's refusal and nothing else.
    let mut blind = Browser::signed_in(&server, &[TenantId::DEFAULT], "runtime:read").await;
    let list = blind.get("/console/applications").await;
    assert!(list.application_ids().is_empty());
    assert!(list.body.contains("insufficient scopes"));
    assert!(
        !blind
            .get("/console/")
            .await
            .body
            .contains("Applications</a></li>")
    );
}

async fn another_tenants_application_is_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let other = TenantId(uuid::Uuid::new_v4());
    let mut browser = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = browser.csrf().await;

    let page = browser.get(&format!("/console/applications/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = browser
        .post(
            &format!("/console/applications/{id}/delete"),
            &[("csrf", &csrf), ("confirm_name", "orders")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        browser
            .get("/console/applications")
            .await
            .application_ids()
            .is_empty()
    );
    assert_eq!(
        browser.get("/console/applications/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(application_count(&server).await, 1);
}

async fn deleting_requires_the_typed_name(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register(&server, "orders", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let path = format!("/console/applications/{id}/delete");

    for typed in ["", "order", "ORDERS"] {
        let page = browser
            .post(&path, &[("csrf", &csrf), ("confirm_name", typed)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        assert!(page.body.contains("id=\"delete-error\""));
    }
    assert_eq!(application_count(&server).await, 1);

    let page = browser
        .post(&path, &[("csrf", &csrf), ("confirm_name", "orders")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/console/applications"));
    assert_eq!(application_count(&server).await, 0);
    assert_eq!(
        browser
            .get(&format!("/console/applications/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn the_list_pages_through_every_application_once_and_filters_by_label(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut all = HashSet::new();
    for i in 0..120 {
        let env = if i % 3 == 0 { "prod" } else { "dev" };
        all.insert(register(&server, &format!("app-{i:03}"), json!({"env": env})).await);
    }
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;

    // Forward through every page: each application exactly once.
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = "/console/applications".to_owned();
    loop {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("120 applications"));
        seen.extend(page.application_ids());
        pages.push((path.clone(), page.application_ids()));
        match page.rel("next") {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages.len() < 10, "the pages do not end");
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);

    // And back: each "previous" shows the page before.
    let last = browser.get(&pages[2].0).await;
    let previous = browser.get(&last.rel("prev").unwrap()).await;
    assert_eq!(previous.application_ids(), pages[1].1);
    let first = browser.get(&previous.rel("prev").unwrap()).await;
    assert_eq!(first.application_ids(), pages[0].1);
    assert!(first.rel("prev").is_none());

    // A label filter, through the Director's `filter`.
    let prod = browser.get("/console/applications?label=env%3Dprod").await;
    assert_eq!(prod.status, StatusCode::OK);
    assert_eq!(prod.application_ids().len(), 40);
    assert!(prod.body.contains("40 applications"));
    assert!(prod.rel("next").is_none());
    let with_env = browser.get("/console/applications?label=env").await;
    assert!(with_env.body.contains("120 applications"));
    let next = with_env.rel("next").unwrap();
    assert!(next.contains("label=env"), "{next}");
    let none = browser
        .get("/console/applications?label=env%3Dstaging")
        .await;
    assert!(none.application_ids().is_empty());

    // Rows per page, kept by the links with the filter; anything else is refused.
    let (seen, pages) = walk(&mut browser, "/console/applications?rows=100&label=env").await;
    assert_eq!((seen.len(), pages), (120, 2));
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    let (seen, pages) = walk(&mut browser, "/console/applications?rows=20").await;
    assert_eq!((seen.len(), pages), (120, 6));
    let page = browser.get("/console/applications?rows=10").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("A page cannot show"), "{}", page.body);
    assert!(page.application_ids().is_empty());
}

/// Marks applications READY in the store (the Director registers them INITIAL and no
/// mutation changes an application's status).
async fn make_ready(server: &TestServer, ids: &[String]) {
    let mut tx = server.server().store.write().await.unwrap();
    for id in ids {
        let id = ApplicationId::from_untyped(uuid::Uuid::parse_str(id).unwrap());
        let mut app = tx
            .application(TenantId::DEFAULT, id)
            .await
            .unwrap()
            .unwrap();
        app.status_condition = ApplicationStatusCondition::Ready;
        assert!(tx.update_application(&app).await.unwrap());
    }
    tx.commit().await.unwrap();
}

/// Every page of the list from `path` on: the ids in order, and how many pages.
async fn walk(browser: &mut Browser, path: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = path.to_owned();
    loop {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        seen.extend(page.application_ids());
        pages += 1;
        match page.rel("next") {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages < 20, "the pages do not end");
    }
    (seen, pages)
}

async fn statements_of(server: &TestServer, browser: &mut Browser, path: &str) -> u64 {
    let before = server.server().store.statements().get();
    let page = browser.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    server.server().store.statements().get() - before
}

async fn search_by_name_label_and_status_together_past_a_hundred(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut names = std::collections::HashMap::new();
    for i in 0..225 {
        let name = if i < 210 {
            format!("shop-{i:03}")
        } else {
            format!("other-{i:03}")
        };
        let env = if i % 2 == 0 { "prod" } else { "dev" };
        let id = register(&server, &name, json!({"env": env})).await;
        names.insert(id, (name, env));
    }
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;

    // The start of the name, in any letter case, with a label: 105 of the shops are prod,
    // more than the Director's largest page, all reachable page by page.
    let (seen, pages) = walk(
        &mut browser,
        "/console/applications?q=SHOP&label=env%3Dprod",
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 105);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 105);
    for id in &seen {
        let (name, env) = &names[id];
        assert!(name.starts_with("shop-") && *env == "prod", "{name} {env}");
    }
    let first = browser
        .get("/console/applications?q=shop&label=env%3Dprod")
        .await;
    assert!(
        first.body.contains("105 applications match"),
        "{}",
        first.body
    );
    // The links keep the search.
    let next = first.rel("next").unwrap();
    assert!(
        next.contains("q=shop") && next.contains("label=env%3Dprod"),
        "{next}"
    );

    // A longer prefix narrows; one matching nothing shows nothing.
    let (seen, _) = walk(&mut browser, "/console/applications?q=shop-20").await;
    assert_eq!(seen.len(), 10);
    let (seen, _) = walk(&mut browser, "/console/applications?q=nothing").await;
    assert!(seen.is_empty());

    // Status, with the name and the label.
    let ready: Vec<String> = names
        .iter()
        .filter(|(_, (name, env))| name.starts_with("shop-") && *env == "prod")
        .map(|(id, _)| id.clone())
        .take(3)
        .chain(
            names
                .iter()
                .filter(|(_, (name, _))| name.starts_with("other-"))
                .map(|(id, _)| id.clone())
                .take(2),
        )
        .collect();
    make_ready(&server, &ready).await;
    let (seen, _) = walk(
        &mut browser,
        "/console/applications?q=shop&label=env%3Dprod&status=READY",
    )
    .await;
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        ready[..3].iter().collect::<HashSet<_>>()
    );
    let (seen, pages) = walk(&mut browser, "/console/applications?status=INITIAL").await;
    assert_eq!((seen.len(), pages), (220, 5));
    let (seen, _) = walk(&mut browser, "/console/applications?status=READY").await;
    assert_eq!(seen.len(), 5);
    let (seen, _) = walk(&mut browser, "/console/applications?status=FAILED").await;
    assert!(seen.is_empty());

    // Bad input: a clear error, no list.
    let page = browser.get("/console/applications?status=SLEEPING").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("There is no status"), "{}", page.body);
    assert!(page.application_ids().is_empty());
    let page = browser
        .get(&format!("/console/applications?q={}", "a".repeat(37)))
        .await;
    assert_ne!(page.status, StatusCode::OK);
    assert!(page.body.contains("namePrefix"), "{}", page.body);

    // A page of 100 or 50 costs what a page of 5 does, and a search what the whole list does.
    let full = statements_of(
        &server,
        &mut browser,
        "/console/applications?q=shop&label=env%3Dprod&status=INITIAL",
    )
    .await;
    let few = statements_of(
        &server,
        &mut browser,
        "/console/applications?q=other&label=env%3Dprod&status=INITIAL",
    )
    .await;
    assert_eq!(full, few, "statements grow with the page");
    let hundred = statements_of(
        &server,
        &mut browser,
        "/console/applications?status=INITIAL&rows=100",
    )
    .await;
    assert_eq!(hundred, few, "statements grow with the page");
    let plain = statements_of(&server, &mut browser, "/console/applications?label=env").await;
    let after = statements_of(&server, &mut browser, &first.rel("next").unwrap()).await;
    assert_eq!(plain, after);
}

on_both_backends!(
    search_by_name_label_and_status_together_past_a_hundred,
    register_then_see_it_in_the_list_and_its_detail,
    a_refused_registration_shows_why_and_changes_nothing,
    a_session_without_write_scope_sees_no_write_action_and_is_refused,
    another_tenants_application_is_not_found,
    deleting_requires_the_typed_name,
    the_list_pages_through_every_application_once_and_filters_by_label,
);
