//! `/console/`: the dashboard, counts through the Director's `totalCount`s.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::error::ConsoleError;
use crate::graphql::{self, Refusal};
use crate::render::{self, Chrome, to_login};
use crate::session;
use crate::state::ConsoleState;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    applications: Option<i64>,
    runtimes: Option<i64>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    #[serde(rename = "totalCount")]
    total_count: i64,
}

#[derive(Deserialize)]
struct ApplicationCount {
    applications: Count,
}

#[derive(Deserialize)]
struct RuntimeCount {
    runtimes: Count,
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let chrome = Chrome::of(&session, "dashboard");
    let mut errors = Vec::new();
    let mut applications = None;
    if chrome.can.application_read {
        match graphql::execute::<ApplicationCount>(
            &state,
            session.consumer(),
            "{ applications(first: 1) { totalCount } }",
            json!({}),
        )
        .await?
        {
            Ok(count) => applications = Some(count.applications.total_count),
            Err(refusals) => errors.push(Refusal::messages(&refusals)),
        }
    }
    let mut runtimes = None;
    if chrome.can.runtime_read {
        match graphql::execute::<RuntimeCount>(
            &state,
            session.consumer(),
            "{ runtimes(first: 1) { totalCount } }",
            json!({}),
        )
        .await?
        {
            Ok(count) => runtimes = Some(count.runtimes.total_count),
            Err(refusals) => errors.push(Refusal::messages(&refusals)),
        }
    }
    render::html(
        StatusCode::OK,
        &DashboardPage {
            chrome,
            applications,
            runtimes,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
        },
    )
}
