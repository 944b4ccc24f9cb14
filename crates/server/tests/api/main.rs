//! Integration tests of the server through its real interface: HTTPS to a server on port 0,
//! with a fresh SQLite file or a fresh PostgreSQL database per test. Every test runs on both
//! backends (`sqlite::name` and `postgres::name`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

use sextant_test_support::on_both_backends;

mod api_auths;
mod applications;
mod atomicity;
mod auth;
mod catalog;
mod catalog_statements;
mod client_certificates;
mod compat;
mod compat_examples;
mod connector;
mod cost;
mod credentials;
mod error_codes;
mod eventing;
mod fan_outs;
mod fetching;
mod fleet;
mod generated;
mod http;
mod kept_answers;
mod labels;
mod oauth;
mod registration_statements;
mod rotation;
mod runtime_config;
mod runtime_serving;
mod runtimes;
mod shared_documents;
mod spec_store;
mod statements;
mod systems;
mod tenant_walls;
mod token_status;
mod tokens;
mod webhooks;
mod write_statements;
