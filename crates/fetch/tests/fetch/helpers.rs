//! Local servers and fetchers for the tests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use base64::Engine as _;
use sextant_domain::credentials::{Auth, Credential};
use sextant_fetch::{FetchPolicy, Fetcher, HostAllowList};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Serves `router` on 127.0.0.1 on a free port until the test's runtime ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A raw HTTP/1.1 server that answers every connection with `head` (status line and headers,
/// without the blank line), then writes what `body` produces.
pub async fn serve_raw<F, Fut>(head: &'static str, body: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(body);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request head; the tests send no bodies here.
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
                        .await
                        .unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                if stream
                    .write_all(format!("{head}\r\n\r\n").as_bytes())
                    .await
                    .is_ok()
                {
                    body(stream).await;
                }
            });
        }
    });
    addr
}

pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// The policy for tests: defaults, but local servers may be called, and nothing else (no
/// test may reach beyond loopback, not even with a DNS lookup).
pub fn policy() -> FetchPolicy {
    FetchPolicy {
        allow_private: true,
        allow_hosts: Some(HostAllowList::loopback()),
        ..FetchPolicy::default()
    }
}

pub fn fetcher() -> Fetcher {
    Fetcher::new(policy()).unwrap()
}

/// The default policy, which refuses private addresses.
pub fn strict_fetcher() -> Fetcher {
    Fetcher::new(FetchPolicy::default()).unwrap()
}

pub fn auth(credential: Credential) -> Auth {
    Auth {
        credential,
        additional_headers: None,
        additional_query_params: None,
        request_auth: None,
    }
}

pub fn basic(username: &str, password: &str) -> Credential {
    Credential::Basic {
        username: username.into(),
        password: password.into(),
    }
}

pub fn oauth(token_url: &str, client_id: &str, client_secret: &str) -> Credential {
    Credential::OAuth {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        url: token_url.into(),
    }
}

pub fn basic_header(username: &str, password: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn multimap(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(k, vs)| {
            (
                (*k).to_owned(),
                vs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect()
}

/// Headers of every request a handler saw.
pub type Recorded = Arc<Mutex<Vec<HeaderMap>>>;
