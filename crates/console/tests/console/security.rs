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
    for path in [
        "/console/",
        "/console/applications",
        "/console/applications/new",
    ] {
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
    assert_eq!(assets.len(), 2, "{assets:?}");
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

on_both_backends!(
    every_answer_carries_the_security_headers,
    a_form_without_the_sessions_csrf_token_is_refused,
);
