//! Fetching and sending: status, content type, timeouts, sizes, encodings.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::routing::{any, get};
use sextant_fetch::{FetchError, FetchPolicy, Fetcher, OutboundRequest};
use tokio::io::AsyncWriteExt;

use crate::helpers::{fetcher, policy, serve, serve_raw, url};

#[tokio::test]
async fn fetches_text_with_content_type() {
    let addr = serve(Router::new().route(
        "/spec",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"openapi":"3.0.0"}"#,
            )
        }),
    ))
    .await;
    let fetched = fetcher().fetch(&url(addr, "/spec"), None).await.unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, r#"{"openapi":"3.0.0"}"#);
    assert_eq!(fetched.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn non_2xx_is_a_status_error_without_the_query_string() {
    let addr = serve(Router::new()).await;
    let error = fetcher()
        .fetch(&url(addr, "/missing?token=secret"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("GET http://{addr}/missing answered 404 Not Found")
    );
}

#[tokio::test]
async fn slow_answer_times_out_quickly() {
    let addr = serve(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late"
        }),
    ))
    .await;
    let fetcher = Fetcher::new(FetchPolicy {
        timeout: Duration::from_millis(300),
        ..policy()
    })
    .unwrap();
    let started = Instant::now();
    let error = fetcher.fetch(&url(addr, "/slow"), None).await.unwrap_err();
    assert!(matches!(error, FetchError::Timeout { .. }), "{error:?}");
    assert_eq!(error.to_string(), "timed out after 300ms");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn slow_body_times_out_quickly() {
    // Headers at once, then the body never comes.
    let addr = serve_raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 100",
        |mut stream| async move {
            stream.write_all(b"partial").await.ok();
            tokio::time::sleep(Duration::from_secs(10)).await;
        },
    )
    .await;
    let fetcher = Fetcher::new(FetchPolicy {
        timeout: Duration::from_millis(300),
        ..policy()
    })
    .unwrap();
    let started = Instant::now();
    let error = fetcher.fetch(&url(addr, "/"), None).await.unwrap_err();
    assert!(matches!(error, FetchError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

const THREE_MIB: usize = 3 * 1024 * 1024;

#[tokio::test]
async fn streamed_body_over_the_limit_is_refused() {
    // Chunked, so no Content-Length warns the client.
    let addr = serve_raw(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
        |mut stream| async move {
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..THREE_MIB / chunk.len() {
                let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                frame.extend_from_slice(&chunk);
                frame.extend_from_slice(b"\r\n");
                if stream.write_all(&frame).await.is_err() {
                    return; // the client gave up, as it should
                }
            }
            stream.write_all(b"0\r\n\r\n").await.ok();
        },
    )
    .await;
    let error = fetcher().fetch(&url(addr, "/"), None).await.unwrap_err();
    assert!(
        matches!(error, FetchError::TooLarge { limit } if limit == sextant_domain::MAX_SPEC_BYTES),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the response is larger than 2097152 bytes"
    );
}

#[tokio::test]
async fn declared_body_over_the_limit_is_refused() {
    let addr = serve(Router::new().route("/", get(|| async { vec![b'a'; THREE_MIB] }))).await;
    let error = fetcher().fetch(&url(addr, "/"), None).await.unwrap_err();
    assert!(matches!(error, FetchError::TooLarge { .. }), "{error:?}");

    // Exactly the limit is fine.
    let small = Fetcher::new(FetchPolicy {
        max_bytes: 10,
        ..policy()
    })
    .unwrap();
    let addr = serve(Router::new().route("/", get(|| async { "0123456789" }))).await;
    assert_eq!(
        small.fetch(&url(addr, "/"), None).await.unwrap().body,
        "0123456789"
    );
}

#[tokio::test]
async fn non_utf8_body_is_refused() {
    let addr = serve(Router::new().route("/", get(|| async { vec![0xffu8, 0xfe, 0x00] }))).await;
    let error = fetcher().fetch(&url(addr, "/"), None).await.unwrap_err();
    assert!(matches!(error, FetchError::NotUtf8), "{error:?}");
}

#[tokio::test]
async fn send_returns_any_status_with_headers_and_body() {
    let addr = serve(Router::new().route(
        "/hook",
        any(
            |method: Method, headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (
                    StatusCode::ACCEPTED,
                    [("x-seen", content_type)],
                    format!("{method} {}", String::from_utf8_lossy(&body)),
                )
            },
        ),
    ))
    .await;
    let mut request = OutboundRequest::new(Method::POST, url(addr, "/hook")).with_body("payload");
    request
        .headers
        .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    let response = fetcher().send(request, None).await.unwrap();
    assert_eq!(response.status, 202);
    assert_eq!(response.headers["x-seen"], "text/plain");
    assert_eq!(response.body, b"POST payload");

    let response = fetcher()
        .send(
            OutboundRequest::new(Method::GET, url(addr, "/nothing")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind and drop, so nothing listens on the port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = fetcher()
        .fetch(&url(addr, "/?key=secret"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
}
