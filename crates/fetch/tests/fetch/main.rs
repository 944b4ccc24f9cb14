//! Integration tests of `sextant-fetch` against real HTTP(S) servers on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod basics;
mod helpers;
mod policy;
mod redirects;
mod tls;
