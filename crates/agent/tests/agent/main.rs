//! The agent against a real server started in-process: real TLS (the token-secured Connector
//! on the main listener, mTLS for everything after pairing), a fresh SQLite file or
//! PostgreSQL database per test; no part of Sextant is mocked. Tests that need a server run
//! on both backends (`sqlite::name` and `postgres::name`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

use sextant_test_support::on_both_backends;

mod config;
mod events;
mod outage;
mod pairing;
mod renewal;
mod restart;
mod revocation;
