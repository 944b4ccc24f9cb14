//! Sextant's web console: server-rendered pages under `/console` on the main listener.
//!
//! **No second path around the rules.** Every page and action runs a GraphQL document
//! in-process against the Director's schema (the runtime pages' Provisioner actions: the
//! Provisioner's) with the session's [`Consumer`](sextant_domain::Consumer)
//! (`sextant_director::prepare` or `sextant_provisioner::prepare`, then `execute`, exactly as
//! `/director/graphql` and `/provisioner/graphql` do) and reads the JSON answer into view
//! structs; tenants, scopes and confinement are those of the
//! API. The console's own state is its login links and sessions (`sextant_store::ConsoleTx`),
//! kept in the database so that replicas share them.
//!
//! Within the crate, imports run one way: `pages/` import the leaves (`state`, `session`,
//! `graphql`, `form`, `labels`, `pager`, `render`, `times`, `fleet`, `assets`, `error`); only `lib.rs` names the pages, to route
//! to them. The server builds a [`ConsoleState`] and merges [`router`] into its main router;
//! this crate does not know the server.
//!
//! Every response carries a strict Content-Security-Policy (no inline script or style: the
//! only scripts are the vendored htmx and the console's countdown, the only style sheet the
//! console's own, all embedded and served from `/console/assets/`), and every POST form a
//! CSRF token bound to the session.
#![forbid(unsafe_code)]

mod assets;
mod deletion;
mod error;
mod fleet;
mod form;
mod graphql;
mod labels;
mod links;
mod pager;
mod pages;
mod render;
mod search;
mod security;
mod session;
mod state;
mod times;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use error::ConsoleError;
pub use fleet::AGENT_STALE_AFTER;
pub use links::{LINK_TTL, create_login_link, login_url};
pub use session::{ABSOLUTE_TIMEOUT, COOKIE_NAME, IDLE_TIMEOUT};
pub use state::{ConsoleSettings, ConsoleState};

/// The console's routes, all under `/console`, with their security headers.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(pages::dashboard::show))
        .route(
            "/console/login",
            get(pages::login::show).post(pages::login::redeem_link),
        )
        .route("/console/login/token", post(pages::login::paste_token))
        .route("/console/logout", post(pages::login::logout))
        .route("/console/tenant", post(pages::tenant::switch))
        .route("/console/tenants", get(pages::tenant::search))
        .route(
            "/console/applications",
            get(pages::applications::list).post(pages::applications::register),
        )
        .route(
            "/console/applications/new",
            get(pages::applications::new_form),
        )
        .route(
            "/console/applications/{id}",
            get(pages::applications::detail),
        )
        .route(
            "/console/applications/{id}/delete",
            post(pages::applications::delete),
        )
        .route(
            "/console/applications/{id}/deliveries/{delivery}/resend",
            post(pages::applications::resend_delivery),
        )
        .route(
            "/console/applications/{id}/webhooks/{webhook}/test",
            post(pages::applications::send_test_event),
        )
        .route(
            "/console/applications/{id}/certificates/{serial}/revoke",
            post(pages::applications::revoke_certificate),
        )
        .route(
            "/console/applications/{id}/credentials",
            post(pages::applications::request_credentials),
        )
        .route(
            "/console/applications/{id}/credentials/{auth}/revoke",
            post(pages::applications::revoke_credential),
        )
        .route(
            "/console/applications/{id}/apis/{api}",
            get(pages::applications::specs::api),
        )
        .route(
            "/console/applications/{id}/apis/{api}/refetch",
            post(pages::applications::specs::refetch_api),
        )
        .route(
            "/console/applications/{id}/events/{event}",
            get(pages::applications::specs::event),
        )
        .route(
            "/console/applications/{id}/events/{event}/refetch",
            post(pages::applications::specs::refetch_event),
        )
        .route(
            "/console/applications/{id}/connect",
            get(pages::applications::connect::show).post(pages::applications::connect::issue),
        )
        .route(
            "/console/applications/{id}/connect/{token}",
            get(pages::applications::connect::status),
        )
        .route(
            "/console/runtimes",
            get(pages::runtimes::list).post(pages::runtimes::actions::provision),
        )
        .route(
            "/console/runtimes/new",
            get(pages::runtimes::actions::new_form),
        )
        .route("/console/runtimes/{id}", get(pages::runtimes::detail))
        .route(
            "/console/runtimes/{id}/labels",
            post(pages::runtimes::set_label),
        )
        .route(
            "/console/runtimes/{id}/labels/delete",
            post(pages::runtimes::delete_label),
        )
        .route(
            "/console/runtimes/{id}/delete",
            post(pages::runtimes::delete),
        )
        .route(
            "/console/runtimes/{id}/deprovision",
            post(pages::runtimes::actions::deprovision),
        )
        .route(
            "/console/runtimes/{id}/reconnect",
            post(pages::runtimes::actions::reconnect),
        )
        .route(
            "/console/runtimes/{id}/upgrade",
            post(pages::runtimes::actions::upgrade),
        )
        .route(
            "/console/runtimes/{id}/facts",
            get(pages::runtimes::facts::fragment),
        )
        .route(
            "/console/runtimes/{id}/operations/{operation}",
            get(pages::runtimes::operation::fragment),
        )
        .route(
            "/console/scenarios",
            get(pages::scenarios::list).post(pages::scenarios::create),
        )
        .route("/console/scenarios/{name}", get(pages::scenarios::detail))
        .route(
            "/console/scenarios/{name}/assign",
            post(pages::scenarios::assign),
        )
        .route(
            "/console/scenarios/{name}/unassign",
            post(pages::scenarios::unassign),
        )
        .route(
            "/console/scenarios/{name}/delete",
            post(pages::scenarios::delete),
        )
        .route(
            "/console/label-definitions",
            get(pages::label_definitions::list).post(pages::label_definitions::create),
        )
        .route(
            "/console/label-definitions/{key}",
            get(pages::label_definitions::detail).post(pages::label_definitions::update),
        )
        .route(
            "/console/label-definitions/{key}/delete",
            post(pages::label_definitions::delete),
        )
        .route(
            "/console/integration-systems",
            get(pages::integration_systems::list).post(pages::integration_systems::register),
        )
        .route(
            "/console/integration-systems/new",
            get(pages::integration_systems::new_form),
        )
        .route(
            "/console/integration-systems/{id}",
            get(pages::integration_systems::detail),
        )
        .route(
            "/console/integration-systems/{id}/delete",
            post(pages::integration_systems::delete),
        )
        .route(
            "/console/integration-systems/{id}/credentials",
            post(pages::integration_systems::request_credentials),
        )
        .route(
            "/console/application-templates",
            get(pages::templates::list).post(pages::templates::register),
        )
        .route(
            "/console/application-templates/new",
            get(pages::templates::new_form),
        )
        .route(
            "/console/application-templates/{id}",
            get(pages::templates::detail),
        )
        .route(
            "/console/application-templates/{id}/delete",
            post(pages::templates::delete),
        )
        .route(
            "/console/application-templates/{id}/register",
            post(pages::templates::register_application),
        )
        .route("/console/assets/{digest}/{name}", get(assets::serve))
        .layer(axum::middleware::map_response(security::headers))
        .with_state(state)
}
