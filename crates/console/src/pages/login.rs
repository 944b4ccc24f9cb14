//! Signing in and out: the login page, redeeming a one-time link, pasting an API token,
//! logging out.
//!
//! Opening the link's URL (`GET /console/login?link=…`) only shows a "Sign in" button: a
//! link scanner that fetches it does not use it up. The button POSTs the token, which is
//! redeemed in the transaction that stores the new session.

use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_store::ConsoleGrant;
use time::OffsetDateTime;

use crate::assets;
use crate::error::ConsoleError;
use crate::form;
use crate::render::{self, bad_csrf, no_session, see_other};
use crate::session;
use crate::state::ConsoleState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    css: String,
    link: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    link: Option<String>,
}

fn login_page(status: StatusCode, link: Option<String>, error: Option<&str>) -> Response {
    let page = LoginPage {
        css: assets::path("console.css"),
        link: link.filter(|l| !l.is_empty()),
        error: error.map(str::to_owned),
    };
    match render::html(status, &page) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn show(Query(query): Query<LoginQuery>) -> Response {
    login_page(StatusCode::OK, query.link, None)
}

/// A sign-in form posted from another site is refused: nobody can be signed into a session
/// someone else chose. Browsers say where a request comes from in `Sec-Fetch-Site`; older
/// ones only in `Origin`, which is `null` here (the console's pages are `no-referrer`, and a
/// POST then carries an opaque origin), so only a named foreign origin is refused by it.
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or_default());
    if fetch_site.is_some_and(|site| site != "same-origin" && site != "none") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the request's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    origin
        .to_str()
        .is_ok_and(|o| o == "null" || o == format!("https://{host}"))
}

/// The answer that hands the browser its new session: the cookie, and on to the dashboard.
fn signed_in(id: &str) -> Response {
    let mut response = see_other("/console/");
    if let Some(cookie) = session::set_cookie(id) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub(crate) async fn redeem_link(
    State(state): State<ConsoleState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers, &uri) {
        return Ok(bad_csrf());
    }
    let form = match form::read(body).await {
        Ok(form) => form,
        Err(status) => return Ok(status.into_response()),
    };
    let token = form.text("link");
    let refused = || {
        login_page(
            StatusCode::UNAUTHORIZED,
            None,
            Some(
                "This login link is not valid: it was already used, it expired, or it is mistyped. Ask for a new one.",
            ),
        )
    };
    if token.is_empty() {
        return Ok(refused());
    }
    let now = OffsetDateTime::now_utc();
    let mut tx = state.store().write().await?;
    let Some(link) = tx
        .redeem_console_login_link(&sextant_auth::secret_hash(&token), now)
        .await?
    else {
        return Ok(refused());
    };
    let (id, stored) = session::open(link.grant, now, None)?;
    tx.insert_console_session(&stored).await?;
    tx.commit().await?;
    tracing::info!(subject = %stored.grant.subject, "console session opened with a login link");
    Ok(signed_in(&id))
}

pub(crate) async fn paste_token(
    State(state): State<ConsoleState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers, &uri) {
        return Ok(bad_csrf());
    }
    let form = match form::read(body).await {
        Ok(form) => form,
        Err(status) => return Ok(status.into_response()),
    };
    let token = form.text("token");
    let claims = match state.verifier().verify(&token) {
        Ok(claims) if claims.client.is_none() => claims,
        Ok(_) => {
            return Ok(login_page(
                StatusCode::UNAUTHORIZED,
                None,
                Some("This is an OAuth2 client's token; the console takes a user's API token."),
            ));
        }
        Err(_) => {
            return Ok(login_page(
                StatusCode::UNAUTHORIZED,
                None,
                Some("This token is not valid (or it expired)."),
            ));
        }
    };
    let now = OffsetDateTime::now_utc();
    let end = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    let mut tenants = vec![sextant_domain::TenantId(claims.tenant)];
    tenants.extend(
        claims
            .tenants
            .iter()
            .map(|t| sextant_domain::TenantId(*t))
            .filter(|t| t.0 != claims.tenant),
    );
    let grant = ConsoleGrant {
        subject: claims.sub,
        tenants,
        scopes: claims
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    let (id, stored) = session::open(grant, now, Some(end))?;
    let mut tx = state.store().write().await?;
    tx.insert_console_session(&stored).await?;
    tx.commit().await?;
    tracing::info!(subject = %stored.grant.subject, "console session opened with an API token");
    Ok(signed_in(&id))
}

pub(crate) async fn logout(
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
    let mut tx = state.store().write().await?;
    tx.delete_console_session(session.session_hash()).await?;
    tx.commit().await?;
    let mut response = see_other("/console/login");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    Ok(response)
}
