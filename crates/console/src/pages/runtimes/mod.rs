//! `/console/runtimes`: the list (label filter, cursor pagination), a runtime's detail (its
//! labels edited in place, its scenarios, the applications it sees, the credentials it
//! holds, what the Provisioner knows of it) and its deletion, through the Director's GraphQL;
//! the Provisioner's actions are in `actions.rs`, its operations' progress in `operation.rs`,
//! the facts that change by themselves (status, agent) in `facts.rs`.
//!
//! The list and the detail show when the agent was last seen, whether the configuration it
//! holds is current and when the newest valid client certificate expires, from the
//! Director's `Runtime.agent` and `Runtime.clientCertificate` (batched: a page costs the
//! same statements with 1 row as with 50).

pub(crate) mod actions;
pub(crate) mod facts;
pub(crate) mod operation;

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sextant_domain::label::SCENARIOS_KEY;

use crate::deletion::{self, DeletablePage, Deletion};
use crate::error::ConsoleError;
use crate::fleet::{self, Fleet};
use crate::form;
use crate::graphql::{self, Refusal};
use crate::labels::{label_input, labels_text, scenarios_in, typed_value};
use crate::pager::Pager;
use crate::render::{self, Chrome, not_found, read_refused, see_other, segment, to_login};
use crate::search::{ListQuery, Search};
use crate::session::{self, Session};
use crate::state::ConsoleState;

use facts::Facts;
use operation::{Provisioned, provisioned};

/// Applications per page of a runtime's detail (each with up to [`API_LIMIT`] APIs).
const APPLICATIONS_PAGE_SIZE: u32 = 20;

/// APIs shown per application on a runtime's detail.
const API_LIMIT: u32 = 100;

const NAV: &str = "runtimes";

fn href(id: &str) -> String {
    format!("/console/runtimes/{id}")
}

pub(crate) struct Row {
    id: String,
    name: String,
    status: String,
    scenarios: String,
    labels: String,
    fleet: Fleet,
}

/// The status conditions the list filters by (the Director's `RuntimeStatusCondition`).
const STATUSES: [&str; 3] = ["INITIAL", "READY", "FAILED"];

#[derive(Template)]
#[template(path = "runtimes.html")]
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
struct PageInfo {
    #[serde(rename = "endCursor")]
    end_cursor: String,
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
}

#[derive(Deserialize)]
struct ListAnswer {
    runtimes: RuntimePage,
}

#[derive(Deserialize)]
struct RuntimePage {
    data: Vec<Listed>,
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
    #[serde(rename = "totalCount")]
    total_count: i64,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    name: String,
    status: Status,
    labels: Option<Map<String, Value>>,
    agent: Option<fleet::Agent>,
    #[serde(rename = "clientCertificate")]
    client_certificate: Option<fleet::Certificate>,
}

#[derive(Deserialize)]
struct Status {
    condition: String,
}

fn list_query() -> String {
    format!(
        "query($filter: [LabelFilter!], $first: Int, $after: PageCursor, \
         $namePrefix: String, $status: RuntimeStatusCondition) {{ \
         runtimes(filter: $filter, first: $first, after: $after, namePrefix: $namePrefix, \
         status: $status) {{ \
         data {{ id name status {{ condition }} labels {} }} \
         pageInfo {{ endCursor hasNextPage }} totalCount }} }}",
        fleet::FIELDS
    )
}

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let (search, pager) = query.search("/console/runtimes", &STATUSES);
    let variables = search.variables(&pager);
    let mut page = ListPage {
        chrome: Chrome::of(&session, NAV),
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
    match graphql::execute::<ListAnswer>(&state, session.consumer(), &list_query(), variables)
        .await?
    {
        Ok(answer) => {
            let found = answer.runtimes;
            page.first_row = pager.first_row(page.search.rows);
            page.last_row = page.first_row + i64::try_from(found.data.len()).unwrap_or(0) - 1;
            page.next = pager.next(found.page_info.has_next_page, &found.page_info.end_cursor);
            page.previous = pager.previous();
            page.total = found.total_count;
            page.rows = found
                .data
                .into_iter()
                .map(|r| {
                    let mut labels = r.labels.unwrap_or_default();
                    let scenarios = scenarios_in(Some(&labels)).join(", ");
                    labels.remove(SCENARIOS_KEY);
                    Row {
                        fleet: Fleet::of(r.agent.as_ref(), r.client_certificate.as_ref()),
                        id: r.id,
                        name: r.name,
                        status: r.status.condition,
                        scenarios,
                        labels: labels_text(Some(&labels)),
                    }
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

/// A label as its row shows it: the value in its edit field (what was typed, after a
/// refusal) and the refusal beside it.
pub(crate) struct LabelRow {
    key: String,
    value: String,
    error: Option<String>,
}

pub(crate) struct ScenarioLink {
    name: String,
    href: String,
}

pub(crate) struct ApplicationRow {
    id: String,
    name: String,
    status: String,
    apis: i64,
}

/// The applications the runtime sees, a page of them.
pub(crate) struct Applications {
    rows: Vec<ApplicationRow>,
    total: i64,
    first_row: i64,
    last_row: i64,
    previous: Option<String>,
    next: Option<String>,
    /// The Director's refusal to list them (e.g. without application:read).
    error: Option<String>,
}

/// A credential the runtime holds: which (an API, or its own) and its kind; never a secret.
pub(crate) struct CredentialRow {
    application: String,
    api: String,
    kind: String,
}

pub(crate) struct OwnCredentialRow {
    id: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "runtime.html")]
pub(crate) struct DetailPage {
    chrome: Chrome,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) href: String,
    description: String,
    created: String,
    /// What changes by itself: the status and the agent.
    facts: Facts,
    scenarios: Vec<ScenarioLink>,
    labels: Vec<LabelRow>,
    new_label_key: String,
    new_label_value: String,
    new_label_error: Option<String>,
    applications: Applications,
    own_credentials: Vec<OwnCredentialRow>,
    api_credentials: Vec<CredentialRow>,
    /// What the Provisioner knows of the runtime (`None`: it did not provision it, or
    /// refused to say: see `provisioner_error`).
    pub(crate) provisioned: Option<Provisioned>,
    provisioner_error: Option<String>,
    pub(crate) upgrade_version: String,
    pub(crate) reconnect_error: Option<String>,
    pub(crate) upgrade_error: Option<String>,
    pub(crate) deprovision_error: Option<String>,
    pub(crate) delete_error: Option<String>,
}

impl DeletablePage for DetailPage {
    fn name(&self) -> &str {
        &self.name
    }

    fn delete_error(&mut self) -> &mut Option<String> {
        &mut self.delete_error
    }
}

impl DetailPage {
    /// The refusals of actions whose form the page does not show (a session without
    /// runtime:write posted it anyway, or the runtime is not in the state the form is for):
    /// shown at the end of the page.
    fn stray_errors(&self) -> Vec<&str> {
        let write = self.chrome.can.runtime_write;
        let provisioned = self.provisioned.is_some();
        [
            (&self.reconnect_error, write && provisioned),
            (&self.upgrade_error, write && provisioned),
            (&self.deprovision_error, write && provisioned),
            (&self.delete_error, write && !provisioned),
        ]
        .into_iter()
        .filter(|(_, beside_its_form)| !beside_its_form)
        .filter_map(|(error, _)| error.as_deref())
        .collect()
    }
}

fn detail_query() -> String {
    format!(
        "query($id: ID!) {{ runtime(id: $id) {{ \
         id name description {} labels \
         metadata {{ creationTimestamp }} \
         auths {{ id auth {{ credential {{ __typename }} }} }} {} }} }}",
        facts::STATUS_FIELDS,
        fleet::FIELDS
    )
}

#[derive(Deserialize)]
struct DetailAnswer {
    runtime: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    id: String,
    name: String,
    description: Option<String>,
    status: facts::Status,
    labels: Option<Map<String, Value>>,
    metadata: Metadata,
    auths: Vec<SystemAuth>,
    agent: Option<fleet::Agent>,
    #[serde(rename = "clientCertificate")]
    client_certificate: Option<fleet::Certificate>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "creationTimestamp")]
    creation_timestamp: String,
}

#[derive(Deserialize)]
struct SystemAuth {
    id: String,
    auth: Option<Auth>,
}

/// Only the kind of a credential is ever asked for.
#[derive(Deserialize)]
struct Auth {
    credential: Credential,
}

#[derive(Deserialize)]
struct Credential {
    #[serde(rename = "__typename")]
    typename: String,
}

/// A credential's kind in words.
fn credential_kind(auth: Option<&Auth>) -> &'static str {
    match auth.map(|a| a.credential.typename.as_str()) {
        Some("BasicCredentialData") => "Basic (user name and password)",
        Some("OAuthCredentialData") => "OAuth 2.0 client credentials",
        Some(_) => "Another kind",
        None => "None",
    }
}

// The runtime's applications through `applicationsForRuntime`: a user consumer may call it
// (with application:read) for any runtime of its tenant, and it answers exactly the
// applications that share a scenario with the runtime, as the runtime itself sees them.
const APPLICATIONS: &str = "query($id: ID!, $first: Int, $after: PageCursor, $apis: Int) { \
    applicationsForRuntime(runtimeID: $id, first: $first, after: $after) { \
    data { id name status { condition } \
    apiDefinitions(first: $apis) { totalCount data { name \
    auth(runtimeID: $id) { auth { credential { __typename } } } } } } \
    pageInfo { endCursor hasNextPage } totalCount } }";

#[derive(Deserialize)]
struct ApplicationsAnswer {
    #[serde(rename = "applicationsForRuntime")]
    applications_for_runtime: ApplicationPage,
}

#[derive(Deserialize)]
struct ApplicationPage {
    data: Vec<SeenApplication>,
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
    #[serde(rename = "totalCount")]
    total_count: i64,
}

#[derive(Deserialize)]
struct SeenApplication {
    id: String,
    name: String,
    status: Status,
    #[serde(rename = "apiDefinitions")]
    api_definitions: Apis,
}

#[derive(Deserialize)]
struct Apis {
    #[serde(rename = "totalCount")]
    total_count: i64,
    data: Vec<Api>,
}

#[derive(Deserialize)]
struct Api {
    name: String,
    auth: Option<ApiRuntimeAuth>,
}

#[derive(Deserialize)]
struct ApiRuntimeAuth {
    auth: Option<Auth>,
}

#[derive(Deserialize, Default)]
pub(crate) struct DetailQuery {
    #[serde(default)]
    apps_after: String,
    #[serde(default)]
    apps_trail: String,
}

/// A page of the applications the runtime sees, and the credentials it holds for their APIs.
async fn applications(
    state: &ConsoleState,
    session: &Session,
    id: &str,
    pager: &Pager,
) -> Result<(Applications, Vec<CredentialRow>), ConsoleError> {
    let answer = graphql::execute::<ApplicationsAnswer>(
        state,
        session.consumer(),
        APPLICATIONS,
        json!({
            "id": id,
            "first": APPLICATIONS_PAGE_SIZE,
            "after": pager.after(),
            "apis": API_LIMIT,
        }),
    )
    .await?;
    let page = match answer {
        Ok(answer) => answer.applications_for_runtime,
        Err(refusals) => {
            return Ok((
                Applications {
                    rows: Vec::new(),
                    total: 0,
                    first_row: 1,
                    last_row: 0,
                    previous: None,
                    next: None,
                    error: Some(Refusal::messages(&refusals)),
                },
                Vec::new(),
            ));
        }
    };
    let first_row = pager.first_row(APPLICATIONS_PAGE_SIZE);
    let shown = i64::try_from(page.data.len()).unwrap_or(0);
    let mut credentials = Vec::new();
    let mut rows = Vec::new();
    for app in page.data {
        for api in &app.api_definitions.data {
            credentials.push(CredentialRow {
                application: app.name.clone(),
                api: api.name.clone(),
                kind: credential_kind(api.auth.as_ref().and_then(|a| a.auth.as_ref())).to_owned(),
            });
        }
        rows.push(ApplicationRow {
            id: app.id,
            name: app.name,
            status: app.status.condition,
            apis: app.api_definitions.total_count,
        });
    }
    Ok((
        Applications {
            rows,
            total: page.total_count,
            first_row,
            last_row: first_row + shown - 1,
            next: pager.next(page.page_info.has_next_page, &page.page_info.end_cursor),
            previous: pager.previous(),
            error: None,
        },
        credentials,
    ))
}

/// The runtime as `session` sees it, its applications at the position `query` names;
/// `None` when it does not exist or is out of reach (another tenant's id looks like a
/// missing one).
pub(crate) async fn load_detail(
    state: &ConsoleState,
    session: &Session,
    id: &str,
    query: &DetailQuery,
) -> Result<Result<Option<DetailPage>, Vec<Refusal>>, ConsoleError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(Ok(None));
    }
    let answer = graphql::execute::<DetailAnswer>(
        state,
        session.consumer(),
        &detail_query(),
        json!({ "id": id }),
    )
    .await?;
    let detail = match answer {
        Ok(DetailAnswer {
            runtime: Some(detail),
        }) => detail,
        Ok(DetailAnswer { runtime: None }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    let path = href(&detail.id);
    let pager = Pager::new(
        path.clone(),
        "apps_after",
        "apps_trail",
        &query.apps_after,
        &query.apps_trail,
    );
    let (applications, api_credentials) = applications(state, session, &detail.id, &pager).await?;
    let (provisioned, provisioner_error) = match provisioned(state, session, &detail.id).await? {
        Ok(provisioned) => (provisioned, None),
        Err(refusals) => (None, Some(Refusal::messages(&refusals))),
    };
    let labels = detail.labels.unwrap_or_default();
    Ok(Ok(Some(DetailPage {
        chrome: Chrome::of(session, NAV),
        facts: Facts::of(
            &detail.id,
            detail.status,
            Fleet::of(detail.agent.as_ref(), detail.client_certificate.as_ref()),
            provisioned.as_ref(),
        ),
        scenarios: scenarios_in(Some(&labels))
            .into_iter()
            .map(|name| ScenarioLink {
                href: format!("/console/scenarios/{}", segment(&name)),
                name,
            })
            .collect(),
        labels: labels
            .iter()
            .map(|(key, value)| LabelRow {
                key: key.clone(),
                value: label_input(value),
                error: None,
            })
            .collect(),
        new_label_key: String::new(),
        new_label_value: String::new(),
        new_label_error: None,
        own_credentials: detail
            .auths
            .iter()
            .map(|a| OwnCredentialRow {
                id: a.id.clone(),
                kind: match &a.auth {
                    // A system auth without credential data is a client paired through
                    // the Connector: it holds a client certificate.
                    None => "Client certificate (paired through the Connector)".to_owned(),
                    Some(auth) => credential_kind(Some(auth)).to_owned(),
                },
            })
            .collect(),
        id: detail.id,
        name: detail.name,
        href: path,
        description: detail.description.unwrap_or_default(),
        created: detail.metadata.creation_timestamp,
        applications,
        api_credentials,
        provisioned,
        provisioner_error,
        upgrade_version: String::new(),
        reconnect_error: None,
        upgrade_error: None,
        deprovision_error: None,
        delete_error: None,
    })))
}

pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load_detail(&state, &session, &id, &query).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

#[derive(Deserialize)]
struct LabelWritten {}

/// Sets one label (`key`, `value` typed as JSON when it reads as JSON); the Director checks
/// it against the key's label definition. A refusal is shown beside the field that was
/// typed in (the label's row, or the form adding one), with what was typed kept.
pub(crate) async fn set_label(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &id, &DetailQuery::default()).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    let key = form.text("key");
    let typed = form.get("value").unwrap_or_default().to_owned();
    let in_row = form.text("origin") == "row";
    let show = |page: &mut DetailPage, message: String| match page
        .labels
        .iter_mut()
        .find(|l| in_row && l.key == key)
    {
        Some(row) => {
            row.value = typed.clone();
            row.error = Some(message);
        }
        None => {
            page.new_label_key = key.clone();
            page.new_label_value = typed.clone();
            page.new_label_error = Some(message);
        }
    };
    if key.is_empty() {
        show(&mut page, "Name the label's key.".to_owned());
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    match graphql::execute::<LabelWritten>(
        &state,
        session.consumer(),
        "mutation($id: ID!, $key: String!, $value: Any!) { \
         setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key } }",
        json!({ "id": id, "key": key, "value": typed_value(&typed) }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(&format!("{}#labels", page.href))),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            show(&mut page, Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

/// Removes one label; a refusal (e.g. the scenarios a runtime must keep) is shown beside it.
pub(crate) async fn delete_label(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, form) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let mut page = match load_detail(&state, &session, &id, &DetailQuery::default()).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    let key = form.text("key");
    match graphql::execute::<LabelWritten>(
        &state,
        session.consumer(),
        "mutation($id: ID!, $key: String!) { deleteRuntimeLabel(runtimeID: $id, key: $key) { key } }",
        json!({ "id": id, "key": key }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(&format!("{}#labels", page.href))),
        Err(refusals) => {
            let message = Refusal::messages(&refusals);
            match page.labels.iter_mut().find(|l| l.key == key) {
                Some(row) => row.error = Some(message),
                None => page.new_label_error = Some(message),
            }
            // The runtime was just read: "not found" is about the label.
            let status = if Refusal::is_not_found(&refusals) {
                StatusCode::NOT_FOUND
            } else {
                Refusal::status(&refusals)
            };
            render::html(status, &page)
        }
    }
}

/// Unregisters the runtime, its name typed to confirm. The page offers this only for a
/// runtime the Provisioner did not provision (one it did is deprovisioned, so that its agent
/// stops too); the Director allows it for both, and so does the console.
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
    let page = match load_detail(&state, &session, &id, &DetailQuery::default()).await? {
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
            what: "runtime",
            mutation: "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
            id: &id,
            done: "/console/runtimes",
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_credentials_kind_is_named() {
        let auth = |typename: &str| Auth {
            credential: Credential {
                typename: typename.to_owned(),
            },
        };
        assert_eq!(
            credential_kind(Some(&auth("BasicCredentialData"))),
            "Basic (user name and password)"
        );
        assert_eq!(
            credential_kind(Some(&auth("OAuthCredentialData"))),
            "OAuth 2.0 client credentials"
        );
        assert_eq!(credential_kind(None), "None");
    }
}
