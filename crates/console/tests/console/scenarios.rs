//! Scenarios in the console: the list with counts (in statements that do not grow with the
//! scenarios), a scenario's members and graph, assigning and unassigning, creating and
//! removing; scopes and tenants as the Director's.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, Page, TestServer, defined_scenarios, register, register_runtime,
    scenarios_of,
};

/// The applications and runtimes counts the list shows for `scenario`.
fn counts(page: &Page, scenario: &str) -> (String, String) {
    let marker = format!("class=\"scenario\" href=\"/console/scenarios/{scenario}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("{scenario} in {}", page.body));
    let cell = |class: &str| {
        let marker = format!("class=\"{class}\">");
        let start = at + page.body[at..].find(&marker).unwrap() + marker.len();
        let end = start + page.body[start..].find('<').unwrap();
        page.body[start..end].to_owned()
    };
    (cell("applications"), cell("runtimes"))
}

async fn statements_of(server: &TestServer, browser: &mut Browser, path: &str) -> u64 {
    let before = server.server().store.statements().get();
    let page = browser.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    server.server().store.statements().get() - before
}

async fn the_list_counts_members_in_statements_that_do_not_grow(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    register(
        &server,
        "both",
        json!({"scenarios": ["DEFAULT", "billing"]}),
    )
    .await;
    register(&server, "plain", json!({})).await;
    register_runtime(&server, "edge", json!({"scenarios": ["billing"]})).await;
    register_runtime(&server, "bare", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let list = browser.get("/console/scenarios").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(counts(&list, "billing"), ("1".into(), "1".into()));
    assert_eq!(counts(&list, "DEFAULT"), ("2".into(), "0".into()));
    let few = statements_of(&server, &mut browser, "/console/scenarios").await;
    let detail_few = statements_of(&server, &mut browser, "/console/scenarios/billing").await;

    // More than a page of the Director's (100) in billing, and more scenarios.
    for i in 0..105 {
        register(
            &server,
            &format!("app-{i:03}"),
            json!({"scenarios": ["billing"]}),
        )
        .await;
    }
    let list = browser.get("/console/scenarios").await;
    assert_eq!(counts(&list, "billing"), ("106".into(), "1".into()));
    assert_eq!(
        statements_of(&server, &mut browser, "/console/scenarios").await,
        few
    );
    let many: Vec<String> = (0..12).map(|i| format!("extra{i}")).collect();
    let mut all = vec!["DEFAULT", "billing"];
    all.extend(many.iter().map(String::as_str));
    server.define_scenarios(&all).await;
    let list = browser.get("/console/scenarios").await;
    assert_eq!(counts(&list, "extra7"), ("0".into(), "0".into()));
    assert_eq!(counts(&list, "billing"), ("106".into(), "1".into()));
    assert_eq!(
        statements_of(&server, &mut browser, "/console/scenarios").await,
        few,
        "statements grow with the objects or the scenarios"
    );

    // The detail pages through the 106 applications, forward and back.
    let first = browser.get("/console/scenarios/billing").await;
    assert_eq!(first.status, StatusCode::OK);
    // The graph draws the whole scenario up to 100 of each kind, whatever page the lists
    // show, and says how many it leaves out; its statements do not grow with the members.
    assert_eq!(first.body.matches("<a class=\"app\"").count(), 100);
    assert_eq!(first.body.matches("<a class=\"runtime\"").count(), 1);
    assert_eq!(
        first.text_of("graph-left-out").unwrap(),
        "6 applications and 0 runtimes are left out"
    );
    assert_eq!(
        statements_of(&server, &mut browser, "/console/scenarios/billing").await,
        detail_few,
        "the detail's statements grow with the members"
    );
    assert!(first.body.contains("Applications (106)"));
    assert!(first.body.contains("Runtimes (1)"));
    let first_ids = first.linked("member-application", "/console/applications/");
    assert_eq!(first_ids.len(), 50);
    let second = browser.get(&first.rel("next-applications").unwrap()).await;
    let second_ids = second.linked("member-application", "/console/applications/");
    assert_eq!(second_ids.len(), 50);
    assert!(second.body.contains("Showing 51 to 100"));
    let third = browser.get(&second.rel("next-applications").unwrap()).await;
    assert_eq!(
        third
            .linked("member-application", "/console/applications/")
            .len(),
        6
    );
    assert!(third.rel("next-applications").is_none());
    let back = browser.get(&third.rel("prev-applications").unwrap()).await;
    assert_eq!(
        back.linked("member-application", "/console/applications/"),
        second_ids
    );
    let mut seen: Vec<String> = first_ids.into_iter().chain(second_ids).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100);
}

async fn assign_unassign_and_see_the_graph(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let orders = register(&server, "orders", json!({"scenarios": ["billing"]})).await;
    let invoices = register(&server, "invoices", json!({"scenarios": ["DEFAULT"]})).await;
    let edge = register_runtime(&server, "edge", json!({"scenarios": ["billing"]})).await;
    let bare = register_runtime(&server, "bare", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;

    let detail = browser.get("/console/scenarios/billing").await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        detail.linked("member-application", "/console/applications/"),
        vec![orders.clone()]
    );
    assert_eq!(
        detail.linked("member-runtime", "/console/runtimes/"),
        vec![edge.clone()]
    );
    // The graph: one node per member, an edge from each through the scenario.
    assert!(detail.body.contains("<svg"));
    assert_eq!(detail.body.matches("<line class=\"edge\"").count(), 2);
    assert!(!detail.body.contains("graph-left-out"));
    assert!(detail.body.contains(&format!(
        "<a class=\"app\" href=\"/console/applications/{orders}\">"
    )));
    let csrf = detail.csrf();

    // Assign an application and a runtime.
    let assign = "/console/scenarios/billing/assign";
    let page = browser
        .post(
            assign,
            &[("csrf", &csrf), ("kind", "application"), ("id", &invoices)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/console/scenarios/billing"));
    assert_eq!(
        scenarios_of(&server, "application", &invoices).await,
        json!(["DEFAULT", "billing"])
    );
    let page = browser
        .post(
            assign,
            &[("csrf", &csrf), ("kind", "runtime"), ("id", &bare)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        scenarios_of(&server, "runtime", &bare).await,
        json!(["billing"])
    );
    let detail = browser.get("/console/scenarios/billing").await;
    assert_eq!(detail.body.matches("<line class=\"edge\"").count(), 4);

    // Unassign: the runtime's last scenario takes its label away.
    let unassign = "/console/scenarios/billing/unassign";
    let page = browser
        .post(
            unassign,
            &[("csrf", &csrf), ("kind", "runtime"), ("id", &bare)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(scenarios_of(&server, "runtime", &bare).await, Value::Null);
    let page = browser
        .post(
            unassign,
            &[("csrf", &csrf), ("kind", "application"), ("id", &invoices)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        scenarios_of(&server, "application", &invoices).await,
        json!(["DEFAULT"])
    );

    // An application keeps at least one scenario: the Director's refusal, nothing changed.
    let page = browser
        .post(
            unassign,
            &[("csrf", &csrf), ("kind", "application"), ("id", &orders)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"unassign-error\""));
    assert_eq!(
        scenarios_of(&server, "application", &orders).await,
        json!(["billing"])
    );

    // An unknown object: beside the form, 404, nothing changed.
    let missing = uuid::Uuid::new_v4().to_string();
    let page = browser
        .post(
            assign,
            &[("csrf", &csrf), ("kind", "application"), ("id", &missing)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("id=\"assign-error\""));
    assert!(
        page.body
            .contains(&format!("id=\"assign-id\" name=\"id\" value=\"{missing}\"")),
        "{}",
        page.body
    );
    assert_eq!(
        scenarios_of(&server, "runtime", &edge).await,
        json!(["billing"])
    );
    assert_eq!(
        browser.get("/console/scenarios/nothing").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn create_and_remove_scenarios(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    register_runtime(&server, "edge", json!({"scenarios": ["billing"]})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let list = browser.get("/console/scenarios").await;
    assert!(list.body.contains("Create a scenario"));
    let csrf = list.csrf();

    let page = browser
        .post(
            "/console/scenarios",
            &[("csrf", &csrf), ("name", "customer portal")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        Some("/console/scenarios/customer%20portal")
    );
    assert_eq!(
        defined_scenarios(&server).await,
        vec!["DEFAULT", "billing", "customer portal"]
    );
    let detail = browser.get("/console/scenarios/customer%20portal").await;
    assert_eq!(detail.status, StatusCode::OK);

    // A duplicate: beside the form, nothing changed.
    let page = browser
        .post(
            "/console/scenarios",
            &[("csrf", &csrf), ("name", "billing")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"create-error\""));
    assert_eq!(page.input("name").as_deref(), Some("billing"));
    assert_eq!(defined_scenarios(&server).await.len(), 3);

    // Removing one in use: the Director refuses, nothing changed.
    let page = browser
        .post(
            "/console/scenarios/billing/delete",
            &[("csrf", &csrf), ("confirm_name", "billing")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.text_of("delete-error")
            .unwrap()
            .contains("not valid against new schema"),
        "{}",
        page.body
    );
    assert_eq!(defined_scenarios(&server).await.len(), 3);

    // Removing an unused one, the name typed.
    let path = "/console/scenarios/customer%20portal/delete";
    let page = browser
        .post(path, &[("csrf", &csrf), ("confirm_name", "customer")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = browser
        .post(
            path,
            &[("csrf", &csrf), ("confirm_name", "customer portal")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(defined_scenarios(&server).await, vec!["DEFAULT", "billing"]);
    assert_eq!(
        browser
            .get("/console/scenarios/customer%20portal")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn scenarios_follow_scopes_and_tenants(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let orders = register(&server, "orders", json!({"scenarios": ["DEFAULT"]})).await;
    let edge = register_runtime(&server, "edge", json!({"scenarios": ["billing"]})).await;

    let mut reader = Browser::signed_in(
        &server,
        &[TenantId::DEFAULT],
        "label_definition:read application:read runtime:read",
    )
    .await;
    let list = reader.get("/console/scenarios").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(counts(&list, "billing"), ("0".into(), "1".into()));
    assert!(!list.body.contains("Create a scenario"));
    let detail = reader.get("/console/scenarios/billing").await;
    assert_eq!(detail.status, StatusCode::OK);
    for action in ["/assign", "/unassign", "/delete"] {
        assert!(!detail.body.contains(action), "{action}");
    }
    let csrf = detail.csrf();
    let forged = [
        ("/console/scenarios", vec![("name", "forged")]),
        (
            "/console/scenarios/billing/assign",
            vec![("kind", "application"), ("id", orders.as_str())],
        ),
        (
            "/console/scenarios/billing/unassign",
            vec![("kind", "runtime"), ("id", edge.as_str())],
        ),
        (
            "/console/scenarios/billing/delete",
            vec![("confirm_name", "billing")],
        ),
    ];
    for (path, fields) in &forged {
        let mut fields = fields.clone();
        fields.push(("csrf", csrf.as_str()));
        let page = reader.post(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    assert_eq!(defined_scenarios(&server).await, vec!["DEFAULT", "billing"]);
    assert_eq!(
        scenarios_of(&server, "application", &orders).await,
        json!(["DEFAULT"])
    );
    assert_eq!(
        scenarios_of(&server, "runtime", &edge).await,
        json!(["billing"])
    );

    // Without the label definitions' read scope there is no list to show.
    let mut blind = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let list = blind.get("/console/scenarios").await;
    assert!(list.body.contains("insufficient scopes"));
    assert!(!list.body.contains("class=\"scenario\""));

    // Another tenant has no billing scenario and cannot reach this tenant's objects.
    let other = TenantId(uuid::Uuid::new_v4());
    let mut stranger = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = stranger.csrf().await;
    assert_eq!(
        stranger.get("/console/scenarios/billing").await.status,
        StatusCode::NOT_FOUND
    );
    let page = stranger
        .post(
            "/console/scenarios/billing/assign",
            &[("csrf", &csrf), ("kind", "application"), ("id", &orders)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(
            "/console/scenarios/DEFAULT/unassign",
            &[("csrf", &csrf), ("kind", "application"), ("id", &orders)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    let page = stranger
        .post(
            "/console/scenarios/DEFAULT/assign",
            &[("csrf", &csrf), ("kind", "runtime"), ("id", &edge)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    assert_eq!(
        scenarios_of(&server, "application", &orders).await,
        json!(["DEFAULT"])
    );
    assert_eq!(
        scenarios_of(&server, "runtime", &edge).await,
        json!(["billing"])
    );
}

on_both_backends!(
    the_list_counts_members_in_statements_that_do_not_grow,
    assign_unassign_and_see_the_graph,
    create_and_remove_scenarios,
    scenarios_follow_scopes_and_tenants,
);
