//! `/console/applications/{id}/apis/{api}` and `/events/{event}`: one API's or event's spec,
//! readable (an outline: OpenAPI operations, AsyncAPI channels, OData entity sets, made by
//! `sextant-spec` within its parsing bounds, off the async workers) and raw, with the status
//! of its fetch request and a "Fetch again" action (`refetchAPISpec`,
//! `refetchEventDefinitionSpec`).

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_domain::{ApiSpecType, EventSpecType, MAX_SPEC_BYTES, SpecFormat};
use sextant_spec::{Outline, SpecKind};

use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::render::{self, Chrome, not_found, read_refused, see_other, segment, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;
use crate::times;

/// The raw spec is shown up to this many bytes (the page says when it is cut).
const RAW_BYTES: usize = 64 * 1024;
/// The outline reads specs up to this size (inline specs' limit; fetched ones may be
/// larger, and are then shown raw only).
const OUTLINE_BYTES: usize = MAX_SPEC_BYTES;
/// The outline lists at most this many entries (the page says how many it leaves out).
const OUTLINE_ROWS: usize = 500;

/// An API or an event definition: what differs between their pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Definition {
    Api,
    Event,
}

impl Definition {
    fn word(self) -> &'static str {
        match self {
            Definition::Api => "API",
            Definition::Event => "event",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Definition::Api => "apis",
            Definition::Event => "events",
        }
    }

    fn query(self) -> &'static str {
        match self {
            Definition::Api => {
                "query($id: ID!, $def: ID!) { application(id: $id) { id name \
                 definition: apiDefinition(id: $def) { id name description targetURL \
                 spec { data type format fetchRequest { url mode \
                 status { condition timestamp message } } } } } }"
            }
            Definition::Event => {
                "query($id: ID!, $def: ID!) { application(id: $id) { id name \
                 definition: eventDefinition(id: $def) { id name description \
                 spec { data type format fetchRequest { url mode \
                 status { condition timestamp message } } } } } }"
            }
        }
    }

    fn refetch(self) -> &'static str {
        match self {
            Definition::Api => "mutation($id: ID!) { refetchAPISpec(apiID: $id) { type } }",
            Definition::Event => {
                "mutation($id: ID!) { refetchEventDefinitionSpec(eventID: $id) { type } }"
            }
        }
    }

    /// The spec's kind, from its `type`.
    fn kind(self, spec_type: &str) -> Option<SpecKind> {
        match self {
            Definition::Api => ApiSpecType::parse(spec_type).map(SpecKind::from),
            Definition::Event => EventSpecType::parse(spec_type).map(SpecKind::from),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    application: Option<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    id: String,
    name: String,
    definition: Option<Defined>,
}

#[derive(Deserialize)]
struct Defined {
    id: String,
    name: String,
    description: Option<String>,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
    spec: Option<Spec>,
}

#[derive(Deserialize)]
struct Spec {
    data: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    format: String,
    #[serde(rename = "fetchRequest")]
    fetch_request: Option<FetchRequest>,
}

#[derive(Deserialize)]
struct FetchRequest {
    url: String,
    mode: String,
    status: FetchStatus,
}

#[derive(Deserialize)]
struct FetchStatus {
    condition: String,
    timestamp: String,
    message: Option<String>,
}

/// One row of the outline's table.
pub(crate) struct OutlineRow {
    first: String,
    second: String,
    third: String,
}

/// The fetch request as the page shows it.
pub(crate) struct Fetch {
    url: String,
    mode: String,
    condition: String,
    at: String,
    message: String,
}

#[derive(Template)]
#[template(path = "spec.html")]
struct SpecPage {
    chrome: Chrome,
    app_id: String,
    app_name: String,
    /// "API" or "event".
    word: &'static str,
    /// The path of this page.
    href: String,
    name: String,
    description: String,
    target_url: String,
    spec_type: String,
    spec_format: String,
    fetch: Option<Fetch>,
    /// The outline's column headings (empty: no outline).
    headings: [&'static str; 3],
    outline: Vec<OutlineRow>,
    /// Entries the outline leaves out.
    outline_left_out: usize,
    /// Why there is no outline ("" when there is one).
    outline_note: String,
    raw: String,
    raw_bytes: usize,
    raw_cut: bool,
    refetch_error: Option<String>,
}

/// The outline of a spec, made off the async workers: parsing is bounded but may take
/// milliseconds for a large spec.
async fn outline_of(
    kind: Option<SpecKind>,
    format: &str,
    data: &str,
) -> ([&'static str; 3], Vec<OutlineRow>, usize, String) {
    let none = |note: String| (["", "", ""], Vec::new(), 0, note);
    let (Some(kind), Some(format)) = (kind, SpecFormat::parse(format)) else {
        return none("This kind of spec has no outline.".to_owned());
    };
    if data.len() > OUTLINE_BYTES {
        return none(format!(
            "The spec is {} bytes; the outline reads specs up to {OUTLINE_BYTES} bytes.",
            data.len()
        ));
    }
    let text = data.to_owned();
    let made = tokio::task::spawn_blocking(move || {
        sextant_spec::outline(kind, format, &text, OUTLINE_BYTES, OUTLINE_ROWS)
    })
    .await;
    let outlined = match made {
        Ok(Ok(outlined)) => outlined,
        Ok(Err(e)) => return none(format!("The spec cannot be outlined: {e}")),
        Err(_) => return none("The spec cannot be outlined.".to_owned()),
    };
    let (headings, rows): ([&'static str; 3], Vec<OutlineRow>) = match outlined.outline {
        Outline::Operations(ops) => (
            ["Method", "Path", "Summary"],
            ops.into_iter()
                .map(|o| OutlineRow {
                    first: o.method,
                    second: o.path,
                    third: o.summary,
                })
                .collect(),
        ),
        Outline::Channels(channels) => (
            ["Channel", "Operation", "Message"],
            channels
                .into_iter()
                .map(|c| OutlineRow {
                    first: c.name,
                    second: c.operation,
                    third: c.message,
                })
                .collect(),
        ),
        Outline::EntitySets(names) => (
            ["Entity set", "", ""],
            names
                .into_iter()
                .map(|n| OutlineRow {
                    first: n,
                    second: String::new(),
                    third: String::new(),
                })
                .collect(),
        ),
    };
    let left_out = outlined.total.saturating_sub(rows.len());
    let note = if rows.is_empty() {
        "The spec lists nothing to outline.".to_owned()
    } else {
        String::new()
    };
    (headings, rows, left_out, note)
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The page of the definition `def` of application `id` as `session` sees it; `None` when
/// either does not exist or is out of reach.
async fn load(
    state: &ConsoleState,
    session: &Session,
    definition: Definition,
    id: &str,
    def: &str,
) -> Result<Result<Option<SpecPage>, Vec<Refusal>>, ConsoleError> {
    if uuid::Uuid::parse_str(id).is_err() || uuid::Uuid::parse_str(def).is_err() {
        return Ok(Ok(None));
    }
    let answer = graphql::execute::<Answer>(
        state,
        session.consumer(),
        definition.query(),
        json!({ "id": id, "def": def }),
    )
    .await?;
    let owner = match answer {
        Ok(Answer {
            application: Some(owner),
        }) => owner,
        Ok(Answer { application: None }) => return Ok(Ok(None)),
        Err(refusals) if Refusal::is_not_found(&refusals) => return Ok(Ok(None)),
        Err(refusals) => return Ok(Err(refusals)),
    };
    let Some(defined) = owner.definition else {
        return Ok(Ok(None));
    };
    let href = format!(
        "/console/applications/{}/{}/{}",
        segment(&owner.id),
        definition.segment(),
        segment(&defined.id)
    );
    let mut page = SpecPage {
        chrome: Chrome::of(session, "applications"),
        app_id: owner.id,
        app_name: owner.name,
        word: definition.word(),
        href,
        name: defined.name,
        description: defined.description.unwrap_or_default(),
        target_url: defined.target_url.unwrap_or_default(),
        spec_type: String::new(),
        spec_format: String::new(),
        fetch: None,
        headings: ["", "", ""],
        outline: Vec::new(),
        outline_left_out: 0,
        outline_note: "This definition has no spec.".to_owned(),
        raw: String::new(),
        raw_bytes: 0,
        raw_cut: false,
        refetch_error: None,
    };
    if let Some(spec) = defined.spec {
        let data = spec.data.unwrap_or_default();
        let (headings, outline, left_out, note) =
            outline_of(definition.kind(&spec.kind), &spec.format, &data).await;
        page.headings = headings;
        page.outline = outline;
        page.outline_left_out = left_out;
        page.outline_note = note;
        page.raw = head(&data, RAW_BYTES).to_owned();
        page.raw_bytes = data.len();
        page.raw_cut = data.len() > RAW_BYTES;
        page.spec_type = spec.kind;
        page.spec_format = spec.format;
        page.fetch = spec.fetch_request.map(|f| Fetch {
            url: f.url,
            mode: f.mode,
            condition: f.status.condition,
            at: times::text(&f.status.timestamp),
            message: f.status.message.unwrap_or_default(),
        });
    }
    Ok(Ok(Some(page)))
}

async fn show(
    state: ConsoleState,
    headers: HeaderMap,
    definition: Definition,
    id: String,
    def: String,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match load(&state, &session, definition, &id, &def).await? {
        Ok(Some(page)) => render::html(StatusCode::OK, &page),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

/// `GET /console/applications/{id}/apis/{api}`.
pub(crate) async fn api(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, api)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    show(state, headers, Definition::Api, id, api).await
}

/// `GET /console/applications/{id}/events/{event}`.
pub(crate) async fn event(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, event)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    show(state, headers, Definition::Event, id, event).await
}

/// Fetches the spec again through the Director (which needs `application:write` and
/// fetches before its write transaction), then shows the page again.
async fn refetch(
    state: ConsoleState,
    headers: HeaderMap,
    definition: Definition,
    id: String,
    def: String,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    // The definition must be the application's, in the session's tenant and reach.
    let mut page = match load(&state, &session, definition, &id, &def).await? {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    match graphql::execute::<Value>(
        &state,
        session.consumer(),
        definition.refetch(),
        json!({ "id": def }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(&page.href)),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            page.refetch_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

/// `POST /console/applications/{id}/apis/{api}/refetch`.
pub(crate) async fn refetch_api(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, api)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    refetch(state, headers, Definition::Api, id, api, body).await
}

/// `POST /console/applications/{id}/events/{event}/refetch`.
pub(crate) async fn refetch_event(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, event)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    refetch(state, headers, Definition::Event, id, event, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_spec_is_cut_at_a_character_boundary() {
        assert_eq!(head("abc", 10), "abc");
        assert_eq!(head("aé", 2), "a");
        assert_eq!(head("aé", 3), "aé");
    }
}
