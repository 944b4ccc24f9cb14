//! Runtimes in the console: the list (paging past 100, the label filter), the detail (labels
//! edited against their definitions, scenarios, the applications it sees, the kinds of
//! credentials it holds), deletion, and the Provisioner's actions with their operation's
//! progress; scopes, CSRF and tenants as everywhere.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, Page, SilentAgent, TestServer, last_operation, provisioner,
    register_runtime, runtime_count,
};

/// How long the silent agent's operations wait for it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn runtime_ids(page: &Page) -> Vec<String> {
    page.linked("runtime", "/console/runtimes/")
}

/// The runtime's labels, as the administrator's GraphQL says.
async fn labels_of(server: &TestServer, id: &str) -> Value {
    server
        .director(
            "query($id: ID!) { runtime(id: $id) { labels } }",
            json!({"id": id}),
        )
        .await["runtime"]["labels"]
        .clone()
}

async fn the_list_pages_through_every_runtime_once_and_filters_by_label(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut all = HashSet::new();
    for i in 0..120 {
        let env = if i % 3 == 0 { "prod" } else { "dev" };
        all.insert(register_runtime(&server, &format!("rt-{i:03}"), json!({"env": env})).await);
    }
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let dashboard = browser.get("/console/").await;
    assert!(
        dashboard
            .body
            .contains("<a href=\"/console/runtimes\">Runtimes</a>")
    );

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = "/console/runtimes".to_owned();
    loop {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("120 runtimes"), "{}", page.body);
        seen.extend(runtime_ids(&page));
        pages.push((path.clone(), runtime_ids(&page)));
        match page.rel("next") {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages.len() < 10, "the pages do not end");
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    assert!(pages[2].0.contains("trail="), "{}", pages[2].0);

    let last = browser.get(&pages[2].0).await;
    let previous = browser.get(&last.rel("prev").unwrap()).await;
    assert_eq!(runtime_ids(&previous), pages[1].1);
    let first = browser.get(&previous.rel("prev").unwrap()).await;
    assert_eq!(runtime_ids(&first), pages[0].1);
    assert!(first.rel("prev").is_none());

    let prod = browser.get("/console/runtimes?label=env%3Dprod").await;
    assert_eq!(prod.status, StatusCode::OK);
    assert_eq!(runtime_ids(&prod).len(), 40);
    assert!(prod.body.contains("40 runtimes"));
    assert!(prod.rel("next").is_none());
    let with_env = browser.get("/console/runtimes?label=env").await;
    assert!(with_env.body.contains("120 runtimes"));
    let next = with_env.rel("next").unwrap();
    assert!(next.contains("label=env"), "{next}");
    let second = browser.get(&next).await;
    assert_eq!(runtime_ids(&second).len(), 50);
    assert!(second.body.contains("showing 51 to 100"));
    let none = browser.get("/console/runtimes?label=env%3Dstaging").await;
    assert!(runtime_ids(&none).is_empty());

    // Rows per page: 100 and 20, kept by the links; anything else is refused.
    let hundred = browser.get("/console/runtimes?rows=100").await;
    assert_eq!(runtime_ids(&hundred).len(), 100);
    assert!(
        hundred.body.contains("showing 1 to 100"),
        "{}",
        hundred.body
    );
    assert!(hundred.body.contains("<option value=\"100\" selected>"));
    let next = hundred.rel("next").unwrap();
    assert!(next.contains("rows=100"), "{next}");
    let rest = browser.get(&next).await;
    assert_eq!(runtime_ids(&rest).len(), 20);
    assert!(rest.body.contains("showing 101 to 120"), "{}", rest.body);
    let back = browser.get(&rest.rel("prev").unwrap()).await;
    assert_eq!(runtime_ids(&back), runtime_ids(&hundred));
    let (seen, pages) = walk(&mut browser, "/console/runtimes?rows=20&label=env").await;
    assert_eq!((seen.len(), pages), (120, 6));
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    for rows in ["7", "1000", "many", "-50"] {
        let page = browser.get(&format!("/console/runtimes?rows={rows}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{rows}");
        assert!(
            page.body.contains("A page cannot show") && page.body.contains("choose 20, 50, 100."),
            "{}",
            page.body
        );
        assert!(runtime_ids(&page).is_empty());
    }
}

/// Every page of the list from `path` on: the ids in order, and how many pages.
async fn walk(browser: &mut Browser, path: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = path.to_owned();
    loop {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        seen.extend(runtime_ids(&page));
        pages += 1;
        match page.rel("next") {
            Some(next) => path = next,
            None => break,
        }
        assert!(pages < 20, "the pages do not end");
    }
    (seen, pages)
}

async fn search_by_name_label_and_status_together(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut names = std::collections::HashMap::new();
    for i in 0..130 {
        let name = if i < 120 {
            format!("shop-{i:03}")
        } else {
            format!("other-{i:03}")
        };
        let env = if i % 2 == 0 { "prod" } else { "dev" };
        let id = register_runtime(&server, &name, json!({"env": env})).await;
        names.insert(id, (name, env));
    }
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;

    // The start of the name, in any letter case, with a label, page by page.
    let (seen, pages) = walk(&mut browser, "/console/runtimes?q=SHOP&label=env%3Dprod").await;
    assert_eq!((seen.len(), pages), (60, 2));
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 60);
    for id in &seen {
        let (name, env) = &names[id];
        assert!(name.starts_with("shop-") && *env == "prod", "{name} {env}");
    }
    let first = browser
        .get("/console/runtimes?q=shop&label=env%3Dprod")
        .await;
    assert!(first.body.contains("60 runtimes match"), "{}", first.body);
    let next = first.rel("next").unwrap();
    assert!(
        next.contains("q=shop") && next.contains("label=env%3Dprod"),
        "{next}"
    );
    let (seen, _) = walk(&mut browser, "/console/runtimes?q=shop-10").await;
    assert_eq!(seen.len(), 10);
    let (seen, _) = walk(&mut browser, "/console/runtimes?q=nothing").await;
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
    for id in &ready {
        server
            .director(
                "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
                json!({"id": id}),
            )
            .await;
    }
    let (seen, _) = walk(
        &mut browser,
        "/console/runtimes?q=shop&label=env%3Dprod&status=READY",
    )
    .await;
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        ready[..3].iter().collect::<HashSet<_>>()
    );
    let (seen, pages) = walk(&mut browser, "/console/runtimes?status=INITIAL").await;
    assert_eq!((seen.len(), pages), (125, 3));
    let (seen, _) = walk(&mut browser, "/console/runtimes?status=READY").await;
    assert_eq!(seen.len(), 5);
    let (seen, _) = walk(&mut browser, "/console/runtimes?status=FAILED").await;
    assert!(seen.is_empty());

    // Bad input: a clear error, no list.
    let page = browser.get("/console/runtimes?status=UNKNOWN").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("There is no status"), "{}", page.body);
    assert!(runtime_ids(&page).is_empty());
    let page = browser
        .get(&format!("/console/runtimes?q={}", "a".repeat(37)))
        .await;
    assert_ne!(page.status, StatusCode::OK);
    assert!(page.body.contains("namePrefix"), "{}", page.body);

    // A page of 100 or 50 costs what a page of 10 does. The server's background tasks (the
    // notifier's polls) count too: the least of three is the page's own.
    let statements_of = async |browser: &mut Browser, path: &str| {
        let mut least = u64::MAX;
        for _ in 0..3 {
            let before = server.server().store.statements().get();
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            least = least.min(server.server().store.statements().get() - before);
        }
        least
    };
    let full = statements_of(&mut browser, "/console/runtimes?q=shop&status=INITIAL").await;
    let few = statements_of(&mut browser, "/console/runtimes?q=other&status=INITIAL").await;
    assert_eq!(full, few, "statements grow with the page");
    let hundred = statements_of(&mut browser, "/console/runtimes?status=INITIAL&rows=100").await;
    assert_eq!(hundred, few, "statements grow with the page");
}

async fn the_detail_shows_scenarios_applications_and_only_the_kinds_of_credentials(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let runtime = register_runtime(
        &server,
        "edge",
        json!({"scenarios": ["billing"], "env": "prod"}),
    )
    .await;
    let app = server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { \
             id apiDefinitions { data { id name } } } }",
            json!({"in": {
                "name": "orders", "providerName": "acme", "labels": {"scenarios": ["billing"]},
                "apiDefinitions": [
                    {"name": "orders-api", "targetURL": "https://orders.example/api",
                     "defaultAuth": {"credential": {"basic": {"username": "svc", "password": "basic-secret-0451"}}}},
                    {"name": "open-api", "targetURL": "https://orders.example/open"},
                    {"name": "own-api", "targetURL": "https://orders.example/own"},
                ],
            }}),
        )
        .await["registerApplication"]
        .clone();
    let own_api = app["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "own-api")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .director(
            "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { \
             setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
            json!({"api": own_api, "rt": runtime, "in": {"credential": {"oauth": {
                "clientId": "rt-client", "clientSecret": "oauth-secret-0451",
                "url": "https://auth.example/token"}}}}),
        )
        .await;
    crate::helpers::register(&server, "unseen", json!({"scenarios": ["DEFAULT"]})).await;
    let own = server
        .director(
            "mutation($id: ID!) { requestClientCredentialsForRuntime(id: $id) { \
             id auth { credential { ... on OAuthCredentialData { clientSecret } } } } }",
            json!({"id": runtime}),
        )
        .await["requestClientCredentialsForRuntime"]
        .clone();
    let own_secret = own["auth"]["credential"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!own_secret.is_empty());

    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let list = browser.get("/console/runtimes").await;
    assert_eq!(runtime_ids(&list), vec![runtime.clone()]);
    assert!(list.body.contains("Provision a runtime"));
    let detail = browser.get(&format!("/console/runtimes/{runtime}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(detail.text_of("runtime-status").as_deref(), Some("INITIAL"));
    assert!(detail.body.contains("href=\"/console/scenarios/billing\""));
    assert_eq!(
        detail.linked("runtime-application", "/console/applications/"),
        vec![app["id"].as_str().unwrap().to_owned()]
    );
    assert!(!detail.body.contains("unseen"));
    for shown in [
        "orders-api",
        "Basic (user name and password)",
        "open-api",
        "own-api",
        "OAuth 2.0 client credentials",
        own["id"].as_str().unwrap(),
    ] {
        assert!(detail.body.contains(shown), "{shown} in {}", detail.body);
    }
    for secret in [
        "basic-secret-0451",
        "oauth-secret-0451",
        own_secret.as_str(),
    ] {
        assert!(!detail.body.contains(secret), "a secret on the page");
    }
    // Registered through the Director: no Provisioner actions, a deletion instead.
    assert!(
        detail
            .body
            .contains("The Provisioner did not provision this runtime")
    );
    assert!(!detail.body.contains("/deprovision\""));
    assert!(detail.body.contains("Delete the runtime"));
}

async fn a_label_edit_is_checked_against_its_definition_and_refused_beside_the_field(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    server
        .director(
            "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }",
            json!({"in": {"key": "size", "schema": json!({"type": "integer", "maximum": 10}).to_string()}}),
        )
        .await;
    let runtime = register_runtime(&server, "edge", json!({"size": 3, "env": "prod"})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let path = format!("/console/runtimes/{runtime}");
    let detail = browser.get(&path).await;
    let csrf = detail.csrf();
    assert!(detail.body.contains("value=\"3\""), "{}", detail.body);
    let labels = format!("{path}/labels");

    // Refused by the definition: the error beside the field, what was typed kept.
    let page = browser
        .post(
            &labels,
            &[
                ("csrf", &csrf),
                ("origin", "row"),
                ("key", "size"),
                ("value", "big"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let field = page
        .body
        .find("value=\"big\"")
        .expect("the typed value kept");
    let error = page.body.find("id=\"label-error\"").expect("the error");
    assert!(error > field, "the error follows its field");
    assert!(page.body.contains("aria-describedby=\"label-error\""));
    assert_eq!(labels_of(&server, &runtime).await["size"], 3);
    let page = browser
        .post(
            &labels,
            &[
                ("csrf", &csrf),
                ("origin", "row"),
                ("key", "size"),
                ("value", "11"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"label-error\""));

    // Accepted: typed as JSON.
    let page = browser
        .post(
            &labels,
            &[
                ("csrf", &csrf),
                ("origin", "row"),
                ("key", "size"),
                ("value", "7"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some(format!("{path}#labels").as_str()));
    assert_eq!(labels_of(&server, &runtime).await["size"], 7);

    // A new label, refused beside the form that adds it, then added.
    let page = browser
        .post(
            &labels,
            &[
                ("csrf", &csrf),
                ("origin", "new"),
                ("key", ""),
                ("value", "x"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"new-label-error\""));
    let page = browser
        .post(
            &labels,
            &[
                ("csrf", &csrf),
                ("origin", "new"),
                ("key", "team"),
                ("value", "[\"a\",\"b\"]"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        labels_of(&server, &runtime).await["team"],
        json!(["a", "b"])
    );

    // Removed.
    let page = browser
        .post(
            &format!("{labels}/delete"),
            &[("csrf", &csrf), ("key", "env")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(labels_of(&server, &runtime).await["env"].is_null());
}

async fn deleting_requires_the_typed_name(backend: Backend) {
    let server = TestServer::start(backend).await;
    let runtime = register_runtime(&server, "edge", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let path = format!("/console/runtimes/{runtime}/delete");
    for typed in ["", "edg", "EDGE"] {
        let page = browser
            .post(&path, &[("csrf", &csrf), ("confirm_name", typed)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        assert!(page.body.contains("id=\"delete-error\""));
    }
    assert_eq!(runtime_count(&server).await, 1);
    let page = browser
        .post(&path, &[("csrf", &csrf), ("confirm_name", "edge")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/console/runtimes"));
    assert_eq!(runtime_count(&server).await, 0);
    assert_eq!(
        browser
            .get(&format!("/console/runtimes/{runtime}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Every action form of a runtime's page, with the fields a person would fill in.
fn action_forms<'a>(runtime: &str, name: &'a str) -> Vec<(String, Vec<(&'static str, &'a str)>)> {
    vec![
        (
            "/console/runtimes".into(),
            vec![("name", "forged"), ("gateway_allow_private", "on")],
        ),
        (
            format!("/console/runtimes/{runtime}/labels"),
            vec![("origin", "new"), ("key", "forged"), ("value", "x")],
        ),
        (
            format!("/console/runtimes/{runtime}/labels/delete"),
            vec![("key", "env")],
        ),
        (
            format!("/console/runtimes/{runtime}/delete"),
            vec![("confirm_name", name)],
        ),
        (
            format!("/console/runtimes/{runtime}/deprovision"),
            vec![("confirm_name", name)],
        ),
        (format!("/console/runtimes/{runtime}/reconnect"), vec![]),
        (
            format!("/console/runtimes/{runtime}/upgrade"),
            vec![("version", "2")],
        ),
    ]
}

/// What the administrator's GraphQL and the Provisioner say of everything the forms could
/// change.
async fn snapshot(server: &TestServer, runtime: &str) -> Value {
    let director = server
        .director("{ runtimes { data { id name labels } } }", json!({}))
        .await;
    let operation = last_operation(server, runtime).await;
    json!({"director": director, "operation": operation})
}

/// Provisions `edge` through the administrator's Provisioner and waits for its operation
/// to fail (the silent agent never pairs); answers the runtime's id.
async fn provisioned_and_failed(server: &TestServer) -> String {
    let data = provisioner(
        server,
        "mutation($config: ProvisionRuntimeInput!) { provisionRuntime(config: $config) }",
        json!({"config": {"runtimeInput": {"name": "edge", "labels": {"env": "prod"}},
                          "clusterConfig": {"localConfig": {}}}}),
    )
    .await;
    let operation = data["provisionRuntime"].as_str().unwrap().to_owned();
    let runtime = provisioner(
        server,
        "query($id: String!) { runtimeOperationStatus(id: $id) { runtimeID } }",
        json!({"id": operation}),
    )
    .await["runtimeOperationStatus"]["runtimeID"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_state(server, &runtime, "Failed").await;
    runtime
}

async fn wait_for_state(server: &TestServer, runtime: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = last_operation(server, runtime).await;
        if last.as_ref().is_some_and(|(_, _, s)| s == state) {
            return;
        }
        assert!(Instant::now() < deadline, "waited for {state}: {last:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn the_action_forms_refuse_a_missing_or_wrong_csrf_token_and_no_session(backend: Backend) {
    let agent = SilentAgent::create();
    let server = agent.server(backend, CONNECT_TIMEOUT).await;
    let runtime = provisioned_and_failed(&server).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut other = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let others = other.csrf().await;
    let before = snapshot(&server, &runtime).await;

    for (path, fields) in &action_forms(&runtime, "edge") {
        let missing = browser.post(path, fields).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        for token in ["wrong", others.as_str()] {
            let mut with = fields.clone();
            with.push(("csrf", token));
            let page = browser.post(path, &with).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} with {token}");
        }
        let mut anonymous = Browser::new(&server);
        let mut with = fields.clone();
        with.push(("csrf", others.as_str()));
        assert_eq!(
            anonymous.post(path, &with).await.status,
            StatusCode::UNAUTHORIZED,
            "{path} without a session"
        );
    }
    assert_eq!(snapshot(&server, &runtime).await, before);

    // A signed-out fragment says so and stops polling.
    let (operation, _, _) = last_operation(&server, &runtime).await.unwrap();
    let fragment = Browser::new(&server)
        .get(&format!(
            "/console/runtimes/{runtime}/operations/{operation}"
        ))
        .await;
    assert_eq!(fragment.status, StatusCode::UNAUTHORIZED);
    assert!(fragment.body.contains("id=\"operation-error\""));
    assert!(!fragment.body.contains("hx-trigger"));
    let facts = Browser::new(&server)
        .get(&format!("/console/runtimes/{runtime}/facts"))
        .await;
    assert_eq!(facts.status, StatusCode::UNAUTHORIZED);
    assert!(facts.body.contains("id=\"runtime-facts-error\""));
    assert!(!facts.body.contains("hx-trigger"));
}

async fn a_session_without_runtime_write_sees_no_action_and_is_refused(backend: Backend) {
    let agent = SilentAgent::create();
    let server = agent.server(backend, CONNECT_TIMEOUT).await;
    let runtime = provisioned_and_failed(&server).await;
    let unprovisioned = register_runtime(&server, "plain", json!({"env": "dev"})).await;
    let mut browser = Browser::signed_in(
        &server,
        &[TenantId::DEFAULT],
        "application:read runtime:read",
    )
    .await;

    let list = browser.get("/console/runtimes").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(runtime_ids(&list).len(), 2);
    assert!(!list.body.contains("/console/runtimes/new"));
    for id in [&runtime, &unprovisioned] {
        let detail = browser.get(&format!("/console/runtimes/{id}")).await;
        assert_eq!(detail.status, StatusCode::OK);
        for action in [
            "/labels",
            "/delete",
            "/deprovision",
            "/reconnect",
            "/upgrade",
        ] {
            assert!(!detail.body.contains(&format!("{action}\"")), "{action}");
        }
    }
    assert_eq!(
        browser.get("/console/runtimes/new").await.status,
        StatusCode::FORBIDDEN
    );

    // Forged POSTs with the session's own token: the Director and the Provisioner refuse.
    let csrf = browser.csrf().await;
    let before = snapshot(&server, &runtime).await;
    for (target, name) in [(&runtime, "edge"), (&unprovisioned, "plain")] {
        for (path, fields) in action_forms(target, name) {
            let mut with = fields.clone();
            with.push(("csrf", csrf.as_str()));
            let page = browser.post(&path, &with).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
            assert!(
                page.body.contains("insufficient scopes"),
                "{path}: {}",
                page.body
            );
        }
    }
    assert_eq!(snapshot(&server, &runtime).await, before);

    // Without runtime:read: no Runtimes link, and the list shows the Director's refusal.
    let mut blind = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    assert!(
        !blind
            .get("/console/")
            .await
            .body
            .contains("href=\"/console/runtimes\"")
    );
    let list = blind.get("/console/runtimes").await;
    assert!(runtime_ids(&list).is_empty());
    assert!(list.body.contains("insufficient scopes"), "{}", list.body);
}

async fn another_tenants_runtime_is_not_found(backend: Backend) {
    let agent = SilentAgent::create();
    let server = agent.server(backend, CONNECT_TIMEOUT).await;
    let runtime = provisioned_and_failed(&server).await;
    let (operation, _, _) = last_operation(&server, &runtime).await.unwrap();
    let other = TenantId(uuid::Uuid::new_v4());
    let mut browser = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let before = snapshot(&server, &runtime).await;

    assert_eq!(
        browser
            .get(&format!("/console/runtimes/{runtime}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let fragment = browser
        .get(&format!(
            "/console/runtimes/{runtime}/operations/{operation}"
        ))
        .await;
    assert_eq!(fragment.status, StatusCode::NOT_FOUND);
    assert!(!fragment.body.contains("hx-trigger"));
    for facts in [
        format!("/console/runtimes/{runtime}/facts"),
        "/console/runtimes/not-an-id/facts".to_owned(),
    ] {
        let facts = browser.get(&facts).await;
        assert_eq!(facts.status, StatusCode::NOT_FOUND);
        assert!(facts.body.contains("id=\"runtime-facts-error\""));
        assert!(!facts.body.contains("hx-trigger"));
    }
    for (path, fields) in action_forms(&runtime, "edge").into_iter().skip(1) {
        let mut with = fields.clone();
        with.push(("csrf", csrf.as_str()));
        let page = browser.post(&path, &with).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(runtime_ids(&browser.get("/console/runtimes").await).is_empty());
    assert_eq!(
        browser.get("/console/runtimes/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(snapshot(&server, &runtime).await, before);
}

async fn without_an_agent_program_provisioning_is_refused_beside_the_form(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let form = browser.get("/console/runtimes/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let page = browser
        .post(
            "/console/runtimes",
            &[("csrf", &csrf), ("name", "edge"), ("labels", "env=prod")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let error = page.text_of("provision-error").unwrap();
    assert!(error.contains("no agent program"), "{error}");
    assert_eq!(page.input("name").as_deref(), Some("edge"));
    assert_eq!(runtime_count(&server).await, 0);
}

/// The operation fragment of the runtime's page: its state and whether it polls.
struct Progress {
    state: String,
    message: String,
    polls: bool,
    href: Option<String>,
}

fn progress(page: &Page) -> Progress {
    let (href, polls) = polling(page, "operation");
    Progress {
        state: page.text_of("operation-state").unwrap_or_default(),
        message: page.text_of("operation-message").unwrap_or_default(),
        polls,
        href,
    }
}

/// The URL the element `id` of the page polls, and whether it polls every two seconds,
/// read off its opening tag.
fn polling(page: &Page, id: &str) -> (Option<String>, bool) {
    let Some(at) = page.body.find(&format!("id=\"{id}\"")) else {
        return (None, false);
    };
    let start = page.body[..at].rfind('<').unwrap();
    let tag = &page.body[start..at + page.body[at..].find('>').unwrap()];
    let marker = "hx-get=\"";
    let href = tag.find(marker).map(|at| {
        let start = at + marker.len();
        let end = tag[start..].find('"').unwrap();
        tag[start..start + end].to_owned()
    });
    (href, tag.contains("hx-trigger=\"every 2s\""))
}

/// Polls the fragment at `href` (as htmx does) until it stops polling; answers the last one.
async fn follow(browser: &mut Browser, href: &str) -> Progress {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = browser.get(href).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let now = progress(&page);
        if !now.polls {
            assert!(now.href.is_none());
            return now;
        }
        assert_eq!(now.state, "In progress");
        assert_eq!(now.href.as_deref(), Some(href));
        assert!(Instant::now() < deadline, "the operation never ends");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn each_action_starts_an_operation_whose_progress_the_fragment_follows(backend: Backend) {
    let agent = SilentAgent::create();
    let server = agent.server(backend, CONNECT_TIMEOUT).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.get("/console/runtimes/new").await.csrf();

    let page = browser
        .post(
            "/console/runtimes",
            &[
                ("csrf", &csrf),
                ("name", "edge"),
                ("description", "At the edge"),
                ("labels", "scenarios=[\"billing\"]"),
                ("event_service_url", "https://events.example"),
                ("gateway_allow_private", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let path = page.location().unwrap().to_owned();
    let runtime = path.strip_prefix("/console/runtimes/").unwrap().to_owned();
    let stored = server
        .director(
            "query($id: ID!) { runtime(id: $id) { name description labels } }",
            json!({"id": runtime}),
        )
        .await["runtime"]
        .clone();
    assert_eq!(stored["name"], "edge");
    assert_eq!(stored["labels"]["scenarios"], json!(["billing"]));

    // The page shows the operation running and polls its fragment.
    let detail = browser.get(&path).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        detail.text_of("operation-kind").as_deref(),
        Some("Provisioning")
    );
    let shown = progress(&detail);
    let (operation, kind, _) = last_operation(&server, &runtime).await.unwrap();
    assert_eq!(kind, "Provision");
    let fragment = format!("{path}/operations/{operation}");
    // It may have ended already on a slow machine; if not, it polls its fragment.
    if shown.polls {
        assert_eq!(shown.state, "In progress");
        assert_eq!(shown.href.as_deref(), Some(fragment.as_str()));
        assert!(
            detail
                .body
                .contains(&format!("href=\"{path}\">reload the page</a>"))
        );
        // The runtime's status and agent follow the operation by themselves too.
        let facts = format!("{path}/facts");
        assert_eq!(
            polling(&detail, "runtime-facts"),
            (Some(facts.clone()), true)
        );
        let now = browser.get(&facts).await;
        assert_eq!(now.status, StatusCode::OK);
        assert!(now.text_of("runtime-status").is_some(), "{}", now.body);
        assert_eq!(now.text_of("agent-last-seen").as_deref(), Some("Never"));
    }
    // Followed as htmx does, until it ends: the silent agent never pairs, so it fails.
    let end = follow(&mut browser, &fragment).await;
    assert_eq!(end.state, "Failed");
    assert!(!end.message.is_empty());
    wait_for_state(&server, &runtime, "Failed").await;
    let detail = browser.get(&path).await;
    let shown = progress(&detail);
    assert_eq!(shown.state, "Failed");
    assert!(!shown.polls);
    // A failed operation leaves nothing about to change: the facts stop polling.
    assert_eq!(polling(&detail, "runtime-facts"), (None, false));
    let facts = browser.get(&format!("{path}/facts")).await;
    assert_eq!(facts.status, StatusCode::OK);
    assert_eq!(polling(&facts, "runtime-facts"), (None, false));
    assert!(
        facts.text_of("agent-connection").is_some(),
        "{}",
        facts.body
    );

    // Reconnect and upgrade: each a new operation, followed the same way.
    for (action, fields, kind) in [
        ("reconnect", vec![], "Reconnecting the agent"),
        ("upgrade", vec![("version", "2")], "Upgrade"),
    ] {
        let mut with = fields;
        with.push(("csrf", csrf.as_str()));
        let page = browser.post(&format!("{path}/{action}"), &with).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{action}: {}",
            page.body
        );
        assert_eq!(page.location(), Some(path.as_str()));
        let detail = browser.get(&path).await;
        assert_eq!(detail.text_of("operation-kind").as_deref(), Some(kind));
        let (operation, _, _) = last_operation(&server, &runtime).await.unwrap();
        let end = follow(&mut browser, &format!("{path}/operations/{operation}")).await;
        assert_eq!(end.state, "Failed", "{action}");
    }

    // One operation at a time: a second reconnect while one runs is refused beside its form.
    let page = browser
        .post(&format!("{path}/reconnect"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser
        .post(&format!("{path}/reconnect"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"reconnect-error\""));
    wait_for_state(&server, &runtime, "Failed").await;

    // Deprovision: the name typed, then the runtime is gone and the fragment says so.
    let page = browser
        .post(
            &format!("{path}/deprovision"),
            &[("csrf", &csrf), ("confirm_name", "edg")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"deprovision-error\""));
    let page = browser
        .post(
            &format!("{path}/deprovision"),
            &[("csrf", &csrf), ("confirm_name", "edge")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (operation, kind, _) = last_operation(&server, &runtime).await.unwrap();
    assert_eq!(kind, "Deprovision");
    let fragment = format!("{path}/operations/{operation}");
    let end = follow(&mut browser, &fragment).await;
    assert_eq!(end.state, "Succeeded");
    let last = browser.get(&fragment).await;
    assert!(last.body.contains("The runtime is deprovisioned"));
    assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND);
    // The facts of a runtime gone say so, and stop polling.
    let facts = browser.get(&format!("{path}/facts")).await;
    assert_eq!(facts.status, StatusCode::NOT_FOUND);
    assert!(facts.body.contains("id=\"runtime-facts-error\""));
    assert!(!facts.body.contains("hx-trigger"));
    assert_eq!(runtime_count(&server).await, 0);

    // Another runtime's operation is not this runtime's.
    let elsewhere = register_runtime(&server, "plain", json!({})).await;
    let page = browser
        .get(&format!(
            "/console/runtimes/{elsewhere}/operations/{operation}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

on_both_backends!(
    search_by_name_label_and_status_together,
    the_list_pages_through_every_runtime_once_and_filters_by_label,
    the_detail_shows_scenarios_applications_and_only_the_kinds_of_credentials,
    a_label_edit_is_checked_against_its_definition_and_refused_beside_the_field,
    deleting_requires_the_typed_name,
    the_action_forms_refuse_a_missing_or_wrong_csrf_token_and_no_session,
    a_session_without_runtime_write_sees_no_action_and_is_refused,
    another_tenants_runtime_is_not_found,
    without_an_agent_program_provisioning_is_refused_beside_the_form,
    each_action_starts_an_operation_whose_progress_the_fragment_follows,
);
