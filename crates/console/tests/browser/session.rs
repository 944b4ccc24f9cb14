//! A session in the browser: signing in with a login link by keyboard, switching tenants,
//! signing out; the CSP as the browser enforces it.

use fantoccini::key::Key;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_browser::{ALL_SCOPES, Browser, login_path};
use sextant_test_support::on_both_backends;

use crate::helpers::{Backend, TestServer, register};

async fn sign_in_with_the_keyboard_switch_tenants_and_sign_out(backend: Backend) {
    let server = TestServer::start(backend).await;
    register(&server, "orders", json!({})).await;
    let other = TenantId(uuid::Uuid::new_v4());
    let path = login_path(&server, &[TenantId::DEFAULT, other], ALL_SCOPES).await;
    let mut browser = Browser::start(&server, "session").await;

    // The link opens a page with one button; Tab reaches it, Enter presses it.
    browser.goto(&path).await;
    browser.page("Sign in", "login-link").await;
    browser.tab_to("button[type=submit]").await;
    assert_eq!(
        browser
            .js("return document.activeElement.textContent", vec![])
            .await,
        json!("Sign in")
    );
    browser.press(Key::Enter).await;
    browser.page("Dashboard", "dashboard").await;
    assert_eq!(browser.text("#application-count").await, "1");
    assert!(
        browser
            .text(".tenant-now")
            .await
            .contains(&TenantId::DEFAULT.0.to_string())
    );
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == sextant_console::COOKIE_NAME)
        .expect("the session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.secure(), Some(true));

    // The link is used up: opening it again and pressing the button is refused.
    browser.goto(&path).await;
    browser.page("Sign in", "login-link-again").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_until(
            "the refusal",
            "document.querySelector('p.error[role=alert]')",
        )
        .await;
    browser.visited("login-link-refused").await;

    // The other tenant holds no application; switching back shows the one again.
    browser.goto("/console/").await;
    browser.page("Dashboard", "dashboard-again").await;
    let switcher = browser
        .client
        .find(fantoccini::Locator::Css("#tenant-switch"))
        .await
        .unwrap();
    switcher
        .select_by_value(&other.0.to_string())
        .await
        .unwrap();
    browser
        .click("header form.tenant button[type=submit]")
        .await;
    browser
        .wait_until(
            "the other tenant",
            &format!(
                "document.querySelector('.tenant-now code')?.textContent === {}",
                json!(other.0.to_string())
            ),
        )
        .await;
    browser.page("Dashboard", "other-tenant").await;
    assert_eq!(browser.text("#application-count").await, "0");
    browser.click("nav a[href='/console/applications']").await;
    browser
        .page("Applications", "other-tenant-applications")
        .await;
    assert!(browser.application_ids().await.is_empty());

    let switcher = browser
        .client
        .find(fantoccini::Locator::Css("#tenant-switch"))
        .await
        .unwrap();
    switcher
        .select_by_value(&TenantId::DEFAULT.0.to_string())
        .await
        .unwrap();
    browser
        .click("header form.tenant button[type=submit]")
        .await;
    browser
        .wait_until(
            "the default tenant",
            &format!(
                "document.querySelector('.tenant-now code')?.textContent === {}",
                json!(TenantId::DEFAULT.0.to_string())
            ),
        )
        .await;
    browser.page("Dashboard", "default-tenant").await;
    assert_eq!(browser.text("#application-count").await, "1");

    // Signing out ends the session: the cookie goes, and the console asks to sign in.
    browser
        .click("header form[action='/console/logout'] button")
        .await;
    browser.page("Sign in", "signed-out").await;
    let cookies = browser.client.get_all_cookies().await.unwrap();
    assert!(
        cookies
            .iter()
            .all(|c| c.name() != sextant_console::COOKIE_NAME),
        "{cookies:?}"
    );
    browser.goto("/console/applications").await;
    browser.page("Sign in", "after-sign-out").await;
    browser.finish().await;
}

/// The page's CSP holds in the browser: an inline script the page would add is refused
/// (while WebDriver's own scripts, which run axe-core, are not the page's and run). The
/// backend plays no part: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_refuses_inline_script() {
    let server = TestServer::start(Backend::Sqlite).await;
    let path = login_path(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let mut browser = Browser::start(&server, "csp").await;
    browser.goto(&path).await;
    browser.page("Sign in", "login-link").await;
    browser.click("button[type=submit]").await;
    browser.page("Dashboard", "dashboard").await;

    let outcome = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            let refused = null;
            document.addEventListener('securitypolicyviolation',
              e => { refused = e.effectiveDirective; }, {once: true});
            const script = document.createElement('script');
            script.textContent = 'window.inlineRan = true;';
            document.body.appendChild(script);
            setTimeout(() => done({ran: window.inlineRan === true, refused}), 500);"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(outcome, json!({"ran": false, "refused": "script-src-elem"}));
    let logged = browser.console_messages().await;
    assert!(
        logged.iter().any(|m| m["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Content Security Policy")),
        "{logged:#?}"
    );
    browser.finish().await;
}

/// Thirty tenants: the header searches them; a match's button switches to it.
async fn search_many_tenants_and_switch(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenants: Vec<TenantId> = std::iter::once(TenantId::DEFAULT)
        .chain((0..29).map(|_| TenantId(uuid::Uuid::new_v4())))
        .collect();
    let wanted = tenants[12].0.to_string();
    let path = login_path(&server, &tenants, ALL_SCOPES).await;
    let mut browser = Browser::start(&server, "tenant-search").await;
    browser.goto(&path).await;
    browser.page("Sign in", "login-link").await;
    browser.tab_to("button[type=submit]").await;
    browser.press(Key::Enter).await;
    browser.page("Dashboard", "dashboard").await;
    assert_eq!(browser.count("#tenant-switch").await, 0);

    browser.click("#tenant-search").await;
    browser.type_text(&format!("{}\n", &wanted[..13])).await;
    browser.page("Tenants", "tenants-found").await;
    assert_eq!(browser.count("tr.tenant-row").await, 1);
    browser.click("tr.tenant-row button[type=submit]").await;
    browser
        .wait_until(
            "the tenant found",
            &format!(
                "document.querySelector('.tenant-now code')?.textContent === {}",
                json!(wanted)
            ),
        )
        .await;
    browser.page("Dashboard", "tenant-switched").await;
    browser.finish().await;
}

on_both_backends!(
    sign_in_with_the_keyboard_switch_tenants_and_sign_out,
    search_many_tenants_and_switch,
);
