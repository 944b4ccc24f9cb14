//! Redirects: limits, loops, schemes, methods and credentials across origins.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use sextant_fetch::{FetchError, FetchPolicy, Fetcher, OutboundRequest};

use crate::helpers::{
    Recorded, auth, basic, basic_header, fetcher, header, multimap, policy, serve, url,
};

/// `/hop/{n}` redirects to `/hop/{n-1}`; `/hop/0` answers.
fn hops() -> Router {
    Router::new()
        .route(
            "/hop/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    "arrived".into_response()
                } else {
                    Redirect::to(&format!("/hop/{}", n - 1)).into_response()
                }
            }),
        )
        .route("/loop", get(|| async { Redirect::to("/loop") }))
        .route(
            "/ftp",
            get(|| async { Redirect::to("ftp://example.com/x") }),
        )
        .route(
            "/no-location",
            get(|| async { (StatusCode::FOUND, "nowhere") }),
        )
}

#[tokio::test]
async fn follows_up_to_the_limit() {
    let addr = serve(hops()).await;
    let fetched = fetcher().fetch(&url(addr, "/hop/5"), None).await.unwrap();
    assert_eq!(fetched.body, "arrived");

    let error = fetcher()
        .fetch(&url(addr, "/hop/6"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::TooManyRedirects { limit: 5 }),
        "{error:?}"
    );

    let none = Fetcher::new(FetchPolicy {
        max_redirects: 0,
        ..policy()
    })
    .unwrap();
    assert!(none.fetch(&url(addr, "/hop/0"), None).await.is_ok());
    let error = none.fetch(&url(addr, "/hop/1"), None).await.unwrap_err();
    assert!(
        matches!(error, FetchError::TooManyRedirects { limit: 0 }),
        "{error:?}"
    );
}

#[tokio::test]
async fn redirect_loop_stops() {
    let addr = serve(hops()).await;
    let error = fetcher()
        .fetch(&url(addr, "/loop"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::TooManyRedirects { .. }),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "stopped after 5 redirects");
}

#[tokio::test]
async fn redirect_to_another_scheme_is_refused() {
    let addr = serve(hops()).await;
    let error = fetcher().fetch(&url(addr, "/ftp"), None).await.unwrap_err();
    assert!(
        matches!(error, FetchError::SchemeNotAllowed { .. }),
        "{error:?}"
    );

    // A 302 without Location is an answer like any other.
    let error = fetcher()
        .fetch(&url(addr, "/no-location"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 302, .. }),
        "{error:?}"
    );
}

fn recorder(recorded: Recorded) -> Router {
    Router::new().route(
        "/landing",
        any(move |headers: HeaderMap| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().unwrap().push(headers);
                "landed"
            }
        }),
    )
}

#[tokio::test]
async fn credentials_do_not_follow_to_another_origin() {
    let recorded: Recorded = Arc::default();
    let other = serve(recorder(recorded.clone())).await;
    let landing = url(other, "/landing");
    let origin = serve(
        Router::new()
            .route(
                "/away",
                get(move || async move { Redirect::temporary(&landing) }),
            )
            .merge(recorder(recorded.clone())),
    )
    .await;
    let mut auth = auth(basic("Aladdin", "open sesame"));
    auth.additional_headers = Some(multimap(&[("X-Api-Key", &["k1"])]));

    let fetched = fetcher()
        .fetch(&url(origin, "/away"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(fetched.body, "landed");
    {
        let seen = recorded.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(header(&seen[0], "authorization"), None);
        assert_eq!(header(&seen[0], "x-api-key"), None);
    }

    // `localhost` and `127.0.0.1` on the same port are different origins too.
    recorded.lock().unwrap().clear();
    let by_name = format!("http://localhost:{}/landing", origin.port());
    let bounce =
        serve(Router::new().route("/", get(move || async move { Redirect::to(&by_name) }))).await;
    fetcher()
        .fetch(&url(bounce, "/"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(header(&recorded.lock().unwrap()[0], "authorization"), None);
}

#[tokio::test]
async fn credentials_follow_on_the_same_origin() {
    let addr = serve(
        Router::new()
            .route("/old", get(|| async { Redirect::permanent("/new") }))
            .route(
                "/new",
                get(|headers: HeaderMap| async move {
                    if header(&headers, "authorization")
                        == Some(&basic_header("Aladdin", "open sesame"))
                    {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    }
                }),
            ),
    )
    .await;
    let auth = auth(basic("Aladdin", "open sesame"));
    let fetched = fetcher()
        .fetch(&url(addr, "/old"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
}

#[tokio::test]
async fn see_other_turns_post_into_get_and_307_keeps_it() {
    let addr = serve(
        Router::new()
            .route("/303", any(|| async { Redirect::to("/echo") }))
            .route("/307", any(|| async { Redirect::temporary("/echo") }))
            .route(
                "/echo",
                any(
                    |method: Method, headers: HeaderMap, body: Bytes| async move {
                        format!(
                            "{method} {} {}",
                            header(&headers, "content-type").unwrap_or("-"),
                            String::from_utf8_lossy(&body)
                        )
                    },
                ),
            ),
    )
    .await;
    let post = |path: &str| {
        let mut request = OutboundRequest::new(Method::POST, url(addr, path)).with_body("data");
        request
            .headers
            .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        request
    };
    let response = fetcher().send(post("/303"), None).await.unwrap();
    assert_eq!(response.body, b"GET - ");
    let response = fetcher().send(post("/307"), None).await.unwrap();
    assert_eq!(response.body, b"POST text/plain data");
}
