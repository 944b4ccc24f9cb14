//! The console through its real interface: HTTPS to a real server on port 0 (SQLite or
//! PostgreSQL, every test on both), a client that keeps the session cookie by hand and
//! follows no redirects, so each status, header and cookie attribute is seen as a browser
//! gets it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod applications;
mod certificates;
mod connect;
mod fleet;
mod integration_systems;
mod label_definitions;
mod login;
mod runtimes;
mod scenarios;
mod security;
mod specs;
mod templates;
mod webhooks;
