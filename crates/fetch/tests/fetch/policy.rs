//! Schemes and private addresses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use sextant_fetch::{FetchError, Method, OutboundRequest};

use crate::helpers::{auth, fetcher, oauth, serve, strict_fetcher, url};

#[tokio::test]
async fn only_http_and_https() {
    for target in [
        "ftp://example.com/spec.yaml",
        "file:///etc/passwd",
        "gopher://x/",
    ] {
        let error = fetcher().fetch(target, None).await.unwrap_err();
        assert!(
            matches!(error, FetchError::SchemeNotAllowed { .. }),
            "{target}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("only http and https URLs can be fetched"),
            "{error}"
        );
    }
    let error = fetcher().fetch("not a url", None).await.unwrap_err();
    assert!(matches!(error, FetchError::InvalidUrl { .. }), "{error:?}");
}

#[tokio::test]
async fn private_addresses_are_refused_without_connecting() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let addr = serve(Router::new().route(
        "/",
        get(move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "reached"
        }),
    ))
    .await;
    let port = addr.port();
    let strict = strict_fetcher();
    for target in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://2130706433:{port}/"),
    ] {
        let error = strict.fetch(&target, None).await.unwrap_err();
        assert!(
            matches!(error, FetchError::AddressNotAllowed { .. }),
            "{target}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .ends_with("is private; fetching private addresses is disabled"),
            "{error}"
        );
        let error = strict
            .send(OutboundRequest::new(Method::POST, target.clone()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, FetchError::AddressNotAllowed { .. }),
            "{target}: {error:?}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // The same server is reachable when private addresses are allowed.
    assert_eq!(
        fetcher().fetch(&url(addr, "/"), None).await.unwrap().body,
        "reached"
    );
    let by_name = fetcher()
        .fetch(&format!("http://localhost:{port}/"), None)
        .await
        .unwrap();
    assert_eq!(by_name.body, "reached");
}

#[tokio::test]
async fn private_token_endpoint_is_refused() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let addr = serve(Router::new().route(
        "/token",
        axum::routing::post(move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "{}"
        }),
    ))
    .await;
    // The target's name is only resolved after the token step, which fails first.
    let auth = auth(oauth(&url(addr, "/token"), "client", "secret"));
    let error = strict_fetcher()
        .fetch("https://api.example.com/spec", Some(&auth))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
    assert!(error.to_string().contains("is private"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}
