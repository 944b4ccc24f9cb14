//! Turning views into responses: the page chrome every layout shows ([`Chrome`]), HTML
//! pages, redirects and refusals.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_domain::Scope;

use crate::assets;
use crate::error::ConsoleError;
use crate::session::Session;

/// A tenant the switcher offers.
pub(crate) struct TenantOption {
    pub(crate) id: String,
    pub(crate) current: bool,
}

/// What the session may do, so that pages offer only those actions (the Director refuses
/// the rest anyway).
pub(crate) struct Can {
    pub(crate) application_read: bool,
    pub(crate) application_write: bool,
    pub(crate) runtime_read: bool,
    pub(crate) runtime_write: bool,
    pub(crate) label_definition_read: bool,
    pub(crate) label_definition_write: bool,
    pub(crate) integration_system_read: bool,
    pub(crate) integration_system_write: bool,
    pub(crate) template_read: bool,
    pub(crate) template_write: bool,
    /// May write global templates (an operator's scope).
    pub(crate) template_global: bool,
}

/// Up to this many tenants, the switcher is one select of them all; beyond, it is a search
/// (`/console/tenants?q=`), so a page does not carry a long list.
pub(crate) const SWITCHER_TENANTS: usize = 10;

/// What the layout shows around every page of a session.
pub(crate) struct Chrome {
    pub(crate) subject: String,
    pub(crate) tenant: String,
    /// The tenants the switcher's select offers (empty when they are searched instead).
    pub(crate) tenants: Vec<TenantOption>,
    /// Whether the session holds more than [`SWITCHER_TENANTS`] tenants: the switcher is a
    /// search.
    pub(crate) many_tenants: bool,
    pub(crate) csrf: String,
    /// Which navigation entry is current.
    pub(crate) nav: &'static str,
    pub(crate) css: String,
    pub(crate) js: String,
    /// Counts down to the times of `data-expires-at` elements (a one-time token's expiry).
    pub(crate) countdown_js: String,
    pub(crate) can: Can,
}

impl Chrome {
    pub(crate) fn of(session: &Session, nav: &'static str) -> Chrome {
        let stored = &session.stored;
        let many_tenants = stored.grant.tenants.len() > SWITCHER_TENANTS;
        Chrome {
            subject: stored.grant.subject.clone(),
            tenant: stored.current_tenant.0.to_string(),
            tenants: if many_tenants {
                Vec::new()
            } else {
                tenant_options(session, "")
            },
            many_tenants,
            csrf: stored.csrf_token.clone(),
            nav,
            css: assets::path("console.css"),
            js: assets::path("htmx.min.js"),
            countdown_js: assets::path("countdown.js"),
            can: Can {
                application_read: session.has(Scope::ApplicationRead),
                application_write: session.has(Scope::ApplicationWrite),
                runtime_read: session.has(Scope::RuntimeRead),
                runtime_write: session.has(Scope::RuntimeWrite),
                label_definition_read: session.has(Scope::LabelDefinitionRead),
                label_definition_write: session.has(Scope::LabelDefinitionWrite),
                integration_system_read: session.has(Scope::IntegrationSystemRead),
                integration_system_write: session.has(Scope::IntegrationSystemWrite),
                template_read: session.has(Scope::ApplicationTemplateRead),
                template_write: session.has(Scope::ApplicationTemplateWrite),
                template_global: session.has(Scope::ApplicationTemplateGlobal),
            },
        }
    }
}

/// The session's tenants whose id contains `search` (case-insensitive), in the grant's order.
pub(crate) fn tenant_options(session: &Session, search: &str) -> Vec<TenantOption> {
    let stored = &session.stored;
    let search = search.trim().to_lowercase();
    stored
        .grant
        .tenants
        .iter()
        .map(|t| TenantOption {
            id: t.0.to_string(),
            current: *t == stored.current_tenant,
        })
        .filter(|t| t.id.contains(&search))
        .collect()
}

/// A page without a session (login, refusals).
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) title: &'static str,
    pub(crate) message: String,
    pub(crate) css: String,
}

/// Renders a page with `status`.
pub(crate) fn html<T: Template>(status: StatusCode, page: &T) -> Result<Response, ConsoleError> {
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.render()?,
    )
        .into_response())
}

/// `303 See Other` to `location` (after a POST, or to the login page).
pub(crate) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Where a page without a session sends the browser.
pub(crate) fn to_login() -> Response {
    see_other("/console/login")
}

/// A read the Director refused (a scope or confinement): 403 with its messages.
pub(crate) fn read_refused(refusals: &[crate::graphql::Refusal]) -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "Refused",
        &crate::graphql::Refusal::messages(refusals),
    )
}

/// A refusal as a short page: 401 for a POST without a session, 403 for a bad CSRF token or
/// a tenant the session does not hold, 404 for what does not exist (or is out of reach).
pub(crate) fn refusal(status: StatusCode, title: &'static str, message: &str) -> Response {
    let page = MessagePage {
        title,
        message: message.to_owned(),
        css: assets::path("console.css"),
    };
    match html(status, &page) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// The refusal of a POST without a live session.
pub(crate) fn no_session() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "Signed out",
        "There is no live console session; sign in again.",
    )
}

/// The refusal of a POST whose CSRF token is missing or not the session's.
pub(crate) fn bad_csrf() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "Refused",
        "The form's security token is missing or wrong; reload the page and try again.",
    )
}

/// A 404 page.
pub(crate) fn not_found() -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such object in this tenant.",
    )
}

/// `text` as one path segment of a URL: everything but RFC 3986's unreserved characters
/// percent-encoded (label keys and scenario names may hold spaces and slashes).
pub(crate) fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_keeps_only_unreserved_characters() {
        assert_eq!(segment("DEFAULT"), "DEFAULT");
        assert_eq!(segment("runtime/event url"), "runtime%2Fevent%20url");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
