//! `/console/label-definitions`: the tenant's label definitions, one's JSON Schema, creating
//! one, editing its schema and deleting it, each through the Director's GraphQL.
//!
//! The creation form sits on the list page rather than at `…/new`, because any printable
//! text (`new` included) is a label key, and so a path segment under the list.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::render::{self, Chrome, not_found, read_refused, see_other, segment, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;

pub(crate) struct Row {
    key: String,
    href: String,
    schema: bool,
}

#[derive(Template)]
#[template(path = "label_definitions.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    error: Option<String>,
    key: String,
    schema: String,
    create_error: Option<String>,
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(rename = "labelDefinitions")]
    label_definitions: Vec<Definition>,
}

#[derive(Deserialize)]
struct Definition {
    key: String,
    schema: Option<String>,
}

/// A schema as the pages show it: pretty JSON (the stored text if it does not parse).
fn pretty(schema: &str) -> String {
    serde_json::from_str::<Value>(schema)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| schema.to_owned())
}

fn href(key: &str) -> String {
    format!("/console/label-definitions/{}", segment(key))
}

/// The list, with the creation form holding `key` and `schema`.
async fn list_page(
    state: &ConsoleState,
    session: &Session,
    key: String,
    schema: String,
) -> Result<ListPage, ConsoleError> {
    let chrome = Chrome::of(session, "label-definitions");
    let (rows, error) = match graphql::execute::<ListAnswer>(
        state,
        session.consumer(),
        "{ labelDefinitions { key schema } }",
        json!({}),
    )
    .await?
    {
        Ok(answer) => (
            answer
                .label_definitions
                .into_iter()
                .map(|d| Row {
                    href: href(&d.key),
                    schema: d.schema.is_some(),
                    key: d.key,
                })
                .collect(),
            None,
        ),
        Err(refusals) => (Vec::new(), Some(Refusal::messages(&refusals))),
    };
    Ok(ListPage {
        chrome,
        rows,
        error,
        key,
        schema,
        create_error: None,
    })
}

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let page = list_page(&state, &session, String::new(), String::new()).await?;
    render::html(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "createLabelDefinition")]
    _created: KeyOnly,
}

#[derive(Deserialize)]
struct KeyOnly {
    #[serde(rename = "key")]
    _key: String,
}

/// The `schema` variable of a form's text: none when blank.
fn schema_variable(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

pub(crate) async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let key = form.text("key");
    let schema = form.get("schema").unwrap_or_default().to_owned();
    match graphql::execute::<Created>(
        &state,
        session.consumer(),
        "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }",
        json!({ "in": { "key": key, "schema": schema_variable(&schema) } }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(&href(&key))),
        Err(refusals) => {
            let mut page = list_page(&state, &session, key, schema).await?;
            page.create_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[derive(Template)]
#[template(path = "label_definition.html")]
struct DetailPage {
    chrome: Chrome,
    key: String,
    href: String,
    /// The stored schema, pretty (empty: none).
    schema: String,
    /// The edit form's text.
    schema_input: String,
    update_error: Option<String>,
    delete_error: Option<String>,
    scenarios: bool,
}

#[derive(Deserialize)]
struct DetailAnswer {
    #[serde(rename = "labelDefinition")]
    label_definition: Option<Definition>,
}

/// The definition as `session` sees it; `None` when the tenant has none of that key.
async fn load_detail(
    state: &ConsoleState,
    session: &Session,
    key: &str,
) -> Result<Result<Option<DetailPage>, Vec<Refusal>>, ConsoleError> {
    let answer = graphql::execute::<DetailAnswer>(
        state,
        session.consumer(),
        "query($key: String!) { labelDefinition(key: $key) { key schema } }",
        json!({ "key": key }),
    )
    .await?;
    let definition = match answer {
        Ok(DetailAnswer {
            label_definition: Some(definition),
        }) => definition,
        Ok(DetailAnswer {
            label_definition: None,
        }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    let schema = definition.schema.as_deref().map(pretty).unwrap_or_default();
    Ok(Ok(Some(DetailPage {
        chrome: Chrome::of(session, "label-definitions"),
        href: href(&definition.key),
        scenarios: definition.key == "scenarios",
        key: definition.key,
        schema_input: schema.clone(),
        schema,
        update_error: None,
        delete_error: None,
    })))
}

pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load_detail(&state, &session, &key).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

#[derive(Deserialize)]
struct Updated {
    #[serde(rename = "updateLabelDefinition")]
    _updated: KeyOnly,
}

/// Replaces the schema. When the Director refuses (a malformed schema, or labels that the
/// new schema would break), the page shows why beside the field, with the text as typed;
/// nothing changed.
pub(crate) async fn update(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &key).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    page.schema_input = form.get("schema").unwrap_or_default().to_owned();
    match graphql::execute::<Updated>(
        &state,
        session.consumer(),
        "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key } }",
        json!({ "in": { "key": key, "schema": schema_variable(&page.schema_input) } }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(&page.href)),
        Err(refusals) => {
            page.update_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[derive(Deserialize)]
struct Deleted {
    #[serde(rename = "deleteLabelDefinition")]
    _deleted: KeyOnly,
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &key).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    if form.get("confirm_key") != Some(page.key.as_str()) {
        page.delete_error = Some(format!(
            "Type the key, {:?}, to delete this label definition.",
            page.key
        ));
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let related = form.get("delete_labels") == Some("on");
    match graphql::execute::<Deleted>(
        &state,
        session.consumer(),
        "mutation($key: String!, $related: Boolean) { \
         deleteLabelDefinition(key: $key, deleteRelatedLabels: $related) { key } }",
        json!({ "key": key, "related": related }),
    )
    .await?
    {
        Ok(_) => Ok(see_other("/console/label-definitions")),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            page.delete_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_show_pretty_and_blank_means_none() {
        assert_eq!(
            pretty("{\"type\":\"string\"}"),
            "{\n  \"type\": \"string\"\n}"
        );
        assert_eq!(pretty("not json"), "not json");
        assert_eq!(schema_variable("  \n"), Value::Null);
        assert_eq!(schema_variable("{}"), json!("{}"));
    }
}
