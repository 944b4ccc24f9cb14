//! The console in a browser, as a person uses it: pages opened, links and buttons clicked,
//! forms typed into with the keyboard; and after every page, a screenshot, an accessibility
//! check with axe-core, and a look at the browser's console for refused scripts or errors.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_store::ConsoleGrant;
use time::OffsetDateTime;

use sextant_test_server::TestServer;

use crate::chrome::{Driver, screenshot_dir};

/// How long a page may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// Every page's title ends so.
const TITLE_SUFFIX: &str = " · Sextant console";

/// Every user scope but the operator's.
pub const ALL_SCOPES: &str = "application:read application:write application_template:read \
     application_template:write integration_system:read integration_system:write runtime:read \
     runtime:write label_definition:read label_definition:write eventing:manage \
     health_checks:read";

/// Where `npm ci` put axe-core (see `package.json` beside this crate's `Cargo.toml`).
fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): run `npm ci --no-audit --no-fund` in crates/test-browser",
            path.display()
        )
    })
}

/// A browser signed in to nothing yet, on one test server's console.
pub struct Browser {
    pub client: Client,
    base: String,
    axe: String,
    shots: PathBuf,
    shot: usize,
    // Dropped last: it ends the session and stops the browser.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a browser for `server`; screenshots go to a folder named
    /// `name` (and the server's backend).
    pub async fn start(server: &TestServer, name: &str) -> Browser {
        let mut driver = Driver::start().await;
        let cert = std::fs::read(server.data_dir.join("server.crt")).expect("server.crt");
        let client = driver.open(&cert).await;
        let backend = format!("{:?}", server.backend).to_lowercase();
        let shots = screenshot_dir().join(format!("{name}-{backend}"));
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("the screenshot directory");
        Browser {
            client,
            base: server.base.clone(),
            axe: axe_source(),
            shots,
            shot: 0,
            driver,
        }
    }

    /// Opens `path` of the server.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` as WebDriver passes them) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until the expression `condition` holds in the page.
    pub async fn wait_until(&self, what: &str, condition: &str) {
        self.wait_until_within(WAIT, what, condition).await;
    }

    /// Waits up to `wait` until the expression `condition` holds in the page.
    pub async fn wait_until_within(&self, wait: Duration, what: &str, condition: &str) {
        let script = format!("return Boolean({condition});");
        let deadline = Instant::now() + wait;
        loop {
            // Between two pages a script may find no document: ask again.
            if let Ok(Value::Bool(true)) = self.client.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = self.js("return document.body.innerText", vec![]).await;
                panic!("waited {wait:?} for {what} ({condition}); at {url:?}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the page titled `title` to be shown and settled (htmx swaps the body of
    /// boosted links and forms in place), then records it: see [`Browser::visited`].
    pub async fn page(&mut self, title: &str, shot: &str) {
        let full = format!("{title}{TITLE_SUFFIX}");
        self.wait_until(
            &format!("the page {title:?}"),
            &format!(
                "document.readyState === 'complete' && document.title === {} && \
                 !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')",
                json!(full)
            ),
        )
        .await;
        self.visited(shot).await;
    }

    /// Records the page shown: a screenshot, axe-core's check (no serious or critical
    /// violation), and the browser's console (no script refused by the CSP, no error).
    pub async fn visited(&mut self, shot: &str) {
        self.screenshot(shot).await;
        self.check_accessibility(shot).await;
        self.check_console(shot).await;
    }

    /// Writes a PNG of the window to `target/console-screenshots/<test>/NN-<shot>.png`.
    pub async fn screenshot(&mut self, shot: &str) {
        self.shot += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.shots.join(format!("{:02}-{shot}.png", self.shot));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Injects axe-core (through WebDriver, which the page's CSP does not govern) and fails
    /// on any serious or critical violation.
    pub async fn check_accessibility(&self, shot: &str) {
        let present = self.js("return typeof window.axe;", vec![]).await;
        if present != json!("object") {
            let script = format!("{}\nreturn typeof window.axe;", self.axe);
            let injected = self.js(&script, vec![]).await;
            assert_eq!(
                injected,
                json!("object"),
                "axe-core did not load in the page"
            );
        }
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']}).then(
                  r => done({violations: r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))}),
                  e => done({error: String(e)}));"#,
                vec![],
            )
            .await
            .expect("axe ran");
        assert!(result["error"].is_null(), "axe failed on {shot}: {result}");
        let grave: Vec<&Value> = result["violations"]
            .as_array()
            .expect("axe's violations")
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(
            grave.is_empty(),
            "serious or critical accessibility violations on {shot}:\n{}",
            serde_json::to_string_pretty(&grave).unwrap_or_default()
        );
    }

    /// Fails on what the page logged since the last check: a script or style the CSP
    /// refused, or an uncaught error.
    pub async fn check_console(&self, shot: &str) {
        let bad: Vec<Value> = self
            .console_messages()
            .await
            .into_iter()
            .filter(|m| {
                let text = m["message"].as_str().unwrap_or_default();
                text.contains("Content Security Policy") || text.contains("Uncaught")
            })
            .collect();
        assert!(bad.is_empty(), "the browser's console on {shot}: {bad:#?}");
    }

    /// The browser's console messages since the last call.
    pub async fn console_messages(&self) -> Vec<Value> {
        self.driver.console_messages().await
    }

    /// Presses and releases each key in turn, as a person typing.
    pub async fn keys(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for &key in keys {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("the keys were pressed");
    }

    /// Types `text` on the keyboard into whatever has the focus (a newline is Enter).
    pub async fn type_text(&self, text: &str) {
        let keys: Vec<char> = text
            .chars()
            .map(|c| if c == '\n' { Key::Enter.into() } else { c })
            .collect();
        self.keys(&keys).await;
    }

    /// Presses `key` once.
    pub async fn press(&self, key: Key) {
        let key: char = key.into();
        self.keys(&[key]).await;
    }

    /// Presses Tab until the focused element matches the CSS `selector`; fails if it is not
    /// reached after as many presses as the page has focusable elements (it is then not
    /// reachable by keyboard).
    pub async fn tab_to(&self, selector: &str) {
        let focusable = self
            .js(
                "return document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]').length;",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(0);
        for _ in 0..focusable + 2 {
            self.press(Key::Tab).await;
            let here = self
                .js(
                    "return document.activeElement !== null && document.activeElement.matches(arguments[0]);",
                    vec![json!(selector)],
                )
                .await;
            if here == json!(true) {
                return;
            }
        }
        panic!("Tab never reached {selector}");
    }

    /// Clicks the element the CSS `selector` finds.
    pub async fn click(&self, selector: &str) {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {selector}: {e}"));
    }

    /// The text of the element the CSS `selector` finds.
    pub async fn text(&self, selector: &str) -> String {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .text()
            .await
            .expect("its text")
    }

    /// How many elements the CSS `selector` finds.
    pub async fn count(&self, selector: &str) -> usize {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .expect("elements")
            .len()
    }

    /// The `href`s of the application links the list shows (their ids last).
    pub async fn application_ids(&self) -> Vec<String> {
        let ids = self
            .js(
                "return Array.from(document.querySelectorAll('a.application'))\
                 .map(a => a.getAttribute('href').split('/').pop());",
                vec![],
            )
            .await;
        serde_json::from_value(ids).expect("a list of ids")
    }

    /// Ends the session: the browser quits (the driver stops when this drops).
    pub async fn finish(self) {
        let Browser { client, driver, .. } = self;
        client.close().await.expect("the browser quits");
        drop(driver);
    }
}

/// A fresh login link's URL path for `tenants` with `scopes`.
pub async fn login_path(server: &TestServer, tenants: &[TenantId], scopes: &str) -> String {
    let token = sextant_console::create_login_link(
        server.server().store.as_ref(),
        ConsoleGrant {
            subject: "browser-test".into(),
            tenants: tenants.to_vec(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        },
        OffsetDateTime::now_utc(),
        sextant_console::LINK_TTL,
    )
    .await
    .expect("a login link");
    format!("/console/login?link={token}")
}

/// Signs `browser` in with a fresh link for every user scope, pressing the button with the
/// keyboard; the dashboard is shown.
pub async fn sign_in(browser: &mut Browser, server: &TestServer) {
    let path = login_path(server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    browser.goto(&path).await;
    browser.page("Sign in", "login-link").await;
    browser.tab_to("button[type=submit]").await;
    browser.press(Key::Enter).await;
    browser.page("Dashboard", "dashboard").await;
}
