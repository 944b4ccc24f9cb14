//! Reading a POSTed form: only after the caller is known, and at most [`MAX_FORM_BYTES`];
//! [`posted`] refuses a POST without a session or without its CSRF token before anything is
//! done.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ConsoleError;
use crate::render::{bad_csrf, no_session};
use crate::session::{self, Session};
use crate::state::ConsoleState;

/// The largest form the console accepts (a registration with its labels is far smaller).
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The fields of an `application/x-www-form-urlencoded` body, in order.
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The field, trimmed, or "" when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_owned()
    }
}

/// Reads the body as a form; `413` when it is larger than the limit.
pub(crate) async fn read(body: Body) -> Result<FormData, StatusCode> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    Ok(FormData(
        url::form_urlencoded::parse(&bytes).into_owned().collect(),
    ))
}

/// Loads the session and the form of a POST, refusing without a session (401) or without
/// the session's CSRF token (403), before anything is done.
pub(crate) async fn posted(
    state: &ConsoleState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Result<(Session, FormData), Response>, ConsoleError> {
    let Some(session) = session::current(state, headers).await? else {
        return Ok(Err(no_session()));
    };
    let form = match read(body).await {
        Ok(form) => form,
        Err(status) => return Ok(Err(status.into_response())),
    };
    if !session.csrf_matches(form.get("csrf")) {
        return Ok(Err(bad_csrf()));
    }
    Ok(Ok((session, form)))
}
