//! The tenant switcher: makes another of the session's tenants its current one; with many
//! tenants, a search of them (a GET form, filtered here, so it works without JavaScript).

use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sextant_domain::TenantId;

use crate::error::ConsoleError;
use crate::form;
use crate::render::{
    self, Chrome, TenantOption, bad_csrf, no_session, refusal, see_other, tenant_options, to_login,
};
use crate::session;
use crate::state::ConsoleState;

pub(crate) async fn switch(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(no_session());
    };
    let form = match form::read(body).await {
        Ok(form) => form,
        Err(status) => return Ok(status.into_response()),
    };
    if !session.csrf_matches(form.get("csrf")) {
        return Ok(bad_csrf());
    }
    let wanted = uuid::Uuid::parse_str(&form.text("tenant"))
        .ok()
        .map(TenantId);
    let Some(tenant) = wanted.filter(|t| session.stored.grant.tenants.contains(t)) else {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "This session may not act in that tenant.",
        ));
    };
    let mut tx = state.store().write().await?;
    tx.set_console_session_tenant(session.session_hash(), tenant)
        .await?;
    tx.commit().await?;
    Ok(see_other("/console/"))
}

/// At most this many matching tenants are listed; the page says how many more matched.
const SHOWN: usize = 50;

#[derive(serde::Deserialize, Default)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    q: String,
    found: Vec<TenantOption>,
    matched: usize,
}

/// `GET /console/tenants?q=`: the session's tenants whose id contains `q`, each with a
/// button that switches to it (the same POST as the switcher's select).
pub(crate) async fn search(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let q = query.q.trim().to_owned();
    let mut found = tenant_options(&session, &q);
    let matched = found.len();
    found.truncate(SHOWN);
    render::html(
        StatusCode::OK,
        &TenantsPage {
            chrome: Chrome::of(&session, "tenants"),
            q,
            found,
            matched,
        },
    )
}
