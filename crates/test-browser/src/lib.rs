//! The harness of Sextant's browser tests: the console of a test server
//! (`sextant-test-server`) in a real browser, Debian's headless `chromium` driven through
//! its `chromedriver` (WebDriver) over plain HTTP on loopback, signed in with a login link
//! and worked as a person would, with the keyboard where a person would. Every page a test
//! visits is checked with axe-core (no serious or critical violation), for scripts the CSP
//! refused, and saved as a PNG under `target/console-screenshots/`.
//!
//! Used by the console's browser tests and by the `sextant` binary's, which provision
//! runtimes whose agent is that binary. Needs `chromium`, `chromedriver`, and `npm ci` run
//! beside this crate's `package.json` (axe-core, pinned in its `package-lock.json`);
//! without them the tests fail, they never skip.
//!
//! A harness panics on what it cannot do: a panic is the failed test it belongs to.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod chrome;

pub use browser::{ALL_SCOPES, Browser, login_path, sign_in};
pub use chrome::screenshot_dir;
