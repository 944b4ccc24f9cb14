//! The scenario pages' writes: creating a scenario (a value added to the `scenarios`
//! definition's `items.enum`), assigning and unassigning applications and runtimes (the
//! Director's `add…Scenario` / `remove…Scenario`), and removing a scenario.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_domain::label::SCENARIOS_KEY;

use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::render::{self, not_found, read_refused, see_other};
use crate::session::Session;
use crate::state::ConsoleState;

use super::{
    DetailPage, DetailQuery, Kind, href, list_page, load_detail, scenario_names, scenarios_schema,
    with_names,
};

#[derive(Deserialize)]
struct DefinitionWritten {}

/// Writes the `scenarios` definition with `schema`: an update when the tenant has one,
/// else its creation.
async fn write_definition(
    state: &ConsoleState,
    session: &Session,
    exists: bool,
    schema: &Value,
) -> Result<Result<(), Vec<Refusal>>, ConsoleError> {
    let mutation = if exists {
        "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key } }"
    } else {
        "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }"
    };
    let answer = graphql::execute::<DefinitionWritten>(
        state,
        session.consumer(),
        mutation,
        json!({ "in": { "key": SCENARIOS_KEY, "schema": schema.to_string() } }),
    )
    .await?;
    Ok(answer.map(|_| ()))
}

fn refusal_of(message: String) -> Vec<Refusal> {
    vec![Refusal {
        message,
        code: None,
    }]
}

/// Adds `name` to the definition's `items.enum` (creating the definition if the tenant has
/// none yet).
async fn add_scenario(
    state: &ConsoleState,
    session: &Session,
    name: &str,
) -> Result<Result<(), Vec<Refusal>>, ConsoleError> {
    if name.is_empty() {
        return Ok(Err(refusal_of("Name the scenario.".to_owned())));
    }
    let schema = match scenarios_schema(state, session).await? {
        Ok(schema) => schema,
        Err(refusals) => return Ok(Err(refusals)),
    };
    let exists = schema.is_some();
    let mut names = scenario_names(schema.as_ref());
    if names.iter().any(|n| n == name) {
        return Ok(Err(refusal_of(format!(
            "The scenario {name:?} exists already."
        ))));
    }
    names.push(name.to_owned());
    match with_names(schema, names) {
        Ok(schema) => write_definition(state, session, exists, &schema).await,
        Err(message) => Ok(Err(refusal_of(message))),
    }
}

/// Adds a scenario to the definition's `items.enum`.
pub(crate) async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let name = form.text("name");
    let outcome = add_scenario(&state, &session, &name).await?;
    match outcome {
        Ok(()) => Ok(see_other(&href(&name))),
        Err(refusals) => {
            let mut page = list_page(&state, &session, name).await?;
            page.create_error = Some(Refusal::messages(&refusals));
            render::html(
                if refusals.iter().all(|r| r.code.is_none()) {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    Refusal::status(&refusals)
                },
                &page,
            )
        }
    }
}

#[derive(Deserialize)]
struct LabelWritten {}

/// Adds (`assign`) or removes the scenario from an object's `scenarios` label. Refusals
/// are shown beside the form that posted, with nothing changed; an object the session
/// cannot see is a 404.
async fn change_membership(
    state: &ConsoleState,
    headers: &HeaderMap,
    name: &str,
    body: Body,
    assign: bool,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(state, headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(state, &session, name, &DetailQuery::default()).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    let id = form.text("id");
    let kind_text = form.text("kind");
    let show = |page: &mut DetailPage, message: String| {
        if assign {
            page.assign_kind = kind_text.clone();
            page.assign_id = id.clone();
            page.assign_error = Some(message);
        } else {
            page.unassign_error = Some(message);
        }
    };
    let Some(kind) = Kind::parse(&kind_text) else {
        show(&mut page, "Choose an application or a runtime.".to_owned());
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let missing = format!(
        "There is no {} with ID {:?} in this tenant.",
        kind.word(),
        id
    );
    if uuid::Uuid::parse_str(&id).is_err() {
        show(&mut page, missing);
        return render::html(StatusCode::NOT_FOUND, &page);
    }
    let answer = graphql::execute::<HashMap<String, LabelWritten>>(
        state,
        session.consumer(),
        kind.change_scenario(assign),
        json!({ "id": id, "s": name }),
    )
    .await?;
    match answer {
        Ok(_) => Ok(see_other(&page.href)),
        Err(refusals) if Refusal::is_not_found(&refusals) => {
            show(&mut page, missing);
            render::html(StatusCode::NOT_FOUND, &page)
        }
        Err(refusals) => {
            show(&mut page, Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

pub(crate) async fn assign(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    change_membership(&state, &headers, &name, body, true).await
}

pub(crate) async fn unassign(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    change_membership(&state, &headers, &name, body, false).await
}

/// Removes the scenario from the definition's `items.enum`; the Director refuses while any
/// label names it (and always for `DEFAULT`).
pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &name, &DetailQuery::default()).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    if form.text("confirm_name") != name {
        page.delete_error = Some(format!("Type the scenario's name, {name:?}, to remove it."));
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let schema = page.schema.take();
    let exists = schema.is_some();
    let names = scenario_names(schema.as_ref())
        .into_iter()
        .filter(|n| *n != name)
        .collect();
    let outcome = match with_names(schema, names) {
        Ok(schema) => write_definition(&state, &session, exists, &schema).await?,
        Err(message) => Err(refusal_of(message)),
    };
    match outcome {
        Ok(()) => Ok(see_other("/console/scenarios")),
        Err(refusals) => {
            page.delete_error = Some(Refusal::messages(&refusals));
            render::html(
                if refusals.iter().all(|r| r.code.is_none()) {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    Refusal::status(&refusals)
                },
                &page,
            )
        }
    }
}
