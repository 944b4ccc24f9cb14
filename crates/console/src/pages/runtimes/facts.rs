//! What changes on a runtime's page by itself: its status and its agent (when it was last
//! seen, whether the configuration it holds is current, its certificate, its connection as
//! the Provisioner sees it), as a fragment of the page, read through the Director's and the
//! Provisioner's GraphQL as the session's consumer.
//!
//! **Polling with an end.** The fragment carries `hx-get` (itself) and
//! `hx-trigger="every 2s"` while it is about to change: while the Provisioner's last
//! operation on the runtime runs, and after a provisioning, upgrade or reconnection succeeded
//! until the agent is seen holding the current configuration (the configuration endpoint
//! writes what it saw every 2 seconds, so the first sighting follows READY), unless the
//! agent has not been seen for a while. Otherwise it carries neither, and the polling stops
//! with it; a page left open on a settled runtime asks nothing.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::operation::{OperationView, Provisioned, provisioned};
use crate::error::ConsoleError;
use crate::fleet::{self, Fleet};
use crate::graphql::{self, Refusal};
use crate::render;
use crate::session::{self, Session};
use crate::state::ConsoleState;

/// The runtime's facts that change by themselves, as its page shows them.
pub(crate) struct Facts {
    pub(crate) status: String,
    pub(crate) status_message: String,
    pub(crate) status_since: String,
    pub(crate) fleet: Fleet,
    /// The agent's connection as the Provisioner sees it (when it provisioned the runtime).
    pub(crate) connection: Option<String>,
    /// The fragment's own URL while it polls.
    pub(crate) poll: Option<String>,
}

/// The runtime's status as the Director answers it.
#[derive(Deserialize)]
pub(crate) struct Status {
    condition: String,
    timestamp: String,
    message: Option<String>,
}

/// The fields a runtime query selects for [`Status`].
pub(crate) const STATUS_FIELDS: &str = "status { condition timestamp message }";

impl Facts {
    pub(crate) fn of(
        runtime_id: &str,
        status: Status,
        fleet: Fleet,
        provisioned: Option<&Provisioned>,
    ) -> Facts {
        let operation = provisioned.and_then(|p| p.operation.as_ref());
        Facts {
            poll: about_to_change(operation, &fleet)
                .then(|| format!("/console/runtimes/{runtime_id}/facts")),
            status: status.condition,
            status_message: status.message.unwrap_or_default(),
            status_since: status.timestamp,
            fleet,
            connection: provisioned.map(|p| p.connection.clone()),
        }
    }
}

/// Whether the facts are about to change: see the module's documentation.
fn about_to_change(operation: Option<&OperationView>, fleet: &Fleet) -> bool {
    match operation {
        None => false,
        Some(op) if !op.terminal => true,
        Some(op) => op.succeeded && !op.gone && fleet.configuration != "Current" && !fleet.stale,
    }
}

#[derive(Deserialize)]
struct Answer {
    runtime: Option<Runtime>,
}

#[derive(Deserialize)]
struct Runtime {
    status: Status,
    agent: Option<fleet::Agent>,
    #[serde(rename = "clientCertificate")]
    client_certificate: Option<fleet::Certificate>,
}

/// The runtime's facts as `session` sees them; `None` when the runtime does not exist or is
/// out of reach.
async fn load(
    state: &ConsoleState,
    session: &Session,
    runtime_id: &str,
) -> Result<Result<Option<Facts>, Vec<Refusal>>, ConsoleError> {
    let query = format!(
        "query($id: ID!) {{ runtime(id: $id) {{ {STATUS_FIELDS} {} }} }}",
        fleet::FIELDS
    );
    let runtime = match graphql::execute::<Answer>(
        state,
        session.consumer(),
        &query,
        json!({ "id": runtime_id }),
    )
    .await?
    {
        Ok(Answer { runtime: Some(r) }) => r,
        Ok(Answer { runtime: None }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    // A Provisioner that refuses to say leaves the Director's facts to show.
    let provisioned = provisioned(state, session, runtime_id)
        .await?
        .ok()
        .flatten();
    Ok(Ok(Some(Facts::of(
        runtime_id,
        runtime.status,
        Fleet::of(runtime.agent.as_ref(), runtime.client_certificate.as_ref()),
        provisioned.as_ref(),
    ))))
}

#[derive(Template)]
#[template(path = "runtime_facts_fragment.html")]
struct FactsFragment {
    facts: Facts,
}

/// The fragment that replaces the facts when they cannot be shown; without a polling
/// trigger, so that a refused or signed-out fragment stops asking.
#[derive(Template)]
#[template(path = "runtime_facts_message.html")]
struct FactsMessage {
    message: String,
}

fn message(status: StatusCode, text: &str) -> Result<Response, ConsoleError> {
    render::html(
        status,
        &FactsMessage {
            message: text.to_owned(),
        },
    )
}

/// `GET /console/runtimes/{id}/facts`: the runtime's facts as a fragment, which htmx polls
/// while they are about to change.
pub(crate) async fn fragment(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(runtime_id): Path<String>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return message(
            StatusCode::UNAUTHORIZED,
            "The console session ended; sign in again to see the runtime.",
        );
    };
    if uuid::Uuid::parse_str(&runtime_id).is_err() {
        return message(StatusCode::NOT_FOUND, "There is no such runtime.");
    }
    match load(&state, &session, &runtime_id).await? {
        Ok(Some(facts)) => render::html(StatusCode::OK, &FactsFragment { facts }),
        Ok(None) => message(StatusCode::NOT_FOUND, "There is no such runtime."),
        Err(refusals) => message(StatusCode::FORBIDDEN, &Refusal::messages(&refusals)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(configuration: &'static str, stale: bool) -> Fleet {
        Fleet {
            last_seen: String::new(),
            stale,
            configuration,
            certificate_expires: String::new(),
            certificate_serial: None,
        }
    }

    fn operation(kind: &str, state: &str) -> OperationView {
        OperationView::for_test(kind, state)
    }

    #[test]
    fn the_facts_poll_until_the_agent_holds_the_current_configuration() {
        let unseen = fleet("Unknown", false);
        let current = fleet("Current", false);
        assert!(!about_to_change(None, &unseen), "not provisioned");
        assert!(about_to_change(
            Some(&operation("Provision", "InProgress")),
            &current
        ));
        assert!(about_to_change(
            Some(&operation("Provision", "Succeeded")),
            &unseen
        ));
        assert!(about_to_change(
            Some(&operation("ReconnectRuntime", "Succeeded")),
            &fleet("Behind", false)
        ));
        assert!(!about_to_change(
            Some(&operation("Provision", "Succeeded")),
            &current
        ));
        assert!(!about_to_change(
            Some(&operation("Provision", "Succeeded")),
            &fleet("Behind", true)
        ));
        assert!(!about_to_change(
            Some(&operation("Provision", "Failed")),
            &unseen
        ));
        assert!(!about_to_change(
            Some(&operation("Deprovision", "Succeeded")),
            &unseen
        ));
    }
}
