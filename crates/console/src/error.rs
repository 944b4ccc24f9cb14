//! [`ConsoleError`]: what fails inside the console (not a refusal: those are pages), and its
//! one mapping to a response. The cause is logged here with its chain; the browser sees a
//! short message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("store")]
    Store(#[from] sextant_store::StoreError),
    #[error("no secure randomness available")]
    Random,
    #[error("rendering a page")]
    Render(#[from] askama::Error),
    #[error("reading a GraphQL answer")]
    Answer(#[from] serde_json::Error),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ConsoleError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database cannot be reached now; try again.",
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
        };
        tracing::error!(error = %sextant_domain::ErrorChain(&self), "console request failed");
        (
            status,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            message,
        )
            .into_response()
    }
}
