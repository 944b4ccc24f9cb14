//! Running a GraphQL document in-process against the Director's (or the Provisioner's)
//! schema as the session's consumer, the way `/director/graphql` (`/provisioner/graphql`)
//! does, and reading the answer into view structs.

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sextant_domain::Consumer;

use crate::error::ConsoleError;
use crate::state::ConsoleState;

/// A GraphQL error as a page shows it: its message, and its `extensions.code`.
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    pub(crate) message: String,
    pub(crate) code: Option<String>,
}

impl Refusal {
    pub(crate) fn is_not_found(refusals: &[Refusal]) -> bool {
        refusals
            .iter()
            .any(|r| r.code.as_deref() == Some("NOT_FOUND"))
    }

    /// The status of a page that shows these refusals beside its form: 403 when the
    /// session's scopes do not allow the action, else 422 (the input was refused).
    pub(crate) fn status(refusals: &[Refusal]) -> StatusCode {
        if refusals
            .iter()
            .any(|r| r.code.as_deref() == Some("INSUFFICIENT_SCOPES"))
        {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    /// The messages, one sentence after another.
    pub(crate) fn messages(refusals: &[Refusal]) -> String {
        refusals
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Executes `query` with `variables` as `consumer`: `Ok(Ok(data))` when the Director answered
/// without errors, `Ok(Err(refusals))` when it answered with errors (nothing a mutation did
/// was kept: a mutation commits only on success).
pub(crate) async fn execute<T: DeserializeOwned>(
    state: &ConsoleState,
    consumer: Consumer,
    query: &str,
    variables: serde_json::Value,
) -> Result<Result<T, Vec<Refusal>>, ConsoleError> {
    let request = sextant_director::prepare(request(query, variables), consumer, state.store());
    answer(state.schema().execute(request).await)
}

/// Executes `query` against the Provisioner's schema as `consumer`, the way
/// `/provisioner/graphql` does (`sextant_provisioner::prepare`); answers as [`execute`].
pub(crate) async fn execute_provisioner<T: DeserializeOwned>(
    state: &ConsoleState,
    consumer: Consumer,
    query: &str,
    variables: serde_json::Value,
) -> Result<Result<T, Vec<Refusal>>, ConsoleError> {
    let request = sextant_provisioner::prepare(request(query, variables), consumer);
    answer(state.provisioner().execute(request).await)
}

fn request(query: &str, variables: serde_json::Value) -> async_graphql::Request {
    async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables))
}

/// The answer's data read into `T`, or its errors as refusals.
fn answer<T: DeserializeOwned>(
    response: async_graphql::Response,
) -> Result<Result<T, Vec<Refusal>>, ConsoleError> {
    if !response.errors.is_empty() {
        return Ok(Err(response
            .errors
            .into_iter()
            .map(|e| Refusal {
                code: e
                    .extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .and_then(|v| match v {
                        async_graphql::Value::String(s) => Some(s.clone()),
                        _ => None,
                    }),
                message: e.message,
            })
            .collect()));
    }
    let data = response.data.into_json()?;
    Ok(Ok(serde_json::from_value(data)?))
}
