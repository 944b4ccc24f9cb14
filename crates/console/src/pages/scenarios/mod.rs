//! `/console/scenarios`: the tenant's scenarios (the values the `scenarios` label
//! definition's schema allows) with how many applications and runtimes each holds; a
//! scenario's applications and runtimes with a graph of who reaches whom; assigning and
//! unassigning; creating and removing scenarios (those writes in `actions.rs`). All through
//! the Director's GraphQL.
//!
//! **Counting without a query per scenario.** The list asks the Director's `scenarioCounts`
//! (a Sextant extension: one statement per kind of object over the label value index),
//! so the page costs the same however many scenarios, applications and runtimes there are.
//!
//! **Membership is the `scenarios` label.** Assigning and unassigning add or remove one
//! scenario with the Director's `add…Scenario` / `remove…Scenario` (Sextant extensions that
//! read and write the label holding the object's row, so two administrators at once both
//! land; a runtime's last scenario takes the label, an application keeps its last). Creating
//! and removing a scenario rewrite the definition's `items.enum`; the Director refuses a
//! removal while labels use the scenario.

mod actions;
mod graph;

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_domain::label::{SCENARIOS_KEY, default_scenarios_schema};

use crate::error::ConsoleError;
use crate::graphql::{self, Refusal};
use crate::pager::Pager;
use crate::render::{self, Chrome, not_found, read_refused, segment, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;

pub(crate) use actions::{assign, create, delete, unassign};
use graph::{Graph, Member};

/// Rows per page of a scenario's applications and of its runtimes.
const PAGE_SIZE: u32 = 50;

const NAV: &str = "scenarios";

pub(super) fn href(name: &str) -> String {
    format!("/console/scenarios/{}", segment(name))
}

#[derive(Deserialize)]
struct DefinitionAnswer {
    #[serde(rename = "labelDefinition")]
    label_definition: Option<Definition>,
}

#[derive(Deserialize)]
struct Definition {
    schema: Option<String>,
}

/// The `scenarios` definition's schema as JSON: `None` when the tenant has no definition
/// yet (it is made, with the default schema, on first use).
pub(super) async fn scenarios_schema(
    state: &ConsoleState,
    session: &Session,
) -> Result<Result<Option<Value>, Vec<Refusal>>, ConsoleError> {
    let answer = graphql::execute::<DefinitionAnswer>(
        state,
        session.consumer(),
        "query($key: String!) { labelDefinition(key: $key) { schema } }",
        json!({ "key": SCENARIOS_KEY }),
    )
    .await?;
    Ok(answer.map(|a| {
        a.label_definition
            .and_then(|d| d.schema)
            .and_then(|s| serde_json::from_str(&s).ok())
    }))
}

/// The scenarios a schema allows: its `items.enum` (the default schema's without one).
pub(super) fn scenario_names(schema: Option<&Value>) -> Vec<String> {
    let default = default_scenarios_schema();
    schema
        .unwrap_or(&default)
        .pointer("/items/enum")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The schema with `items.enum` replaced by `names`; an error when the schema has no
/// `items` object to hold one.
pub(super) fn with_names(schema: Option<Value>, names: Vec<String>) -> Result<Value, String> {
    let mut schema = schema.unwrap_or_else(default_scenarios_schema);
    let items = schema
        .get_mut("items")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            "The scenarios label definition's schema has no `items`; edit it under Label definitions."
                .to_owned()
        })?;
    items.insert(
        "enum".to_owned(),
        Value::Array(names.into_iter().map(Value::String).collect()),
    );
    Ok(schema)
}

/// The label filter of a scenario's members.
fn member_filter(name: &str) -> Value {
    json!([{ "key": SCENARIOS_KEY, "query": format!("$[*] ? (@ == {})", Value::String(name.to_owned())) }])
}

/// Which objects: the GraphQL names that differ between applications and runtimes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Application,
    Runtime,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        match text {
            "application" => Some(Kind::Application),
            "runtime" => Some(Kind::Runtime),
            _ => None,
        }
    }

    /// The list query's root field.
    fn list(self) -> &'static str {
        match self {
            Kind::Application => "applications",
            Kind::Runtime => "runtimes",
        }
    }

    /// The mutation that adds (`assign`) or removes the scenario `$s` of the object `$id`.
    fn change_scenario(self, assign: bool) -> &'static str {
        match (self, assign) {
            (Kind::Application, true) => {
                "mutation($id: ID!, $s: String!) { \
                 addApplicationScenario(applicationID: $id, scenario: $s) { key } }"
            }
            (Kind::Application, false) => {
                "mutation($id: ID!, $s: String!) { \
                 removeApplicationScenario(applicationID: $id, scenario: $s) { key } }"
            }
            (Kind::Runtime, true) => {
                "mutation($id: ID!, $s: String!) { \
                 addRuntimeScenario(runtimeID: $id, scenario: $s) { key } }"
            }
            (Kind::Runtime, false) => {
                "mutation($id: ID!, $s: String!) { \
                 removeRuntimeScenario(runtimeID: $id, scenario: $s) { key } }"
            }
        }
    }

    fn href(self, id: &str) -> String {
        match self {
            Kind::Application => format!("/console/applications/{id}"),
            Kind::Runtime => format!("/console/runtimes/{id}"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Application => "application",
            Kind::Runtime => "runtime",
        }
    }
}

#[derive(Deserialize)]
struct PageInfo {
    #[serde(rename = "endCursor")]
    end_cursor: String,
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
}

#[derive(Deserialize)]
struct CountsAnswer {
    #[serde(rename = "scenarioCounts")]
    scenario_counts: Vec<Count>,
}

#[derive(Deserialize)]
struct Count {
    scenario: String,
    applications: Option<i64>,
    runtimes: Option<i64>,
}

/// How many applications and runtimes hold each scenario (those that nothing holds are
/// absent): the Director's `scenarioCounts`, one statement per kind of object.
async fn member_counts(
    state: &ConsoleState,
    session: &Session,
) -> Result<Result<BTreeMap<String, Count>, Vec<Refusal>>, ConsoleError> {
    let answer = graphql::execute::<CountsAnswer>(
        state,
        session.consumer(),
        "{ scenarioCounts { scenario applications runtimes } }",
        json!({}),
    )
    .await?;
    Ok(answer.map(|a| {
        a.scenario_counts
            .into_iter()
            .map(|c| (c.scenario.clone(), c))
            .collect()
    }))
}

pub(crate) struct ScenarioRow {
    name: String,
    href: String,
    applications: Option<i64>,
    runtimes: Option<i64>,
}

#[derive(Template)]
#[template(path = "scenarios.html")]
pub(super) struct ListPage {
    chrome: Chrome,
    rows: Vec<ScenarioRow>,
    error: Option<String>,
    name: String,
    create_error: Option<String>,
}

/// The list, with the creation form holding `name`.
pub(super) async fn list_page(
    state: &ConsoleState,
    session: &Session,
    name: String,
) -> Result<ListPage, ConsoleError> {
    let chrome = Chrome::of(session, NAV);
    let mut errors = Vec::new();
    let names = match scenarios_schema(state, session).await? {
        Ok(schema) => scenario_names(schema.as_ref()),
        Err(refusals) => {
            errors.push(Refusal::messages(&refusals));
            Vec::new()
        }
    };
    let (apps_readable, runtimes_readable) = (chrome.can.application_read, chrome.can.runtime_read);
    let mut counts = BTreeMap::new();
    if !names.is_empty() && (apps_readable || runtimes_readable) {
        match member_counts(state, session).await? {
            Ok(answer) => counts = answer,
            Err(refusals) => errors.push(Refusal::messages(&refusals)),
        }
    }
    let counted = errors.is_empty();
    let rows = names
        .iter()
        .map(|n| {
            let count = counts.get(n);
            ScenarioRow {
                href: href(n),
                applications: (counted && apps_readable)
                    .then(|| count.and_then(|c| c.applications).unwrap_or(0)),
                runtimes: (counted && runtimes_readable)
                    .then(|| count.and_then(|c| c.runtimes).unwrap_or(0)),
                name: n.clone(),
            }
        })
        .collect();
    Ok(ListPage {
        chrome,
        rows,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        name,
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
    let page = list_page(&state, &session, String::new()).await?;
    render::html(StatusCode::OK, &page)
}

pub(crate) struct MemberRow {
    id: String,
    name: String,
    status: String,
    href: String,
}

/// One of the scenario's two lists, a page of it.
pub(crate) struct MemberList {
    rows: Vec<MemberRow>,
    total: i64,
    first_row: i64,
    last_row: i64,
    previous: Option<String>,
    next: Option<String>,
    /// The Director's refusal to list them (e.g. a missing read scope).
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct DetailQuery {
    #[serde(default)]
    apps_after: String,
    #[serde(default)]
    apps_trail: String,
    #[serde(default)]
    runtimes_after: String,
    #[serde(default)]
    runtimes_trail: String,
}

#[derive(Template)]
#[template(path = "scenario.html")]
pub(super) struct DetailPage {
    chrome: Chrome,
    name: String,
    href: String,
    applications: MemberList,
    runtimes: MemberList,
    graph: Graph,
    graph_width: u32,
    /// Members of each kind the graph leaves out (beyond [`GRAPH_PER_KIND`]).
    graph_apps_left_out: i64,
    graph_runtimes_left_out: i64,
    assign_kind: String,
    assign_id: String,
    assign_error: Option<String>,
    unassign_error: Option<String>,
    delete_error: Option<String>,
    /// The definition's schema as read (`None`: no definition yet).
    schema: Option<Value>,
}

#[derive(Deserialize)]
struct MemberPage {
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
}

#[derive(Deserialize)]
struct Status {
    condition: String,
}

/// A page of the scenario's `kind` members.
async fn members(
    state: &ConsoleState,
    session: &Session,
    kind: Kind,
    name: &str,
    pager: &Pager,
) -> Result<MemberList, ConsoleError> {
    let root = kind.list();
    let query = format!(
        "query($filter: [LabelFilter!], $first: Int, $after: PageCursor) {{ \
         {root}(filter: $filter, first: $first, after: $after) {{ \
         data {{ id name status {{ condition }} }} \
         pageInfo {{ endCursor hasNextPage }} totalCount }} }}"
    );
    let variables = json!({
        "filter": member_filter(name),
        "first": PAGE_SIZE,
        "after": pager.after(),
    });
    let answer = graphql::execute::<HashMap<String, MemberPage>>(
        state,
        session.consumer(),
        &query,
        variables,
    )
    .await?;
    let page = match answer.map(|mut a| a.remove(root)) {
        Ok(Some(page)) => page,
        Ok(None) => {
            return Ok(MemberList {
                rows: Vec::new(),
                total: 0,
                first_row: 1,
                last_row: 0,
                previous: None,
                next: None,
                error: None,
            });
        }
        Err(refusals) => {
            return Ok(MemberList {
                rows: Vec::new(),
                total: 0,
                first_row: 1,
                last_row: 0,
                previous: None,
                next: None,
                error: Some(Refusal::messages(&refusals)),
            });
        }
    };
    let first_row = pager.first_row(PAGE_SIZE);
    let shown = i64::try_from(page.data.len()).unwrap_or(0);
    Ok(MemberList {
        first_row,
        last_row: first_row + shown - 1,
        total: page.total_count,
        next: pager.next(page.page_info.has_next_page, &page.page_info.end_cursor),
        previous: pager.previous(),
        rows: page
            .data
            .into_iter()
            .map(|o| MemberRow {
                href: kind.href(&o.id),
                id: o.id,
                name: o.name,
                status: o.status.condition,
            })
            .collect(),
        error: None,
    })
}

/// The graph draws at most this many objects of each kind (the Director's largest page), so
/// at most 200 in all; the page says how many it leaves out.
const GRAPH_PER_KIND: u32 = 100;

#[derive(Deserialize)]
struct GraphPage {
    data: Vec<GraphListed>,
    #[serde(rename = "totalCount")]
    total_count: i64,
}

#[derive(Deserialize)]
struct GraphListed {
    id: String,
    name: String,
}

/// The first [`GRAPH_PER_KIND`] of the scenario's `kind` members (in id order), whatever
/// page the lists show, and how many it holds in all: one list query, so a constant number
/// of statements however many members there are. A refusal draws none (the list below
/// shows it).
async fn graph_members(
    state: &ConsoleState,
    session: &Session,
    kind: Kind,
    name: &str,
) -> Result<(Vec<Member>, i64), ConsoleError> {
    let root = kind.list();
    let query = format!(
        "query($filter: [LabelFilter!], $first: Int) {{ \
         {root}(filter: $filter, first: $first) {{ data {{ id name }} totalCount }} }}"
    );
    let variables = json!({ "filter": member_filter(name), "first": GRAPH_PER_KIND });
    let answer = graphql::execute::<HashMap<String, GraphPage>>(
        state,
        session.consumer(),
        &query,
        variables,
    )
    .await?;
    Ok(match answer.map(|mut a| a.remove(root)) {
        Ok(Some(page)) => (
            page.data
                .into_iter()
                .map(|o| Member {
                    href: kind.href(&o.id),
                    name: o.name,
                })
                .collect(),
            page.total_count,
        ),
        Ok(None) | Err(_) => (Vec::new(), 0),
    })
}

/// The scenario as `session` sees it, its lists at the positions `query` names; `None`
/// when the tenant has no such scenario.
pub(super) async fn load_detail(
    state: &ConsoleState,
    session: &Session,
    name: &str,
    query: &DetailQuery,
) -> Result<Result<Option<DetailPage>, Vec<Refusal>>, ConsoleError> {
    let schema = match scenarios_schema(state, session).await? {
        Ok(schema) => schema,
        Err(refusals) => return Ok(Err(refusals)),
    };
    if !scenario_names(schema.as_ref()).iter().any(|n| n == name) {
        return Ok(Ok(None));
    }
    let path = href(name);
    let apps_pager = Pager::new(
        path.clone(),
        "apps_after",
        "apps_trail",
        &query.apps_after,
        &query.apps_trail,
    );
    let mut runtimes_pager = Pager::new(
        path.clone(),
        "runtimes_after",
        "runtimes_trail",
        &query.runtimes_after,
        &query.runtimes_trail,
    );
    for (param, value) in apps_pager.position() {
        runtimes_pager = runtimes_pager.keep(param, &value);
    }
    let mut apps_pager_kept = apps_pager;
    for (param, value) in runtimes_pager.position() {
        apps_pager_kept = apps_pager_kept.keep(param, &value);
    }
    let applications = members(state, session, Kind::Application, name, &apps_pager_kept).await?;
    let runtimes = members(state, session, Kind::Runtime, name, &runtimes_pager).await?;
    let (graph_apps, apps_total) = graph_members(state, session, Kind::Application, name).await?;
    let (graph_runtimes, runtimes_total) =
        graph_members(state, session, Kind::Runtime, name).await?;
    let left_out =
        |total: i64, drawn: &[Member]| (total - i64::try_from(drawn.len()).unwrap_or(total)).max(0);
    let graph_apps_left_out = left_out(apps_total, &graph_apps);
    let graph_runtimes_left_out = left_out(runtimes_total, &graph_runtimes);
    let graph = graph::layout(
        &Member {
            name: name.to_owned(),
            href: path.clone(),
        },
        &graph_apps,
        &graph_runtimes,
    );
    Ok(Ok(Some(DetailPage {
        chrome: Chrome::of(session, NAV),
        name: name.to_owned(),
        href: path,
        applications,
        runtimes,
        graph,
        graph_width: graph::WIDTH,
        graph_apps_left_out,
        graph_runtimes_left_out,
        assign_kind: String::new(),
        assign_id: String::new(),
        assign_error: None,
        unassign_error: None,
        delete_error: None,
        schema,
    })))
}

pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load_detail(&state, &session, &name, &query).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_the_schemas_enum() {
        assert_eq!(scenario_names(None), vec!["DEFAULT".to_owned()]);
        let schema = with_names(None, vec!["DEFAULT".into(), "billing".into()]).unwrap();
        assert_eq!(
            scenario_names(Some(&schema)),
            vec!["DEFAULT".to_owned(), "billing".to_owned()]
        );
        // The rest of the schema stays as it was.
        assert_eq!(schema["minItems"], 1);
        assert_eq!(schema["items"]["type"], "string");
        assert!(with_names(Some(json!({"type": "array"})), vec![]).is_err());
    }

    #[test]
    fn a_scenarios_member_filter_quotes_its_name() {
        assert_eq!(
            member_filter("my \"x\""),
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"my \\\"x\\\"\")"}])
        );
    }
}
