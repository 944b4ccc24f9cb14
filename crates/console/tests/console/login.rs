//! Signing in and out: one-time links, pasted tokens, logout, the session cookie.

use reqwest::StatusCode;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, TestServer, link, link_made};

async fn a_login_link_works_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = link(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut browser = Browser::new(&server);

    // Opening the link (what a link scanner does too) only shows the button.
    for _ in 0..2 {
        let page = browser.get(&format!("/console/login?link={token}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Sign in"));
        assert_eq!(page.input("link").as_deref(), Some(token.as_str()));
        assert!(browser.cookie.is_none());
    }

    let page = browser.sign_in(&token).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/console/"));
    let dashboard = browser.get("/console/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("Dashboard"));
    assert!(dashboard.body.contains(&TenantId::DEFAULT.0.to_string()));

    // The second use is refused and opens nothing.
    let mut other = Browser::new(&server);
    let again = other.sign_in(&token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("not valid"));
    assert!(other.cookie.is_none());
    assert!(!again.headers.contains_key("set-cookie"));
}

async fn an_expired_or_unknown_link_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let expired = link_made(
        &server,
        &[TenantId::DEFAULT],
        ALL_SCOPES,
        time::Duration::minutes(11),
    )
    .await;
    let mut browser = Browser::new(&server);
    let page = browser.sign_in(&expired).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(browser.cookie.is_none());
    let page = browser.sign_in("not-a-link").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let page = browser.sign_in("").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(browser.cookie.is_none());
}

async fn the_session_cookie_is_host_only_secure_http_only_strict(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = link(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut browser = Browser::new(&server);
    let page = browser.sign_in(&token).await;
    let cookie = page.headers.get("set-cookie").unwrap().to_str().unwrap();
    let mut parts = cookie.split(';').map(str::trim);
    let pair = parts.next().unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "__Host-sextant_console");
    assert!(value.len() >= 43, "a 256-bit id: {value}");
    let mut attributes: Vec<&str> = parts.collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        ["HttpOnly", "Path=/", "SameSite=Strict", "Secure"]
    );
}

async fn a_logged_out_session_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let cookie = browser.cookie.clone();

    // Logging out needs the form's token like every POST.
    let page = browser.post("/console/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/console/").await.status, StatusCode::OK);

    let page = browser.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/console/login"));
    let cleared = page.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(browser.cookie.is_none());

    // The old cookie (kept by someone who copied it) opens nothing any more.
    browser.cookie = cookie;
    let page = browser.get("/console/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/console/login"));
    let page = browser
        .post(
            "/console/tenant",
            &[
                ("csrf", &csrf),
                ("tenant", &TenantId::DEFAULT.0.to_string()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
}

async fn pages_without_a_session_go_to_the_login_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::new(&server);
    for path in [
        "/console/",
        "/console/applications",
        "/console/applications/new",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/console/login"), "{path}");
    }
    // A made-up cookie is no session.
    browser.cookie = Some("__Host-sextant_console=made-up".into());
    assert_eq!(browser.get("/console/").await.status, StatusCode::SEE_OTHER);
    let page = browser
        .post("/console/applications", &[("name", "x"), ("provider", "y")])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(crate::helpers::application_count(&server).await, 0);
}

async fn a_pasted_user_token_opens_a_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::new(&server);
    let page = browser
        .post("/console/login/token", &[("token", "not.a.token")])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(browser.cookie.is_none());

    let page = browser
        .post("/console/login/token", &[("token", &server.admin_token)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let dashboard = browser.get("/console/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("admin"));
}

async fn the_tenant_switcher_offers_only_the_sessions_tenants(backend: Backend) {
    let server = TestServer::start(backend).await;
    let other = TenantId(uuid::Uuid::new_v4());
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT, other], ALL_SCOPES).await;
    let csrf = browser.csrf().await;

    let page = browser
        .post(
            "/console/tenant",
            &[("csrf", &csrf), ("tenant", &other.0.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let dashboard = browser.get("/console/").await;
    assert!(
        dashboard
            .body
            .contains(&format!("<option value=\"{}\" selected>", other.0)),
        "{}",
        dashboard.body
    );

    let stranger = uuid::Uuid::new_v4().to_string();
    let page = browser
        .post("/console/tenant", &[("csrf", &csrf), ("tenant", &stranger)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser
        .post(
            "/console/tenant",
            &[
                ("csrf", "wrong"),
                ("tenant", &TenantId::DEFAULT.0.to_string()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let dashboard = browser.get("/console/").await;
    assert!(
        dashboard
            .body
            .contains(&format!("<option value=\"{}\" selected>", other.0))
    );
}

async fn a_session_of_many_tenants_searches_them(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenants: Vec<TenantId> = std::iter::once(TenantId::DEFAULT)
        .chain((0..29).map(|_| TenantId(uuid::Uuid::new_v4())))
        .collect();
    let mut browser = Browser::signed_in(&server, &tenants, ALL_SCOPES).await;
    let dashboard = browser.get("/console/").await;
    // Thirty tenants: a search form instead of a select of them all.
    assert!(
        dashboard.body.contains("id=\"tenant-search\""),
        "{}",
        dashboard.body
    );
    assert!(!dashboard.body.contains("id=\"tenant-switch\""));
    assert!(!dashboard.body.contains(&tenants[7].0.to_string()));

    let all = browser.get("/console/tenants").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.text_of("tenants-matched").unwrap(),
        "30 of this session's tenants match."
    );
    assert_eq!(all.body.matches("class=\"tenant-row\"").count(), 30);

    // Part of an id, in any letter case, finds it (and only what contains it).
    let wanted = tenants[7].0.to_string();
    let part = wanted[9..23].to_uppercase();
    let found = browser.get(&format!("/console/tenants?q={part}")).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body.matches("class=\"tenant-row\"").count(), 1);
    assert!(found.body.contains(&wanted));
    let none = browser.get("/console/tenants?q=not-a-tenant").await;
    assert_eq!(none.body.matches("class=\"tenant-row\"").count(), 0);

    // Its button switches, with the CSRF token like the select's form.
    let csrf = found.csrf();
    let page = browser
        .post("/console/tenant", &[("csrf", &csrf), ("tenant", &wanted)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let dashboard = browser.get("/console/").await;
    assert!(
        dashboard
            .body
            .contains(&format!("Tenant <code>{wanted}</code>"))
    );
    let again = browser.get(&format!("/console/tenants?q={part}")).await;
    assert!(again.body.contains(">Current<"), "{}", again.body);

    // Beyond 50 matches the page says how many it leaves to a longer search.
    let many: Vec<TenantId> = (0..60).map(|_| TenantId(uuid::Uuid::new_v4())).collect();
    let mut browser = Browser::signed_in(&server, &many, ALL_SCOPES).await;
    let page = browser.get("/console/tenants?q=-").await;
    assert_eq!(page.body.matches("class=\"tenant-row\"").count(), 50);
    assert!(
        page.text_of("tenants-matched")
            .unwrap()
            .starts_with("60 of this session's tenants match; the first 50 are shown"),
        "{}",
        page.body
    );

    // A few tenants keep the select.
    let mut few = Browser::signed_in(&server, &tenants[..10], ALL_SCOPES).await;
    let dashboard = few.get("/console/").await;
    assert!(dashboard.body.contains("id=\"tenant-switch\""));
    assert!(!dashboard.body.contains("id=\"tenant-search\""));
}

async fn a_sign_in_posted_from_another_site_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = link(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut browser = Browser::new(&server);
    for headers in [
        [("sec-fetch-site", "cross-site"), ("x-unused", "")],
        [("sec-fetch-site", "same-site"), ("x-unused", "")],
        [("origin", "https://evil.example"), ("x-unused", "")],
    ] {
        let page = browser
            .post_with("/console/login", &[("link", &token)], &headers)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
        let page = browser
            .post_with(
                "/console/login/token",
                &[("token", &server.admin_token)],
                &headers,
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(browser.cookie.is_none());
    }
    // What a browser sends from the console's own (no-referrer) login page.
    let page = browser
        .post_with(
            "/console/login",
            &[("link", &token)],
            &[("sec-fetch-site", "same-origin"), ("origin", "null")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(browser.cookie.is_some());
}

on_both_backends!(
    a_sign_in_posted_from_another_site_is_refused,
    a_login_link_works_once,
    an_expired_or_unknown_link_is_refused,
    the_session_cookie_is_host_only_secure_http_only_strict,
    a_logged_out_session_is_refused,
    pages_without_a_session_go_to_the_login_page,
    a_pasted_user_token_opens_a_session,
    the_tenant_switcher_offers_only_the_sessions_tenants,
    a_session_of_many_tenants_searches_them,
);
