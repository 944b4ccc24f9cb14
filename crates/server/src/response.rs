//! [`ApiError`]: why an HTTP handler refused or failed a request, and the one place where it
//! becomes the answer (the token endpoint answers OAuth2's own, see `oauth`): a status and
//! `{"errors": [{"message": …, "extensions": {"code": …}}]}`, the shape of a GraphQL error,
//! so that a client reads `errors[0].message` and `errors[0].extensions.code` from every API.

use std::error::Error;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A failure whose cause is logged, never answered.
pub(crate) type Cause = Box<dyn Error + Send + Sync + 'static>;

/// Why an HTTP handler refused or failed a request.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// No credentials, or credentials that are not valid: 401 `UNAUTHENTICATED`.
    Unauthenticated(String),
    /// Valid credentials that do not allow this: 403 `FORBIDDEN`.
    Forbidden(String),
    /// Nothing the caller may see is here: 404 `NOT_FOUND`.
    NotFound(String),
    /// The request cannot be read: 400 `BAD_REQUEST`.
    BadRequest(String),
    /// The body is larger than the endpoint reads: 413 `PAYLOAD_TOO_LARGE`.
    TooLarge(String),
    /// The body is not of the type the endpoint reads: 415 `UNSUPPORTED_MEDIA_TYPE`.
    UnsupportedMediaType(String),
    /// The server cannot answer now (its database); trying again may succeed:
    /// 503 `UNAVAILABLE`. The cause, if any, is logged with `context`.
    Unavailable {
        message: String,
        cause: Option<(&'static str, Cause)>,
    },
    /// A failure the caller cannot act on: 500 `INTERNAL`, `internal error`; the cause is
    /// logged with `context`.
    Internal { context: &'static str, cause: Cause },
}

impl ApiError {
    /// 503 with a cause to log (as `context`).
    pub(crate) fn unavailable(
        message: impl Into<String>,
        context: &'static str,
        cause: impl Error + Send + Sync + 'static,
    ) -> ApiError {
        ApiError::Unavailable {
            message: message.into(),
            cause: Some((context, Box::new(cause))),
        }
    }

    /// 500, its cause logged (as `context`).
    pub(crate) fn internal(
        context: &'static str,
        cause: impl Error + Send + Sync + 'static,
    ) -> ApiError {
        ApiError::Internal {
            context,
            cause: Box::new(cause),
        }
    }

    /// The status and the stable code clients read.
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl ApiError {
    /// A client certificate's refusal (the certificate-secured APIs): 401 names the check's
    /// error as it reads (`unauthenticated: …`).
    pub(crate) fn certificate_refused(e: sextant_auth::AuthError) -> ApiError {
        use sextant_auth::AuthError;
        match e {
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::Unavailable { message, cause } => ApiError::Unavailable {
                message,
                cause: cause.map(|cause| ("the credentials could not be checked", cause)),
            },
            e => ApiError::Unauthenticated(e.to_string()),
        }
    }
}

impl From<sextant_auth::AuthError> for ApiError {
    /// A bearer token's refusal, as the Director and the Provisioner answer it.
    fn from(e: sextant_auth::AuthError) -> Self {
        use sextant_auth::AuthError;
        match e {
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::Unauthenticated(m) => ApiError::Unauthenticated(m),
            AuthError::Unavailable { message, cause } => ApiError::Unavailable {
                message,
                cause: cause.map(|cause| ("the credentials could not be checked", cause)),
            },
            e @ (AuthError::Key(_) | AuthError::Random) => {
                ApiError::internal("token verification is broken", e)
            }
        }
    }
}

impl IntoResponse for ApiError {
    /// The answer; a cause is logged here, once, with its chain. 401s name the `Bearer`
    /// scheme.
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::BadRequest(m)
            | ApiError::TooLarge(m)
            | ApiError::UnsupportedMediaType(m) => m,
            ApiError::Unavailable { message, cause } => {
                if let Some((context, cause)) = cause {
                    tracing::error!(error = %sextant_domain::ErrorChain(cause.as_ref()), "{context}");
                }
                message
            }
            ApiError::Internal { context, cause } => {
                tracing::error!(error = %sextant_domain::ErrorChain(cause.as_ref()), "{context}");
                "internal error".to_owned()
            }
        };
        let mut response = (
            status,
            Json(serde_json::json!({
                "errors": [{"message": message, "extensions": {"code": code}}]
            })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database is locked")]
    struct StoreDown;

    /// A certificate that could not be checked answers 503 with a short message; the store's
    /// error travels with it to be logged, and never reaches the answer.
    #[test]
    fn an_unchecked_certificate_keeps_its_cause_for_the_log() {
        let refused = ApiError::certificate_refused(sextant_auth::AuthError::Unavailable {
            message: "the certificate could not be checked; try again".into(),
            cause: Some(Box::new(StoreDown)),
        });
        let ApiError::Unavailable {
            message,
            cause: Some((_, cause)),
        } = &refused
        else {
            panic!("not a 503 with its cause: {refused:?}");
        };
        assert_eq!(message, "the certificate could not be checked; try again");
        assert_eq!(cause.to_string(), "database is locked");
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    /// The same for a bearer token whose check failed.
    #[test]
    fn an_unchecked_token_keeps_its_cause_for_the_log() {
        let refused = ApiError::from(sextant_auth::AuthError::Unavailable {
            message: "the token could not be checked; try again".into(),
            cause: Some(Box::new(StoreDown)),
        });
        assert!(
            matches!(&refused, ApiError::Unavailable { cause: Some((_, c)), .. } if c.to_string() == "database is locked"),
            "{refused:?}"
        );
    }
}
