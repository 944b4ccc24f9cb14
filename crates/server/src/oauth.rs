//! `/oauth2/token`: the OAuth2 client-credentials grant (RFC 6749 section 4.4) for the
//! clients made by `requestClientCredentialsFor*`. The client authenticates with HTTP Basic or
//! with `client_id`/`client_secret` form fields; the answer is a short-lived ES256 access
//! token for the application, runtime or integration system that owns the client, with the
//! scopes its kind allows (narrowed to the requested `scope`, if one is given).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sextant_domain::{Scope, client_scopes};

use crate::context::AppState;

/// Lifetime of an access token. Deleting the client (or its owner) invalidates its tokens at
/// once regardless: every request checks that the client still exists.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Largest token request body.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"sextant\""),
        );
    }
    response
}

fn invalid_client() -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    )
}

/// Client id and secret from HTTP Basic (RFC 6749 2.3.1: both form-urlencoded first).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let parsed = (|| {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| ())?;
        let text = String::from_utf8(decoded).map_err(|_| ())?;
        let (id, secret) = text.split_once(':').ok_or(())?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok((decode(id), decode(secret)))
    })();
    Some(parsed)
}

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        );
    }
    if body.len() > MAX_FORM_BYTES {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request too large",
        );
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        if form.insert(key.to_string(), value.into_owned()).is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("parameter {key:?} is repeated"),
            );
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant type {other:?} is not supported: use client_credentials"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
    }
    let (client_id, secret) = match (
        basic_credentials(&headers),
        form.get("client_id"),
        form.get("client_secret"),
    ) {
        (Some(Ok(pair)), None, None) => pair,
        (Some(Err(())), _, _) => return invalid_client(),
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (Some(_), _, _) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one way to authenticate the client, not two",
            );
        }
        _ => return invalid_client(),
    };
    let Ok(client_id) = client_id.parse::<sextant_domain::SystemAuthId>() else {
        return invalid_client();
    };
    let stored = match state.store().read().await {
        Ok(mut tx) => tx.system_auth(client_id).await,
        Err(e) => Err(e),
    };
    let auth = match stored {
        Ok(Some(auth)) => auth,
        Ok(None) => return invalid_client(),
        Err(e) => {
            tracing::error!(error = %sextant_domain::ErrorChain(&e), "token endpoint: store failed");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            );
        }
    };
    let Some(hash) = auth.secret_hash.as_deref() else {
        return invalid_client();
    };
    if !sextant_auth::secret_matches(&secret, hash) {
        return invalid_client();
    }
    let allowed = client_scopes(auth.owner.consumer_kind());
    let scopes: Vec<Scope> = match form
        .get("scope")
        .map(|s| s.split_whitespace().collect::<Vec<_>>())
    {
        None => allowed.to_vec(),
        Some(requested) if requested.is_empty() => allowed.to_vec(),
        Some(requested) => {
            let mut granted = Vec::new();
            for name in requested {
                match allowed.iter().find(|s| s.as_str() == name) {
                    Some(scope) => granted.push(*scope),
                    None => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            &format!("scope {name:?} is not allowed for this client"),
                        );
                    }
                }
            }
            granted
        }
    };
    let token = match state
        .issuer()
        .issue_client(&auth, &scopes, ACCESS_TOKEN_TTL)
    {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "token endpoint: signing failed");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            );
        }
    };
    let mut response = Json(serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "scope": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
