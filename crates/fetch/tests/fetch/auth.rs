//! Applying an `Auth`: basic, OAuth2 client credentials, CSRF, additional headers and
//! query parameters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sextant_domain::credentials::{CsrfTokenAuth, RequestAuth};
use sextant_fetch::FetchError;

use crate::helpers::{auth, basic, basic_header, fetcher, header, multimap, oauth, serve, url};

/// Answers 200 only with `Authorization: Basic Aladdin:open sesame`.
async fn protected(headers: HeaderMap) -> StatusCode {
    if header(&headers, "authorization") == Some(&basic_header("Aladdin", "open sesame")) {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

#[tokio::test]
async fn basic_auth() {
    let addr = serve(Router::new().route("/", get(protected))).await;
    let fetcher = fetcher();
    let right = auth(basic("Aladdin", "open sesame"));
    assert_eq!(
        fetcher
            .fetch(&url(addr, "/"), Some(&right))
            .await
            .unwrap()
            .status,
        200
    );

    let wrong = auth(basic("Aladdin", "closed"));
    let error = fetcher
        .fetch(&url(addr, "/"), Some(&wrong))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("closed"));

    let error = fetcher.fetch(&url(addr, "/"), None).await.unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 401, .. }),
        "{error:?}"
    );
}

/// A token endpoint and a target, counting calls. The token endpoint issues `token-1`,
/// `token-2`, …; the target accepts the tokens in `accepted`.
#[derive(Clone)]
struct OAuthApp {
    tokens: Arc<AtomicUsize>,
    targets: Arc<AtomicUsize>,
    accepted: &'static [&'static str],
    token_status: StatusCode,
}

impl OAuthApp {
    fn new(accepted: &'static [&'static str]) -> Self {
        Self {
            tokens: Arc::default(),
            targets: Arc::default(),
            accepted,
            token_status: StatusCode::OK,
        }
    }

    async fn start(self) -> std::net::SocketAddr {
        serve(
            Router::new()
                .route("/token", post(issue_token))
                .route("/api", get(oauth_target))
                .with_state(self),
        )
        .await
    }
}

async fn issue_token(
    State(app): State<OAuthApp>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let n = app.tokens.fetch_add(1, Ordering::SeqCst) + 1;
    assert_eq!(
        form,
        [("grant_type".to_owned(), "client_credentials".to_owned())]
    );
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    if app.token_status != StatusCode::OK {
        return app.token_status.into_response();
    }
    if header(&headers, "authorization") != Some(&basic_header("client", "s3cret")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    Json(json!({"access_token": format!("token-{n}"), "token_type": "bearer", "expires_in": 3600}))
        .into_response()
}

async fn oauth_target(State(app): State<OAuthApp>, headers: HeaderMap) -> StatusCode {
    app.targets.fetch_add(1, Ordering::SeqCst);
    let presented = header(&headers, "authorization").unwrap_or_default();
    if app
        .accepted
        .iter()
        .any(|token| presented == format!("Bearer {token}"))
    {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

#[tokio::test]
async fn oauth_token_is_obtained_once_and_reused() {
    let app = OAuthApp::new(&["token-1"]);
    let addr = app.clone().start().await;
    let fetcher = fetcher();
    let auth = auth(oauth(&url(addr, "/token"), "client", "s3cret"));
    for _ in 0..2 {
        let fetched = fetcher
            .fetch(&url(addr, "/api"), Some(&auth))
            .await
            .unwrap();
        assert_eq!(fetched.status, 200);
    }
    assert_eq!(app.tokens.load(Ordering::SeqCst), 1);
    assert_eq!(app.targets.load(Ordering::SeqCst), 2);

    // A clone shares the cache; another secret is another cache entry.
    fetcher
        .clone()
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(app.tokens.load(Ordering::SeqCst), 1);
    let other = crate::helpers::auth(oauth(&url(addr, "/token"), "client", "other"));
    let error = fetcher
        .fetch(&url(addr, "/api"), Some(&other))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
    assert_eq!(app.tokens.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oauth_token_endpoint_failure_is_an_auth_error() {
    let app = OAuthApp {
        token_status: StatusCode::INTERNAL_SERVER_ERROR,
        ..OAuthApp::new(&["token-1"])
    };
    let addr = app.clone().start().await;
    let auth = auth(oauth(
        &url(addr, "/token?tenant=secret"),
        "client",
        "s3cret",
    ));
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert_eq!(app.targets.load(Ordering::SeqCst), 0);

    // Nobody listening at the token endpoint.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let auth = crate::helpers::auth(oauth(&url(dead, "/token"), "client", "s3cret"));
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
}

#[tokio::test]
async fn oauth_401_refreshes_the_token_once() {
    // The target refuses the first token (revoked, say) and accepts the second.
    let app = OAuthApp::new(&["token-2"]);
    let addr = app.clone().start().await;
    let fetcher = fetcher();
    let auth = auth(oauth(&url(addr, "/token"), "client", "s3cret"));
    let fetched = fetcher
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(app.tokens.load(Ordering::SeqCst), 2);
    assert_eq!(app.targets.load(Ordering::SeqCst), 2);
    // The new token is cached.
    fetcher
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(app.tokens.load(Ordering::SeqCst), 2);

    // A target that refuses every token: one refresh, then the 401 stands.
    let app = OAuthApp::new(&[]);
    let addr = app.clone().start().await;
    let auth = crate::helpers::auth(oauth(&url(addr, "/token"), "client", "s3cret"));
    let error = fetcher
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(app.tokens.load(Ordering::SeqCst), 2);
    assert_eq!(app.targets.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn basic_401_is_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let addr = serve(Router::new().route(
        "/",
        get(move || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            StatusCode::UNAUTHORIZED
        }),
    ))
    .await;
    let auth = auth(basic("a", "b"));
    assert!(fetcher().fetch(&url(addr, "/"), Some(&auth)).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A CSRF token endpoint (basic `csrf-user:csrf-pw`, header `X-Csrf-Extra: yes`, query
/// `sap-client=100`) and a target that needs the token, both cookies and the main basic
/// credential.
fn csrf_app(csrf_calls: Arc<AtomicUsize>, token_header: bool) -> Router {
    Router::new()
        .route(
            "/csrf",
            get(
                move |headers: HeaderMap, Query(query): Query<Vec<(String, String)>>| {
                    let csrf_calls = csrf_calls.clone();
                    async move {
                        csrf_calls.fetch_add(1, Ordering::SeqCst);
                        if header(&headers, "x-csrf-token") != Some("Fetch")
                            || header(&headers, "authorization")
                                != Some(&basic_header("csrf-user", "csrf-pw"))
                            || header(&headers, "x-csrf-extra") != Some("yes")
                            || query != [("sap-client".to_owned(), "100".to_owned())]
                        {
                            return StatusCode::FORBIDDEN.into_response();
                        }
                        let mut response = StatusCode::OK.into_response();
                        let out = response.headers_mut();
                        if token_header {
                            out.insert("x-csrf-token", "tok-123".parse().unwrap());
                        }
                        out.append(
                            "set-cookie",
                            "session=abc; Path=/; HttpOnly".parse().unwrap(),
                        );
                        out.append("set-cookie", "route=r1".parse().unwrap());
                        response
                    }
                },
            ),
        )
        .route(
            "/api",
            get(|headers: HeaderMap| async move {
                let cookie = header(&headers, "cookie").unwrap_or_default();
                if header(&headers, "x-csrf-token") == Some("tok-123")
                    && cookie.contains("session=abc")
                    && cookie.contains("route=r1")
                    && header(&headers, "authorization") == Some(&basic_header("user", "pw"))
                {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                }
            }),
        )
}

fn csrf_auth(endpoint: String) -> sextant_domain::credentials::Auth {
    let mut auth = auth(basic("user", "pw"));
    auth.request_auth = Some(RequestAuth {
        csrf: Some(CsrfTokenAuth {
            token_endpoint_url: endpoint,
            credential: basic("csrf-user", "csrf-pw"),
            additional_headers: Some(multimap(&[("X-Csrf-Extra", &["yes"])])),
            additional_query_params: Some(multimap(&[("sap-client", &["100"])])),
        }),
    });
    auth
}

#[tokio::test]
async fn csrf_token_and_cookies_are_sent() {
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = serve(csrf_app(calls.clone(), true)).await;
    let auth = csrf_auth(url(addr, "/csrf"));
    let fetched = fetcher()
        .fetch(&url(addr, "/api"), Some(&auth))
        .await
        .unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Without the CSRF step the target refuses.
    let plain = crate::helpers::auth(basic("user", "pw"));
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&plain))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 403, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn csrf_failure_fails_the_call() {
    // The endpoint sends no token.
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = serve(csrf_app(calls.clone(), false)).await;
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&csrf_auth(url(addr, "/csrf"))))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
    assert!(
        error.to_string().contains("no X-CSRF-Token header"),
        "{error}"
    );

    // The endpoint refuses.
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&csrf_auth(url(addr, "/nope"))))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
    assert!(error.to_string().contains("404 Not Found"), "{error}");

    // A CSRF endpoint that is not http(s).
    let error = fetcher()
        .fetch(&url(addr, "/api"), Some(&csrf_auth("ftp://x/csrf".into())))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
}

#[tokio::test]
async fn additional_headers_and_query_parameters_arrive() {
    let addr = serve(Router::new().route(
        "/echo",
        get(
            |headers: HeaderMap, Query(query): Query<Vec<(String, String)>>| async move {
                let multi: Vec<_> = headers
                    .get_all("x-multi")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                Json(json!({
                    "apiKey": header(&headers, "x-api-key"),
                    "multi": multi,
                    "query": query,
                }))
            },
        ),
    ))
    .await;
    let mut auth = auth(basic("u", "p"));
    auth.additional_headers = Some(multimap(&[
        ("X-Api-Key", &["k1"]),
        ("X-Multi", &["a", "b"]),
    ]));
    auth.additional_query_params = Some(multimap(&[("api key", &["v&1=é #"]), ("x", &["1", "2"])]));
    let fetched = fetcher()
        .fetch(&url(addr, "/echo?existing=yes"), Some(&auth))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&fetched.body).unwrap();
    assert_eq!(
        body,
        json!({
            "apiKey": "k1",
            "multi": ["a", "b"],
            "query": [["existing", "yes"], ["api key", "v&1=é #"], ["x", "1"], ["x", "2"]],
        })
    );
}

/// A stored `Auth` with a header that frames the message or steers the connection (written
/// before validation refused it) is refused before anything is sent, in the main request's
/// headers and in the CSRF request's.
#[tokio::test]
async fn stored_connection_headers_are_refused_before_sending() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let addr = serve(Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            StatusCode::OK
        }
    }))
    .await;
    for name in [
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Upgrade",
        "TE",
        "Keep-Alive",
        "Proxy-Authorization",
    ] {
        let mut main = auth(basic("u", "p"));
        main.additional_headers = Some(multimap(&[(name, &["evil"])]));
        let mut csrf = csrf_auth(url(addr, "/csrf"));
        if let Some(c) = csrf.request_auth.as_mut().and_then(|r| r.csrf.as_mut()) {
            c.additional_headers = Some(multimap(&[(name, &["evil"])]));
        }
        for auth in [main, csrf] {
            let error = fetcher()
                .fetch(&url(addr, "/api"), Some(&auth))
                .await
                .unwrap_err();
            assert!(matches!(error, FetchError::Auth(_)), "{name}: {error:?}");
            assert!(error.to_string().contains(name), "{error}");
            assert!(error.to_string().contains("cannot be set"), "{error}");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
}
