//! Sextant's outbound HTTP client: calls application endpoints with an application-supplied
//! [`Auth`](sextant_domain::credentials::Auth). It fetches API specifications and documents
//! (fetch requests) and is the one path for every outbound call (webhook deliveries, the
//! application gateway's forwarding).
//!
//! - [`Fetcher::fetch`]: GET, 2xx only, UTF-8 text.
//! - [`Fetcher::send`]: any method, headers and body; any status comes back.
//! - [`Fetcher::credentials`] / [`Fetcher::authorize`] / [`Credentials`]: the auth step alone,
//!   for requests built elsewhere.
//!
//! How an `Auth` is applied: `Basic` becomes an HTTP Basic header; `OAuth` runs the OAuth2
//! client-credentials grant against its token URL (client authenticated by HTTP Basic) and
//! sends `Authorization: Bearer …`, with tokens cached per (token URL, client id, secret)
//! until shortly before they expire and refreshed once when the target answers 401;
//! additional headers and query parameters are added; a CSRF step first GETs the token
//! endpoint with `X-CSRF-Token: Fetch` and then sends the token and the cookies it set.
//!
//! # Invariants
//!
//! - **Schemes:** only `http` and `https`, for the URL, every redirect target and the token
//!   and CSRF endpoints. URLs with user info are refused (credentials belong in the `Auth`).
//! - **Redirects:** followed here, never by reqwest, at most `max_redirects`; every hop is
//!   checked like the first. Credentials (Authorization, additional headers, CSRF token,
//!   cookies, and headers the caller marked sensitive) are sent only while the chain stays on
//!   the first URL's origin (scheme, host, port). Additional query parameters go on the first
//!   URL only. Token and CSRF endpoints are not redirected.
//! - **Private addresses:** unless `allow_private`, loopback, private, link-local (cloud
//!   metadata), CGNAT, unspecified, broadcast, multicast, reserved and documentation
//!   addresses, and IPv6 forms embedding them, are refused: IP literals before sending, host
//!   names by the DNS resolver at connect time (so a rebinding name cannot pass a check and
//!   then connect elsewhere). No proxy is ever used.
//! - **Allowed hosts:** with an allow-list ([`HostAllowList`], `allow_hosts`), a URL, redirect
//!   target, token or CSRF endpoint whose host is not on it is refused before anything is
//!   sent and before its name is resolved (the resolver refuses such a name again without a
//!   lookup).
//! - **Limits:** a connect timeout, and one total timeout over the whole call (auth steps,
//!   redirects, body). Bodies are streamed and refused once they exceed `max_bytes` (or
//!   up front when `Content-Length` says so); token responses are read up to 64 KiB.
//! - **Secrets:** error messages show URLs without query string, fragment or user info, and
//!   never a credential, token or header value; credential headers are marked sensitive.
//! - **TLS:** rustls on aws-lc-rs (reqwest's default), platform roots plus optional extra
//!   roots.
//!
//! Must not know: the store, GraphQL, or who asked for the call; it applies an address
//! policy and an `Auth` and answers what came back.

#![forbid(unsafe_code)]

mod address;
mod allow;
mod auth;
mod client;
mod error;

pub use address::is_public;
pub use allow::{HostAllowList, HostListError};
pub use auth::{CSRF_HEADER, Credentials};
pub use client::{FetchPolicy, Fetched, Fetcher, OutboundRequest, OutboundResponse};
pub use error::FetchError;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};
