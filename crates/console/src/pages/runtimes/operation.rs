//! What the Provisioner knows of a runtime (`runtimeStatus`: its last operation and its
//! agent's connection) and an operation's progress as a fragment of the runtime's page
//! (`runtimeOperationStatus`), through the Provisioner's GraphQL as the session's consumer.
//!
//! **Progress without reloading.** While an operation runs, its fragment carries
//! `hx-get` (itself) and `hx-trigger="every 2s"`, and htmx swaps it for the fresh one; the
//! fragment of a finished operation carries neither, so the polling stops with it. Without
//! JavaScript the page shows the state it was rendered with and a link to reload.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use crate::error::ConsoleError;
use crate::graphql::{self, Refusal};
use crate::render;
use crate::session::{self, Session};
use crate::state::ConsoleState;

/// An operation as its fragment shows it.
pub(crate) struct OperationView {
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) message: String,
    /// Succeeded or failed: the fragment stops polling.
    pub(crate) terminal: bool,
    pub(crate) succeeded: bool,
    /// A deprovisioning that succeeded: the runtime is gone.
    pub(crate) gone: bool,
    /// The fragment's own URL, which it polls while the operation runs.
    pub(crate) href: String,
    /// The runtime's page (a reload without JavaScript).
    pub(crate) runtime_href: String,
}

/// What the Provisioner knows of a runtime it provisioned.
pub(crate) struct Provisioned {
    /// The agent's connection as the Provisioner sees it.
    pub(crate) connection: String,
    pub(crate) operation: Option<OperationView>,
}

#[derive(Deserialize)]
struct Operation {
    id: Option<String>,
    operation: String,
    state: String,
    message: Option<String>,
    #[serde(rename = "runtimeID")]
    runtime_id: Option<String>,
}

const OPERATION_FIELDS: &str = "id operation state message runtimeID";

fn kind_text(kind: &str) -> String {
    match kind {
        "Provision" => "Provisioning",
        "Upgrade" => "Upgrade",
        "Deprovision" => "Deprovisioning",
        "ReconnectRuntime" => "Reconnecting the agent",
        other => other,
    }
    .to_owned()
}

fn state_text(state: &str) -> String {
    match state {
        "InProgress" => "In progress",
        other => other,
    }
    .to_owned()
}

impl OperationView {
    fn of(op: Operation, runtime_id: &str) -> OperationView {
        let runtime_href = format!("/console/runtimes/{runtime_id}");
        let terminal = matches!(op.state.as_str(), "Succeeded" | "Failed");
        OperationView {
            href: format!(
                "{runtime_href}/operations/{}",
                op.id.as_deref().unwrap_or_default()
            ),
            gone: op.operation == "Deprovision" && op.state == "Succeeded",
            kind: kind_text(&op.operation),
            state: state_text(&op.state),
            message: op.message.unwrap_or_default(),
            terminal,
            succeeded: op.state == "Succeeded",
            runtime_href,
        }
    }

    /// A view of the runtime `rt`'s operation of `kind` in `state`, as the Provisioner names
    /// them.
    #[cfg(test)]
    pub(crate) fn for_test(kind: &str, state: &str) -> OperationView {
        OperationView::of(
            Operation {
                id: Some("op".into()),
                operation: kind.into(),
                state: state.into(),
                message: None,
                runtime_id: Some("rt".into()),
            },
            "rt",
        )
    }
}

#[derive(Deserialize)]
struct StatusAnswer {
    #[serde(rename = "runtimeStatus")]
    runtime_status: Option<RuntimeStatus>,
}

#[derive(Deserialize)]
struct RuntimeStatus {
    #[serde(rename = "lastOperationStatus")]
    last_operation_status: Option<Operation>,
    #[serde(rename = "runtimeConnectionStatus")]
    runtime_connection_status: Option<Connection>,
    /// Present when the Provisioner provisioned the runtime (it answers a status for every
    /// runtime of the Director's).
    #[serde(rename = "runtimeConfiguration")]
    runtime_configuration: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Connection {
    status: String,
}

/// What the Provisioner knows of the runtime: `None` when it did not provision it.
pub(crate) async fn provisioned(
    state: &ConsoleState,
    session: &Session,
    runtime_id: &str,
) -> Result<Result<Option<Provisioned>, Vec<Refusal>>, ConsoleError> {
    let query = format!(
        "query($id: String!) {{ runtimeStatus(id: $id) {{ \
         lastOperationStatus {{ {OPERATION_FIELDS} }} runtimeConnectionStatus {{ status }} \
         runtimeConfiguration {{ clusterConfig {{ __typename }} }} }} }}"
    );
    let answer = graphql::execute_provisioner::<StatusAnswer>(
        state,
        session.consumer(),
        &query,
        json!({ "id": runtime_id }),
    )
    .await?;
    Ok(answer.map(|a| {
        a.runtime_status
            .filter(|status| status.runtime_configuration.is_some())
            .map(|status| Provisioned {
                connection: status
                    .runtime_connection_status
                    .map(|c| c.status)
                    .unwrap_or_default(),
                operation: status
                    .last_operation_status
                    .map(|op| OperationView::of(op, runtime_id)),
            })
    }))
}

#[derive(Deserialize)]
struct OperationAnswer {
    #[serde(rename = "runtimeOperationStatus")]
    runtime_operation_status: Option<Operation>,
}

/// The operation `id` if it is one of the runtime's (else `None`, as for an unknown one).
pub(crate) async fn operation_of(
    state: &ConsoleState,
    session: &Session,
    runtime_id: &str,
    id: &str,
) -> Result<Result<Option<OperationView>, Vec<Refusal>>, ConsoleError> {
    let query = format!(
        "query($id: String!) {{ runtimeOperationStatus(id: $id) {{ {OPERATION_FIELDS} }} }}"
    );
    let answer = graphql::execute_provisioner::<OperationAnswer>(
        state,
        session.consumer(),
        &query,
        json!({ "id": id }),
    )
    .await?;
    Ok(answer.map(|a| {
        a.runtime_operation_status
            .filter(|op| op.runtime_id.as_deref() == Some(runtime_id))
            .map(|op| OperationView::of(op, runtime_id))
    }))
}

/// The fragment of an operation's progress (also included in the runtime's page).
#[derive(Template)]
#[template(path = "runtime_operation_fragment.html")]
struct OperationFragment {
    operation: OperationView,
}

/// The fragment that replaces the progress when it cannot be shown; without a polling
/// trigger, so that a refused or signed-out fragment stops asking.
#[derive(Template)]
#[template(path = "runtime_operation_message.html")]
struct OperationMessage {
    message: String,
    runtime_href: String,
}

fn message(status: StatusCode, text: &str, runtime_id: &str) -> Result<Response, ConsoleError> {
    render::html(
        status,
        &OperationMessage {
            message: text.to_owned(),
            runtime_href: format!("/console/runtimes/{}", render::segment(runtime_id)),
        },
    )
}

/// `GET /console/runtimes/{id}/operations/{operation}`: the operation's progress as a
/// fragment, which htmx polls while it runs.
pub(crate) async fn fragment(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((runtime_id, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return message(
            StatusCode::UNAUTHORIZED,
            "The console session ended; sign in again to follow the operation.",
            &runtime_id,
        );
    };
    if uuid::Uuid::parse_str(&runtime_id).is_err() {
        return message(
            StatusCode::NOT_FOUND,
            "There is no such operation.",
            &runtime_id,
        );
    }
    match operation_of(&state, &session, &runtime_id, &id).await? {
        Ok(Some(operation)) => render::html(StatusCode::OK, &OperationFragment { operation }),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            "There is no such operation.",
            &runtime_id,
        ),
        Err(refusals) => message(
            StatusCode::FORBIDDEN,
            &Refusal::messages(&refusals),
            &runtime_id,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(operation: &str, state: &str) -> Operation {
        Operation {
            id: Some("op".into()),
            operation: operation.into(),
            state: state.into(),
            message: Some("why".into()),
            runtime_id: Some("rt".into()),
        }
    }

    #[test]
    fn only_a_running_operation_polls() {
        let running = OperationView::of(op("Provision", "InProgress"), "rt");
        assert!(!running.terminal);
        assert_eq!(running.href, "/console/runtimes/rt/operations/op");
        assert_eq!(running.state, "In progress");
        for state in ["Succeeded", "Failed"] {
            assert!(OperationView::of(op("Upgrade", state), "rt").terminal);
        }
        assert!(OperationView::of(op("Deprovision", "Succeeded"), "rt").gone);
        assert!(!OperationView::of(op("Deprovision", "Failed"), "rt").gone);
    }
}
