//! `/console/applications`: the list (label filter, cursor pagination), an application's
//! detail (with its webhooks' delivery log, each delivery's attempts, and its clients'
//! certificates), registration and deletion, sending a delivery again or a test event,
//! revoking a client or one certificate, each through the Director's GraphQL; connecting an
//! application (a one-time token and its state) in `connect`.

mod actions;
pub(crate) mod connect;
mod detail;
pub(crate) mod specs;

pub(crate) use actions::{
    request_credentials, resend_delivery, revoke_certificate, revoke_credential, send_test_event,
};
pub(crate) use detail::{delete, detail};

use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::labels::{labels_text, parse_labels};
use crate::render::{self, Chrome, refusal, see_other, to_login};
use crate::search::{ListQuery, Search};
use crate::session;
use crate::state::ConsoleState;

/// The status conditions the list filters by (the Director's `ApplicationStatusCondition`).
const STATUSES: [&str; 4] = ["INITIAL", "UNKNOWN", "READY", "FAILED"];

pub(crate) struct Row {
    id: String,
    name: String,
    provider: String,
    status: String,
    labels: String,
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ListPage {
    chrome: Chrome,
    search: Search,
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
    applications: ApplicationPage,
}

#[derive(Deserialize)]
struct ApplicationPage {
    data: Vec<ListedApplication>,
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
struct ListedApplication {
    id: String,
    name: String,
    #[serde(rename = "providerName")]
    provider_name: String,
    status: Status,
    labels: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
pub(super) struct Status {
    pub(super) condition: String,
}

/// The page: the label filter, the name search and the status (the Director's `namePrefix`
/// and `status`, Sextant extensions) narrow the same cursor-paginated list.
const LIST: &str = "query($filter: [LabelFilter!], $first: Int, $after: PageCursor, \
    $namePrefix: String, $status: ApplicationStatusCondition) { \
    applications(filter: $filter, first: $first, after: $after, namePrefix: $namePrefix, \
    status: $status) { \
    data { id name providerName status { condition } labels } \
    pageInfo { endCursor hasNextPage } totalCount } }";

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let (search, pager) = query.search("/console/applications", &STATUSES);
    let variables = search.variables(&pager);
    let mut page = ListPage {
        chrome: Chrome::of(&session, "applications"),
        search,
        rows: Vec::new(),
        total: 0,
        first_row: 1,
        last_row: 0,
        previous: None,
        next: None,
        error: None,
    };
    if let Some(error) = page.search.refusal() {
        page.error = Some(error);
        return render::html(StatusCode::BAD_REQUEST, &page);
    }
    match graphql::execute::<ListAnswer>(&state, session.consumer(), LIST, variables).await? {
        Ok(answer) => {
            let found = answer.applications;
            page.next = pager.next(found.page_info.has_next_page, &found.page_info.end_cursor);
            page.previous = pager.previous();
            page.first_row = pager.first_row(page.search.rows);
            page.last_row = page.first_row + i64::try_from(found.data.len()).unwrap_or(0) - 1;
            page.total = found.total_count;
            page.rows = found
                .data
                .into_iter()
                .map(|a| Row {
                    labels: labels_text(a.labels.as_ref()),
                    id: a.id,
                    name: a.name,
                    provider: a.provider_name,
                    status: a.status.condition,
                })
                .collect();
            render::html(StatusCode::OK, &page)
        }
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[derive(Template)]
#[template(path = "application_new.html")]
struct NewPage {
    chrome: Chrome,
    name: String,
    provider: String,
    description: String,
    labels: String,
    error: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    if !session.has(sextant_domain::Scope::ApplicationWrite) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "This session may not register applications (it lacks application:write).",
        ));
    }
    render::html(
        StatusCode::OK,
        &NewPage {
            chrome: Chrome::of(&session, "applications"),
            name: String::new(),
            provider: String::new(),
            description: String::new(),
            labels: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct Registered {
    #[serde(rename = "registerApplication")]
    register_application: Id,
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
        chrome: Chrome::of(&session, "applications"),
        name: form.text("name"),
        provider: form.text("provider"),
        description: form.text("description"),
        labels: form.get("labels").unwrap_or_default().to_owned(),
        error: None,
    };
    let labels = match parse_labels(&page.labels) {
        Ok(labels) => labels,
        Err(e) => {
            page.error = Some(e);
            return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let mut input = json!({ "name": page.name, "providerName": page.provider });
    if !page.description.is_empty() {
        input["description"] = Value::String(page.description.clone());
    }
    if !labels.is_empty() {
        input["labels"] = Value::Object(labels);
    }
    // The Director decides: scopes, validation, uniqueness. A refusal changes nothing.
    match graphql::execute::<Registered>(
        &state,
        session.consumer(),
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
        json!({ "in": input }),
    )
    .await?
    {
        Ok(registered) => Ok(see_other(&format!(
            "/console/applications/{}",
            registered.register_application.id
        ))),
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}
