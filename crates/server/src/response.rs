//! The error answer of the HTTP handlers (the token endpoint answers OAuth2's own):
//! `{"errors": [{"message": …}]}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer with `status` and `message` (401s name the `Bearer` scheme).
pub(crate) fn error_body(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({"errors": [{"message": message}]})),
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
