//! The headers every console answer carries, embedded assets, and CSRF.

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, Page, TestServer, application_count};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_security_headers(page: &Page, what: &str) {
    let header = |name: &str| {
        page.headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-security-policy"), CSP, "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
}

/// Whether an attribute such as ` onclick=` appears.
fn inline_handler(body: &str) -> bool {
    body.match_indices(" on").any(|(at, _)| {
        let rest = &body[at + 3..];
        let name_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        name_end > 0 && rest[name_end..].starts_with('=')
    })
}

/// The `src`/`href` of the page's script and style sheet.
fn asset_paths(page: &Page) -> Vec<String> {
    page.body
        .match_indices("\"/console/assets/")
        .map(|(at, _)| {
            let start = at + 1;
            let end = page.body[start..].find('"').unwrap();
            page.body[start..start + end].to_owned()
        })
        .collect()
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut anonymous = Browser::new(&server);
    let login = anonymous.get("/console/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_security_headers(&login, "login page");
    assert_eq!(login.headers["cache-control"], "no-store");
    let redirect = anonymous.get("/console/applications").await;
    assert_security_headers(&redirect, "redirect to login");

    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let system = crate::helpers::register_integration_system(&server, "erp").await;
    let template = crate::helpers::create_template(&server, "shop").await;
    let runtime = crate::helpers::register_runtime(&server, "edge", json!({})).await;
    for path in [
        "/console/".to_owned(),
        "/console/applications".to_owned(),
        "/console/applications/new".to_owned(),
        "/console/scenarios".to_owned(),
        "/console/scenarios/billing".to_owned(),
        "/console/label-definitions".to_owned(),
        "/console/label-definitions/scenarios".to_owned(),
        "/console/integration-systems".to_owned(),
        "/console/integration-systems/new".to_owned(),
        format!("/console/integration-systems/{system}"),
        "/console/application-templates".to_owned(),
        "/console/application-templates/new".to_owned(),
        format!("/console/application-templates/{template}"),
        "/console/runtimes".to_owned(),
        "/console/runtimes/new".to_owned(),
        format!("/console/runtimes/{runtime}"),
        format!("/console/runtimes/{runtime}/facts"),
    ] {
        let path = path.as_str();
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_security_headers(&page, path);
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        // Nothing inline: the strict CSP would refuse it.
        assert!(!page.body.contains("<script>"), "{path}");
        assert!(!page.body.contains("<style"), "{path}");
        assert!(!page.body.contains(" style="), "{path}");
        assert!(
            !inline_handler(&page.body),
            "{path}: no inline event handlers"
        );
    }
    let not_found = browser
        .get(&format!("/console/applications/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_security_headers(&not_found, "404");

    // The embedded assets: cacheable for good, under a path that names their content.
    let dashboard = browser.get("/console/").await;
    let assets = asset_paths(&dashboard);
    assert_eq!(assets.len(), 3, "{assets:?}");
    for path in &assets {
        let asset = anonymous.get(path).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert_security_headers(&asset, path);
        assert_eq!(
            asset.headers["cache-control"], "public, max-age=31536000, immutable",
            "{path}"
        );
        assert!(!asset.body.is_empty());
        let wrong = path.replace("/console/assets/", "/console/assets/0000");
        assert_eq!(anonymous.get(&wrong).await.status, StatusCode::NOT_FOUND);
    }
    assert!(assets.iter().any(|p| p.ends_with("/htmx.min.js")));
    assert!(assets.iter().any(|p| p.ends_with("/countdown.js")));
    assert!(assets.iter().any(|p| p.ends_with("/console.css")));
}

async fn a_form_without_the_sessions_csrf_token_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let fields = [("name", "forged"), ("provider", "acme")];

    let page = browser.post("/console/applications", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_security_headers(&page, "CSRF refusal");
    let page = browser
        .post(
            "/console/applications",
            &[("csrf", "wrong"), ("name", "forged"), ("provider", "acme")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Another session's token is no better.
    let mut other = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let others = other.csrf().await;
    assert_ne!(others, csrf);
    let page = browser
        .post(
            "/console/applications",
            &[("csrf", &others), ("name", "forged"), ("provider", "acme")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(application_count(&server).await, 0);

    // Deleting without it changes nothing either.
    let id = crate::helpers::register(&server, "kept", json!({})).await;
    let page = browser
        .post(
            &format!("/console/applications/{id}/delete"),
            &[("confirm_name", "kept")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(application_count(&server).await, 1);

    // With it, the form works.
    let page = browser
        .post(
            "/console/applications",
            &[("csrf", &csrf), ("name", "real"), ("provider", "acme")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(application_count(&server).await, 2);
}

/// What the administrator's GraphQL says of everything the new forms could change.
async fn snapshot(server: &TestServer) -> serde_json::Value {
    server
        .director(
            "{ labelDefinitions { key schema } \
             applications { data { id name labels } } \
             runtimes { data { id name labels } } \
             integrationSystems { data { id name auths { id } } } \
             applicationTemplates { data { id name } } }",
            json!({}),
        )
        .await
}

async fn the_new_forms_refuse_a_missing_or_wrong_csrf_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.define_scenarios(&["DEFAULT", "billing"]).await;
    let app = crate::helpers::register(&server, "orders", json!({"scenarios": ["DEFAULT"]})).await;
    let runtime =
        crate::helpers::register_runtime(&server, "edge", json!({"scenarios": ["billing"]})).await;
    let system = crate::helpers::register_integration_system(&server, "erp").await;
    let template = crate::helpers::create_template(&server, "shop").await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut other = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let others = other.csrf().await;
    let before = snapshot(&server).await;

    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/console/scenarios".into(), vec![("name", "forged")]),
        (
            "/console/scenarios/billing/assign".into(),
            vec![("kind", "application"), ("id", app.as_str())],
        ),
        (
            "/console/scenarios/billing/unassign".into(),
            vec![("kind", "runtime"), ("id", runtime.as_str())],
        ),
        (
            "/console/scenarios/billing/delete".into(),
            vec![("confirm_name", "billing")],
        ),
        (
            "/console/label-definitions".into(),
            vec![("key", "forged"), ("schema", "")],
        ),
        (
            "/console/label-definitions/scenarios".into(),
            vec![("schema", "{}")],
        ),
        (
            "/console/label-definitions/scenarios/delete".into(),
            vec![("confirm_key", "scenarios"), ("delete_labels", "on")],
        ),
        (
            "/console/integration-systems".into(),
            vec![("name", "forged")],
        ),
        (
            format!("/console/integration-systems/{system}/credentials"),
            vec![],
        ),
        (
            format!("/console/integration-systems/{system}/delete"),
            vec![("confirm_name", "erp")],
        ),
        (
            "/console/application-templates".into(),
            vec![
                ("name", "forged"),
                ("application_input", r#"{"name":"x","providerName":"y"}"#),
            ],
        ),
        (
            format!("/console/application-templates/{template}/register"),
            vec![("value:name", "forged"), ("value:url", "x")],
        ),
        (
            format!("/console/application-templates/{template}/delete"),
            vec![("confirm_name", "shop")],
        ),
    ];
    for (path, fields) in &forms {
        let missing = browser.post(path, fields).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        assert_security_headers(&missing, path);
        for token in ["wrong", others.as_str()] {
            let mut with = fields.clone();
            with.push(("csrf", token));
            let page = browser.post(path, &with).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} with {token}");
        }
        // And without a session at all.
        let mut anonymous = Browser::new(&server);
        let mut with = fields.clone();
        with.push(("csrf", others.as_str()));
        assert_eq!(
            anonymous.post(path, &with).await.status,
            StatusCode::UNAUTHORIZED,
            "{path} without a session"
        );
    }
    assert_eq!(snapshot(&server).await, before);
}

on_both_backends!(
    every_answer_carries_the_security_headers,
    a_form_without_the_sessions_csrf_token_is_refused,
    the_new_forms_refuse_a_missing_or_wrong_csrf_token,
);
