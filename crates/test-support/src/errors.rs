//! Assertions on GraphQL errors. A client branches on an error's `extensions.code` (the
//! Director's codes: `VALIDATION_ERROR`, `INVALID_DATA`, `NOT_FOUND`, `NOT_UNIQUE`, `IN_USE`,
//! `FORBIDDEN`, `QUOTA_EXCEEDED`, `INSUFFICIENT_SCOPES`, `INTERNAL`), so tests assert the
//! code; a message substring may be checked beside it.

use serde_json::Value;

/// The first error of a GraphQL response body; fails the test if there is none.
fn first_error(body: &Value) -> &Value {
    match body["errors"].get(0) {
        Some(error) => error,
        None => panic!("expected a GraphQL error, got {body}"),
    }
}

/// The message of the first error of a GraphQL response body; fails if there is none.
pub fn error_message(body: &Value) -> String {
    match first_error(body)["message"].as_str() {
        Some(message) => message.to_owned(),
        None => panic!("the first error has no message: {body}"),
    }
}

/// The `extensions.code` of the first error of a GraphQL response body (None if it has no
/// code); fails if there is no error.
pub fn error_code(body: &Value) -> Option<String> {
    first_error(body)["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// Asserts that a GraphQL response body failed with `code` as its first error's
/// `extensions.code`, and answers that error's message.
#[track_caller]
pub fn assert_error_code(body: &Value, code: &str) -> String {
    assert_eq!(
        error_code(body).as_deref(),
        Some(code),
        "expected error code {code} in {body}"
    );
    error_message(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_first_errors_code_and_message() {
        let body = json!({"data": null, "errors": [
            {"message": "application not found", "extensions": {"code": "NOT_FOUND"}},
            {"message": "another", "extensions": {"code": "INTERNAL"}},
        ]});
        assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
        assert_eq!(
            assert_error_code(&body, "NOT_FOUND"),
            "application not found"
        );
    }

    #[test]
    #[should_panic(expected = "expected error code NOT_FOUND")]
    fn a_different_code_fails() {
        let body = json!({"errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]});
        assert_error_code(&body, "NOT_FOUND");
    }

    #[test]
    #[should_panic(expected = "expected a GraphQL error")]
    fn no_error_fails() {
        assert_error_code(&json!({"data": {}}), "NOT_FOUND");
    }
}
