//! `/console/application-templates`: the list (the tenant's and the global templates, cursor
//! pagination), a template's detail, registration, deletion, and registering an application
//! from a template (one field per placeholder), each through the Director's GraphQL.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::deletion::{self, DeletablePage, Deletion};
use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::pager::Pager;
use crate::render::{self, Chrome, not_found, read_refused, refusal, see_other, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;

/// Rows per page of the list.
const PAGE_SIZE: u32 = 50;

const NAV: &str = "application-templates";

/// The prefix of the form fields that carry placeholder values (`value:<placeholder>`).
const VALUE_FIELD: &str = "value:";

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    trail: String,
}

pub(crate) struct Row {
    id: String,
    name: String,
    description: String,
    access: String,
}

#[derive(Template)]
#[template(path = "application_templates.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: i64,
    first_row: i64,
    last_row: i64,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(rename = "applicationTemplates")]
    application_templates: TemplatePage,
}

#[derive(Deserialize)]
struct TemplatePage {
    data: Vec<Listed>,
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
    #[serde(rename = "totalCount")]
    total_count: i64,
}

#[derive(Deserialize)]
struct PageInfo {
    #[serde(rename = "endCursor")]
    end_cursor: String,
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    name: String,
    description: Option<String>,
    #[serde(rename = "accessLevel")]
    access_level: String,
}

const LIST: &str = "query($first: Int, $after: PageCursor) { \
    applicationTemplates(first: $first, after: $after) { \
    data { id name description accessLevel } pageInfo { endCursor hasNextPage } totalCount } }";

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let pager = Pager::new(
        "/console/application-templates",
        "after",
        "trail",
        &query.after,
        &query.trail,
    );
    let variables = json!({ "first": PAGE_SIZE, "after": pager.after() });
    let chrome = Chrome::of(&session, NAV);
    let page =
        match graphql::execute::<ListAnswer>(&state, session.consumer(), LIST, variables).await? {
            Ok(answer) => {
                let page = answer.application_templates;
                let first_row = pager.first_row(PAGE_SIZE);
                let shown = i64::try_from(page.data.len()).unwrap_or(0);
                ListPage {
                    chrome,
                    first_row,
                    last_row: first_row + shown - 1,
                    next: pager.next(page.page_info.has_next_page, &page.page_info.end_cursor),
                    previous: pager.previous(),
                    total: page.total_count,
                    rows: page
                        .data
                        .into_iter()
                        .map(|t| Row {
                            id: t.id,
                            name: t.name,
                            description: t.description.unwrap_or_default(),
                            access: t.access_level,
                        })
                        .collect(),
                    error: None,
                }
            }
            Err(refusals) => ListPage {
                chrome,
                rows: Vec::new(),
                total: 0,
                first_row: 1,
                last_row: 0,
                previous: None,
                next: None,
                error: Some(Refusal::messages(&refusals)),
            },
        };
    render::html(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "application_template_new.html")]
struct NewPage {
    chrome: Chrome,
    name: String,
    description: String,
    application_input: String,
    placeholders: String,
    global: bool,
    error: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    if !session.has(sextant_domain::Scope::ApplicationTemplateWrite) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "This session may not register application templates (it lacks application_template:write).",
        ));
    }
    render::html(
        StatusCode::OK,
        &NewPage {
            chrome: Chrome::of(&session, NAV),
            name: String::new(),
            description: String::new(),
            application_input: String::new(),
            placeholders: String::new(),
            global: false,
            error: None,
        },
    )
}

/// Placeholders from `name` or `name: description` lines.
fn parse_placeholders(text: &str) -> Vec<Value> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, description)) if !description.trim().is_empty() => {
                json!({ "name": name.trim(), "description": description.trim() })
            }
            Some((name, _)) => json!({ "name": name.trim() }),
            None => json!({ "name": line }),
        })
        .collect()
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "createApplicationTemplate")]
    created: Id,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

pub(crate) async fn register(
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
        name: form.text("name"),
        description: form.text("description"),
        application_input: form.get("application_input").unwrap_or_default().to_owned(),
        placeholders: form.get("placeholders").unwrap_or_default().to_owned(),
        global: form.get("access") == Some("GLOBAL"),
        error: None,
    };
    let application_input = match serde_json::from_str::<Value>(&page.application_input) {
        Ok(input @ Value::Object(_)) => input,
        Ok(_) | Err(_) => {
            page.error = Some(
                "The application input must be a JSON object (an ApplicationRegisterInput)."
                    .to_owned(),
            );
            return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let mut input = json!({
        "name": page.name,
        "applicationInput": application_input,
        "placeholders": parse_placeholders(&page.placeholders),
        "accessLevel": if page.global { "GLOBAL" } else { "TENANT" },
    });
    if !page.description.is_empty() {
        input["description"] = Value::String(page.description.clone());
    }
    match graphql::execute::<Created>(
        &state,
        session.consumer(),
        "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
        json!({ "in": input }),
    )
    .await?
    {
        Ok(created) => Ok(see_other(&format!(
            "/console/application-templates/{}",
            created.created.id
        ))),
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

pub(crate) struct PlaceholderField {
    /// The form field's id (`placeholder-<n>`).
    id: String,
    /// The form field's name (`value:<placeholder>`).
    field: String,
    name: String,
    description: String,
    value: String,
}

#[derive(Template)]
#[template(path = "application_template.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    name: String,
    description: String,
    access: String,
    application_input: String,
    placeholders: Vec<PlaceholderField>,
    /// Whether this session may delete this template (global ones: operators only).
    deletable: bool,
    use_error: Option<String>,
    delete_error: Option<String>,
}

impl DeletablePage for DetailPage {
    fn name(&self) -> &str {
        &self.name
    }

    fn delete_error(&mut self) -> &mut Option<String> {
        &mut self.delete_error
    }
}

const DETAIL: &str = "query($id: ID!) { applicationTemplate(id: $id) { \
    id name description accessLevel applicationInput placeholders { name description } } }";

#[derive(Deserialize)]
struct DetailAnswer {
    #[serde(rename = "applicationTemplate")]
    application_template: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    id: String,
    name: String,
    description: Option<String>,
    #[serde(rename = "accessLevel")]
    access_level: String,
    #[serde(rename = "applicationInput")]
    application_input: String,
    placeholders: Vec<Placeholder>,
}

#[derive(Deserialize)]
struct Placeholder {
    name: String,
    description: Option<String>,
}

/// The template as `session` sees it (its tenant's and the global ones); `None` when it
/// does not exist or is out of reach.
async fn load_detail(
    state: &ConsoleState,
    session: &Session,
    id: &str,
) -> Result<Result<Option<DetailPage>, Vec<Refusal>>, ConsoleError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(Ok(None));
    }
    let answer =
        graphql::execute::<DetailAnswer>(state, session.consumer(), DETAIL, json!({ "id": id }))
            .await?;
    let detail = match answer {
        Ok(DetailAnswer {
            application_template: Some(detail),
        }) => detail,
        Ok(DetailAnswer {
            application_template: None,
        }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    let chrome = Chrome::of(session, NAV);
    let deletable = chrome.can.template_write
        && (detail.access_level != "GLOBAL" || chrome.can.template_global);
    Ok(Ok(Some(DetailPage {
        chrome,
        id: detail.id,
        name: detail.name,
        description: detail.description.unwrap_or_default(),
        access: detail.access_level,
        application_input: detail.application_input,
        placeholders: detail
            .placeholders
            .into_iter()
            .enumerate()
            .map(|(n, p)| PlaceholderField {
                id: format!("placeholder-{n}"),
                field: format!("{VALUE_FIELD}{}", p.name),
                name: p.name,
                description: p.description.unwrap_or_default(),
                value: String::new(),
            })
            .collect(),
        deletable,
        use_error: None,
        delete_error: None,
    })))
}

pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load_detail(&state, &session, &id).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let page = match load_detail(&state, &session, &id).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    deletion::confirmed(
        &state,
        &session,
        &form,
        page,
        Deletion {
            what: "template",
            mutation: "mutation($id: ID!) { deleteApplicationTemplate(id: $id) { id } }",
            id: &id,
            done: "/console/application-templates",
        },
    )
    .await
}

#[derive(Deserialize)]
struct RegisteredFromTemplate {
    #[serde(rename = "registerApplicationFromTemplate")]
    registered: Id,
}

/// `registerApplicationFromTemplate` with the form's value for each of the template's
/// placeholders; the new application's page on success, else the Director's refusal beside
/// the form with the values as typed.
pub(crate) async fn register_application(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &id).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    let mut values = Vec::new();
    for placeholder in &mut page.placeholders {
        placeholder.value = form.text(&placeholder.field);
        values.push(json!({ "placeholder": placeholder.name, "value": placeholder.value }));
    }
    match graphql::execute::<RegisteredFromTemplate>(
        &state,
        session.consumer(),
        "mutation($in: ApplicationFromTemplateInput!) { \
         registerApplicationFromTemplate(in: $in) { id } }",
        json!({ "in": { "templateName": page.name, "values": values } }),
    )
    .await?
    {
        Ok(registered) => Ok(see_other(&format!(
            "/console/applications/{}",
            registered.registered.id
        ))),
        Err(refusals) => {
            page.use_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lines_become_definitions() {
        assert_eq!(
            parse_placeholders("name: The application's name\n\n url \nempty:"),
            vec![
                json!({"name": "name", "description": "The application's name"}),
                json!({"name": "url"}),
                json!({"name": "empty"}),
            ]
        );
    }
}
