//! Reading a POSTed form: only after the caller is known, and at most [`MAX_FORM_BYTES`].

use axum::body::Body;
use axum::http::StatusCode;

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
