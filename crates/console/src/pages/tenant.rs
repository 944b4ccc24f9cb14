//! The tenant switcher: makes another of the session's tenants its current one.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sextant_domain::TenantId;

use crate::error::ConsoleError;
use crate::form;
use crate::render::{bad_csrf, no_session, refusal, see_other};
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
