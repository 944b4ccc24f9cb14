//! `/oauth2/token`: the OAuth2 client-credentials grant (RFC 6749 section 4.4) for the
//! clients made by `requestClientCredentialsFor*`. The client authenticates with HTTP Basic or
//! with `client_id`/`client_secret` form fields; the answer is a short-lived ES256 access
//! token for the application, runtime or integration system that owns the client, with the
//! scopes its kind allows (narrowed to the requested `scope`, if one is given).
//!
//! A request goes through three steps, each a function: [`TokenRequest::parse`] reads the
//! headers and the form into a typed request, [`authenticate`] finds the client and checks
//! its secret, [`grant`] decides the scopes; [`OAuthError`] is answered as RFC 6749 section
//! 5.2 says, with its `error` code, in one place.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sextant_domain::{Scope, SystemAuth, client_scopes};

use crate::context::AppState;

/// Lifetime of an access token. Deleting the client (or its owner) invalidates its tokens at
/// once regardless: every request checks that the client still exists.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Largest token request body.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

/// Why the token endpoint refuses or fails a request; each is answered with RFC 6749's
/// `error` code (section 5.2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthError {
    /// 400 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `invalid_client`: unknown client, wrong secret, or no (readable) authentication.
    #[error("client authentication failed")]
    InvalidClient,
    /// 400 `unsupported_grant_type`.
    #[error("grant type {0:?} is not supported: use client_credentials")]
    UnsupportedGrantType(String),
    /// 400 `invalid_scope`.
    #[error("scope {0:?} is not allowed for this client")]
    InvalidScope(String),
    /// 500 `server_error`, `internal error`; the cause is logged with `context`.
    #[error("internal error")]
    Server {
        context: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl OAuthError {
    /// The status and RFC 6749's `error` code.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            OAuthError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            OAuthError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
            OAuthError::UnsupportedGrantType(_) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type")
            }
            OAuthError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            OAuthError::Server { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }

    fn server(
        context: &'static str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> OAuthError {
        OAuthError::Server {
            context,
            cause: Box::new(cause),
        }
    }
}

impl IntoResponse for OAuthError {
    /// `{"error", "error_description"}`, never cached; a 401 names the `Basic` scheme. A
    /// server error's cause is logged here, once, with its chain.
    fn into_response(self) -> Response {
        if let OAuthError::Server { context, cause } = &self {
            tracing::error!(error = %sextant_domain::ErrorChain(cause.as_ref()), "token endpoint: {context}");
        }
        let (status, error) = self.status_and_code();
        let mut response = (
            status,
            Json(serde_json::json!({"error": error, "error_description": self.to_string()})),
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
}

/// A token request, as read from the headers and the form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenRequest {
    /// The client's id and secret (HTTP Basic or form fields; the id not yet parsed).
    client: ClientCredentials,
    /// The requested scopes (`None` when `scope` is absent or empty: all allowed).
    scope: Option<Vec<String>>,
}

/// The client's id and secret, as sent.
#[derive(Debug, PartialEq, Eq)]
struct ClientCredentials {
    id: String,
    secret: String,
}

impl TokenRequest {
    /// Reads a client-credentials request (the only grant served), checking in this order:
    /// the content type, the size, no repeated parameter, the grant type, then one way of
    /// authenticating the client.
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "the token request must be application/x-www-form-urlencoded".into(),
            ));
        }
        if body.len() > MAX_FORM_BYTES {
            return Err(OAuthError::InvalidRequest("request too large".into()));
        }
        let mut form: HashMap<String, String> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            if form.insert(key.to_string(), value.into_owned()).is_some() {
                return Err(OAuthError::InvalidRequest(format!(
                    "parameter {key:?} is repeated"
                )));
            }
        }
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {}
            Some(other) => return Err(OAuthError::UnsupportedGrantType(other.to_owned())),
            None => return Err(OAuthError::InvalidRequest("grant_type is missing".into())),
        }
        let client = match (
            basic_credentials(headers),
            form.remove("client_id"),
            form.remove("client_secret"),
        ) {
            (Some(Ok(client)), None, None) => client,
            (Some(Err(())), _, _) => return Err(OAuthError::InvalidClient),
            (None, Some(id), Some(secret)) => ClientCredentials { id, secret },
            (Some(_), _, _) => {
                return Err(OAuthError::InvalidRequest(
                    "use one way to authenticate the client, not two".into(),
                ));
            }
            _ => return Err(OAuthError::InvalidClient),
        };
        let scope = form
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|requested| !requested.is_empty());
        Ok(TokenRequest { client, scope })
    }
}

/// Client id and secret from HTTP Basic (RFC 6749 2.3.1: both form-urlencoded first).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<ClientCredentials, ()>> {
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
        Ok(ClientCredentials {
            id: decode(id),
            secret: decode(secret),
        })
    })();
    Some(parsed)
}

/// The client (system auth) whose id and secret these are.
async fn authenticate(
    state: &AppState,
    client: &ClientCredentials,
) -> Result<SystemAuth, OAuthError> {
    let Ok(client_id) = client.id.parse::<sextant_domain::SystemAuthId>() else {
        return Err(OAuthError::InvalidClient);
    };
    let stored = match state.store().read().await {
        Ok(mut tx) => tx.system_auth(client_id).await,
        Err(e) => Err(e),
    };
    let auth = stored
        .map_err(|e| OAuthError::server("store failed", e))?
        .ok_or(OAuthError::InvalidClient)?;
    let Some(hash) = auth.secret_hash.as_deref() else {
        return Err(OAuthError::InvalidClient);
    };
    if !sextant_auth::secret_matches(&client.secret, hash) {
        return Err(OAuthError::InvalidClient);
    }
    Ok(auth)
}

/// The scopes granted: those the client's kind allows, narrowed to `requested` if given;
/// a requested scope it does not allow refuses the request.
fn grant(auth: &SystemAuth, requested: Option<&[String]>) -> Result<Vec<Scope>, OAuthError> {
    let allowed = client_scopes(auth.owner.consumer_kind());
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    requested
        .iter()
        .map(|name| {
            allowed
                .iter()
                .find(|s| s.as_str() == name)
                .copied()
                .ok_or_else(|| OAuthError::InvalidScope(name.clone()))
        })
        .collect()
}

/// `POST /oauth2/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&state, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn issue(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let request = TokenRequest::parse(headers, body)?;
    let auth = authenticate(state, &request.client).await?;
    let scopes = grant(&auth, request.scope.as_deref())?;
    let token = state
        .issuer()
        .issue_client(&auth, &scopes, ACCESS_TOKEN_TTL)
        .map_err(|e| OAuthError::server("signing failed", e))?;
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
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers
    }

    fn code(result: Result<TokenRequest, OAuthError>) -> &'static str {
        result.unwrap_err().status_and_code().1
    }

    #[test]
    fn a_request_reads_into_its_client_and_scopes() {
        let request = TokenRequest::parse(
            &form_headers(),
            b"grant_type=client_credentials&client_id=a&client_secret=b%2Bc&scope=x+y",
        )
        .unwrap();
        assert_eq!(
            request,
            TokenRequest {
                client: ClientCredentials {
                    id: "a".into(),
                    secret: "b+c".into()
                },
                scope: Some(vec!["x".into(), "y".into()]),
            }
        );
        let mut basic = form_headers();
        basic.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Basic YTpiJTJCYw=="), // a:b%2Bc
        );
        let request = TokenRequest::parse(&basic, b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!(request.client.secret, "b+c");
        assert_eq!(request.scope, None, "an empty scope asks for all allowed");
    }

    #[test]
    fn refusals_carry_rfc_6749_codes() {
        let headers = form_headers();
        assert_eq!(
            code(TokenRequest::parse(
                &HeaderMap::new(),
                b"grant_type=client_credentials"
            )),
            "invalid_request"
        );
        assert_eq!(code(TokenRequest::parse(&headers, b"")), "invalid_request");
        assert_eq!(
            code(TokenRequest::parse(&headers, b"grant_type=password")),
            "unsupported_grant_type"
        );
        assert_eq!(
            code(TokenRequest::parse(
                &headers,
                b"grant_type=client_credentials&grant_type=client_credentials"
            )),
            "invalid_request"
        );
        assert_eq!(
            code(TokenRequest::parse(
                &headers,
                b"grant_type=client_credentials"
            )),
            "invalid_client"
        );
        let mut both = form_headers();
        both.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Basic YTpi"),
        );
        assert_eq!(
            code(TokenRequest::parse(
                &both,
                b"grant_type=client_credentials&client_id=a&client_secret=b"
            )),
            "invalid_request"
        );
        let mut broken = form_headers();
        broken.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Basic !!"),
        );
        assert_eq!(
            code(TokenRequest::parse(
                &broken,
                b"grant_type=client_credentials"
            )),
            "invalid_client"
        );
    }
}
