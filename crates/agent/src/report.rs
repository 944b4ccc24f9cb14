//! Reporting to the Director (GraphQL over mTLS, header `Tenant: <TENANT>`): the runtime's
//! labels `runtime/event_service_url` and `runtime/console_url` once configured, and its
//! status (`setRuntimeStatus`: READY when connected and configured, FAILED with the reason
//! when applying fails). Only what changed since the last successful report is sent; a
//! failed report is retried with backoff.

use std::collections::HashMap;

use serde_json::json;
use sextant_client::http::{self, Security};

use crate::backoff::Backoff;
use crate::failure::Failure;
use crate::session::{Desired, Session, SessionEnd, Shared, StatusReport};

/// `setRuntimeLabel`.
const SET_LABEL: &str = "mutation($id: ID!, $key: String!, $value: Any!) { setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key value } }";
/// `setRuntimeStatus`.
const SET_STATUS: &str = "mutation($id: ID!, $condition: RuntimeStatusCondition!, $message: String) { setRuntimeStatus(id: $id, condition: $condition, message: $message) { id } }";

async fn director(
    shared: &Shared,
    session: &Session,
    query: &str,
    variables: serde_json::Value,
) -> Result<(), Failure> {
    let link = session.link.load_full();
    let tenant = shared.config.bootstrap.tenant.to_string();
    http::graphql(
        &link.client,
        &link.director_url,
        &[("Tenant", &tenant)],
        query,
        variables,
        Security::Certificate,
    )
    .await
    .map(|_| ())
    .map_err(Failure::from)
}

/// Sends what changed (each report on its own: one refused does not hold back the others);
/// answers the first failure, a refused certificate first.
async fn send(
    shared: &Shared,
    session: &Session,
    desired: &Desired,
    sent_labels: &mut HashMap<String, String>,
    sent_status: &mut Option<StatusReport>,
) -> Result<(), Failure> {
    let runtime = shared.config.bootstrap.runtime_id.to_string();
    let mut failure: Option<Failure> = None;
    let mut note = |e: Failure| {
        if failure.is_none() || matches!(e, Failure::Refused(_)) {
            failure = Some(e);
        }
    };
    for (key, value) in &desired.labels {
        if sent_labels.get(key) == Some(value) {
            continue;
        }
        let variables = json!({"id": runtime, "key": key, "value": value});
        match director(shared, session, SET_LABEL, variables).await {
            Ok(()) => {
                tracing::info!(%key, %value, "set the runtime's label");
                sent_labels.insert(key.clone(), value.clone());
            }
            Err(e) => note(e),
        }
    }
    if let Some(status) = &desired.status
        && sent_status.as_ref() != Some(status)
    {
        let variables =
            json!({"id": runtime, "condition": status.condition, "message": status.message});
        match director(shared, session, SET_STATUS, variables).await {
            Ok(()) => {
                tracing::info!(condition = status.condition, message = ?status.message, "reported the runtime's status");
                *sent_status = Some(status.clone());
            }
            Err(e) => note(e),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Keeps the Director informed until the certificate is refused.
pub(crate) async fn report(shared: &Shared, session: &Session) -> SessionEnd {
    let mut wanted = session.desired.subscribe();
    let mut sent_labels = HashMap::new();
    let mut sent_status = None;
    let mut backoff = Backoff::default();
    loop {
        let desired = wanted.borrow_and_update().clone();
        match send(
            shared,
            session,
            &desired,
            &mut sent_labels,
            &mut sent_status,
        )
        .await
        {
            Ok(()) => {
                backoff.reset();
                if wanted.changed().await.is_err() {
                    // The session owns the sender: it ended.
                    std::future::pending::<()>().await;
                }
            }
            Err(Failure::Refused(reason)) => return SessionEnd::Refused(reason),
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "cannot report to the Director; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = wanted.changed() => {}
                }
            }
        }
    }
}
