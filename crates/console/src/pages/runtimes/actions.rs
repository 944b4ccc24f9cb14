//! The Provisioner's actions, through its GraphQL as the session's consumer: provisioning a
//! new runtime from a form (`provisionRuntime` with `runtimeInput` and the local provider's
//! `localConfig`), deprovisioning (the name typed to confirm), reconnecting the agent and
//! upgrading. Each answers with the runtime's page, whose progress fragment follows the
//! operation it started. The Provisioner decides: it requires runtime:write and a user, and
//! runs one operation per runtime at a time.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use crate::error::ConsoleError;
use crate::form::{self, FormData};
use crate::graphql::{self, Refusal};
use crate::labels::parse_labels;
use crate::render::{self, Chrome, not_found, read_refused, refusal, see_other, to_login};
use crate::session;
use crate::state::ConsoleState;

use super::{DetailPage, DetailQuery, NAV, load_detail};

/// What the provisioning form holds (kept as typed when refused).
#[derive(Default)]
struct Fields {
    name: String,
    description: String,
    labels: String,
    event_service_url: String,
    console_url: String,
    gateway_allow_private: bool,
}

#[derive(Template)]
#[template(path = "runtime_new.html")]
struct NewPage {
    chrome: Chrome,
    fields: Fields,
    error: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    if !session.has(sextant_domain::Scope::RuntimeWrite) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "This session may not provision runtimes (it lacks runtime:write).",
        ));
    }
    render::html(
        StatusCode::OK,
        &NewPage {
            chrome: Chrome::of(&session, NAV),
            fields: Fields {
                gateway_allow_private: true,
                ..Fields::default()
            },
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct Provisioned {
    #[serde(rename = "provisionRuntime")]
    operation: String,
}

#[derive(Deserialize)]
struct OperationAnswer {
    #[serde(rename = "runtimeOperationStatus")]
    runtime_operation_status: Option<OperationRuntime>,
}

#[derive(Deserialize)]
struct OperationRuntime {
    #[serde(rename = "runtimeID")]
    runtime_id: Option<String>,
}

/// The `provisionRuntime` input the form stands for: the runtime to register and the local
/// provider's settings (the blank ones left to the provider's defaults).
fn provision_input(fields: &Fields, labels: Map<String, Value>) -> Value {
    let mut runtime = json!({ "name": fields.name });
    if !fields.description.is_empty() {
        runtime["description"] = Value::String(fields.description.clone());
    }
    if !labels.is_empty() {
        runtime["labels"] = Value::Object(labels);
    }
    let mut local = json!({ "gatewayAllowPrivate": fields.gateway_allow_private });
    if !fields.event_service_url.is_empty() {
        local["eventServiceURL"] = Value::String(fields.event_service_url.clone());
    }
    if !fields.console_url.is_empty() {
        local["consoleURL"] = Value::String(fields.console_url.clone());
    }
    json!({ "runtimeInput": runtime, "clusterConfig": { "localConfig": local } })
}

/// `POST /console/runtimes`: registers the runtime and starts its provisioning; answers
/// with the runtime's page, which follows the operation.
pub(crate) async fn provision(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = NewPage {
        chrome: Chrome::of(&session, NAV),
        fields: Fields {
            name: form.text("name"),
            description: form.text("description"),
            labels: form.get("labels").unwrap_or_default().to_owned(),
            event_service_url: form.text("event_service_url"),
            console_url: form.text("console_url"),
            gateway_allow_private: form.get("gateway_allow_private").is_some(),
        },
        error: None,
    };
    let labels = match parse_labels(&page.fields.labels) {
        Ok(labels) => labels,
        Err(e) => {
            page.error = Some(e);
            return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let operation = match graphql::execute_provisioner::<Provisioned>(
        &state,
        session.consumer(),
        "mutation($config: ProvisionRuntimeInput!) { provisionRuntime(config: $config) }",
        json!({ "config": provision_input(&page.fields, labels) }),
    )
    .await?
    {
        Ok(provisioned) => provisioned.operation,
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            return render::html(Refusal::status(&refusals), &page);
        }
    };
    // The operation names the runtime it registered.
    let runtime = graphql::execute_provisioner::<OperationAnswer>(
        &state,
        session.consumer(),
        "query($id: String!) { runtimeOperationStatus(id: $id) { runtimeID } }",
        json!({ "id": operation }),
    )
    .await?;
    match runtime {
        Ok(OperationAnswer {
            runtime_operation_status:
                Some(OperationRuntime {
                    runtime_id: Some(id),
                }),
        }) => Ok(see_other(&format!("/console/runtimes/{id}"))),
        // The provisioning started, but the operation cannot be read back (a session that
        // may write runtimes but not read them): the list, which shows why.
        _ => Ok(see_other("/console/runtimes")),
    }
}

/// Which of the runtime page's action forms posted, so its refusal shows beside it.
#[derive(Clone, Copy)]
enum Action {
    Deprovision,
    Reconnect,
    Upgrade,
}

impl Action {
    fn show(self, page: &mut DetailPage, message: String) {
        match self {
            Action::Deprovision => page.deprovision_error = Some(message),
            Action::Reconnect => page.reconnect_error = Some(message),
            Action::Upgrade => page.upgrade_error = Some(message),
        }
    }

    /// The mutation and its variables for the runtime `id`, from the posted form.
    fn mutation(self, id: &str, form: &FormData) -> (&'static str, Value) {
        match self {
            Action::Deprovision => (
                "mutation($id: String!) { deprovisionRuntime(id: $id) }",
                json!({ "id": id }),
            ),
            Action::Reconnect => (
                "mutation($id: String!) { reconnectRuntimeAgent(id: $id) }",
                json!({ "id": id }),
            ),
            Action::Upgrade => {
                let version = form.text("version");
                let config = if version.is_empty() {
                    json!({})
                } else {
                    json!({ "kymaConfig": { "version": version } })
                };
                (
                    "mutation($id: String!, $config: UpgradeRuntimeInput!) { \
                     upgradeRuntime(id: $id, config: $config) }",
                    json!({ "id": id, "config": config }),
                )
            }
        }
    }
}

/// Runs `action` on the runtime `id` as the session: the runtime must be one the session
/// sees (else 404, as for another tenant's), a deprovisioning needs the name typed; a
/// refusal shows beside the action's form with nothing started.
async fn act(
    state: &ConsoleState,
    headers: &HeaderMap,
    id: &str,
    body: Body,
    action: Action,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(state, headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(state, &session, id, &DetailQuery::default()).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    if matches!(action, Action::Upgrade) {
        page.upgrade_version = form.text("version");
    }
    if matches!(action, Action::Deprovision) && form.text("confirm_name") != page.name {
        let message = format!(
            "Type the runtime's name, {:?}, to deprovision it.",
            page.name
        );
        action.show(&mut page, message);
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let (mutation, variables) = action.mutation(&page.id, &form);
    match graphql::execute_provisioner::<IgnoredAny>(state, session.consumer(), mutation, variables)
        .await?
    {
        // The runtime's page shows the operation this started: the runtime's last.
        Ok(_) => Ok(see_other(&page.href)),
        Err(refusals) => {
            action.show(&mut page, Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

pub(crate) async fn deprovision(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    act(&state, &headers, &id, body, Action::Deprovision).await
}

pub(crate) async fn reconnect(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    act(&state, &headers, &id, body, Action::Reconnect).await
}

pub(crate) async fn upgrade(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    act(&state, &headers, &id, body, Action::Upgrade).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_local_provisioning() {
        let fields = Fields {
            name: "edge".into(),
            event_service_url: "https://events.example".into(),
            ..Fields::default()
        };
        let mut labels = Map::new();
        labels.insert("env".into(), json!("prod"));
        assert_eq!(
            provision_input(&fields, labels),
            json!({
                "runtimeInput": {"name": "edge", "labels": {"env": "prod"}},
                "clusterConfig": {"localConfig": {
                    "gatewayAllowPrivate": false,
                    "eventServiceURL": "https://events.example",
                }},
            })
        );
    }
}
