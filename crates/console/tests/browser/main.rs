//! The console end to end in a real browser: headless chromium driven through chromedriver
//! (WebDriver) against the real server on port 0 over real TLS. Each test signs in with a
//! login link and works the console as a person would, with the keyboard where a person
//! would; every page it visits is checked with axe-core (no serious or critical violation),
//! for scripts the CSP refused, and saved as a PNG under `target/console-screenshots/`.
//! The harness is `sextant-test-browser`'s.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and `npm ci` run in
//! `crates/test-browser` (for axe-core); without them the tests fail, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod applications;
mod connect;
mod dashboard;
mod runtimes;
mod session;
