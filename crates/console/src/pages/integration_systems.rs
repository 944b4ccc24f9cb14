//! `/console/integration-systems`: the list (cursor pagination), a system's detail,
//! registration, deletion, and client credentials (the secret shown once, on the answer to
//! the request), each through the Director's GraphQL.

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
use crate::pages::credentials::{CredentialRow, CredentialsPage, SystemAuth};
use crate::render::{self, Chrome, not_found, read_refused, refusal, see_other, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;

/// Rows per page of the list.
const PAGE_SIZE: u32 = 50;

const NAV: &str = "integration-systems";

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
}

#[derive(Template)]
#[template(path = "integration_systems.html")]
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
    #[serde(rename = "integrationSystems")]
    integration_systems: SystemPage,
}

#[derive(Deserialize)]
struct SystemPage {
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
}

const LIST: &str = "query($first: Int, $after: PageCursor) { \
    integrationSystems(first: $first, after: $after) { \
    data { id name description } pageInfo { endCursor hasNextPage } totalCount } }";

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let pager = Pager::new(
        "/console/integration-systems",
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
                let page = answer.integration_systems;
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
                        .map(|s| Row {
                            id: s.id,
                            name: s.name,
                            description: s.description.unwrap_or_default(),
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
#[template(path = "integration_system_new.html")]
struct NewPage {
    chrome: Chrome,
    name: String,
    description: String,
    error: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    if !session.has(sextant_domain::Scope::IntegrationSystemWrite) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "This session may not register integration systems (it lacks integration_system:write).",
        ));
    }
    render::html(
        StatusCode::OK,
        &NewPage {
            chrome: Chrome::of(&session, NAV),
            name: String::new(),
            description: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct Registered {
    #[serde(rename = "registerIntegrationSystem")]
    register_integration_system: Id,
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
        error: None,
    };
    let mut input = json!({ "name": page.name });
    if !page.description.is_empty() {
        input["description"] = Value::String(page.description.clone());
    }
    match graphql::execute::<Registered>(
        &state,
        session.consumer(),
        "mutation($in: IntegrationSystemInput!) { registerIntegrationSystem(in: $in) { id } }",
        json!({ "in": input }),
    )
    .await?
    {
        Ok(registered) => Ok(see_other(&format!(
            "/console/integration-systems/{}",
            registered.register_integration_system.id
        ))),
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[derive(Template)]
#[template(path = "integration_system.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    name: String,
    description: String,
    credentials: Vec<CredentialRow>,
    credentials_error: Option<String>,
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

const DETAIL: &str = "query($id: ID!) { integrationSystem(id: $id) { id name description \
    auths { id auth { credential { ... on OAuthCredentialData { clientId url } } } } } }";

#[derive(Deserialize)]
struct DetailAnswer {
    #[serde(rename = "integrationSystem")]
    integration_system: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    id: String,
    name: String,
    description: Option<String>,
    auths: Vec<SystemAuth>,
}

/// The system as `session` sees it; `None` when it does not exist or is out of reach.
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
            integration_system: Some(detail),
        }) => detail,
        Ok(DetailAnswer {
            integration_system: None,
        }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    Ok(Ok(Some(DetailPage {
        chrome: Chrome::of(session, NAV),
        id: detail.id,
        name: detail.name,
        description: detail.description.unwrap_or_default(),
        credentials: detail.auths.into_iter().map(SystemAuth::row).collect(),
        credentials_error: None,
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
            what: "integration system",
            mutation: "mutation($id: ID!) { unregisterIntegrationSystem(id: $id) { id } }",
            id: &id,
            done: "/console/integration-systems",
        },
    )
    .await
}

#[derive(Deserialize)]
struct Requested {
    #[serde(rename = "requestClientCredentialsForIntegrationSystem")]
    requested: SystemAuth,
}

const REQUEST_CREDENTIALS: &str = "mutation($id: ID!) { \
    requestClientCredentialsForIntegrationSystem(id: $id) { id auth { credential { \
    ... on OAuthCredentialData { clientId clientSecret url } } } } }";

/// Makes an OAuth2 client for the system and shows its secret, this once: the answer is
/// `no-store` like every page, and no other page asks the Director for the secret.
pub(crate) async fn request_credentials(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &id).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    match graphql::execute::<Requested>(
        &state,
        session.consumer(),
        REQUEST_CREDENTIALS,
        json!({ "id": id }),
    )
    .await?
    {
        Ok(Requested { requested }) => render::html(
            StatusCode::OK,
            &CredentialsPage::shown(
                page.chrome,
                page.name,
                format!("/console/integration-systems/{}", page.id),
                requested,
            ),
        ),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            page.credentials_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}
