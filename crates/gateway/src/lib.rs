//! The runtime gateway's application side: inside a runtime, a workload calls
//! `http://<gateway>/<application>/<api>/<path>?<query>` and the gateway forwards the call to
//! the API's `targetURL` (joined with `<path>` and the query) with the credentials the runtime
//! holds for that API: its own (`setAPIAuth`), else the API's default (basic, OAuth2 client
//! credentials with a token cache, CSRF token, extra headers and query parameters; through
//! `sextant-fetch`, under its policy on addresses, redirects, time and size).
//!
//! Applications and APIs are named by id or by name, as in the runtime's configuration
//! document: a segment that parses as a UUID is matched against ids only, so no name can
//! capture a call addressed by id; a name matches only when it is unique. The gateway reads
//! the document on every call from a `watch` channel (the agent
//! publishes each applied document there): a configuration change applies at once, without
//! a restart, and an application or API that left the configuration is a 404 from the next
//! call on.
//!
//! Credentials never reach the workload: the workload's own `Authorization`, `Cookie` and
//! proxy headers are not forwarded (so it cannot replace the runtime's credentials either),
//! hop-by-hop headers are dropped both ways, and `Set-Cookie` from the API is not passed back.
//!
//! The event side ([`events`]): applications post events with their client certificate to
//! the runtime's event gateway, which accepts them only from applications of the applied
//! configuration and hands them to a local sink (a file, a command or an HTTP endpoint).
//!
//! Must not know: the store, GraphQL, or how the agent obtains its configuration; it reads
//! the applied document from a `watch` channel and calls out through `sextant-fetch`.
#![forbid(unsafe_code)]

pub mod events;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use sextant_domain::runtime_config::{ConfiguredApi, RuntimeConfiguration};
use sextant_fetch::{FetchError, Fetcher, OutboundRequest};
use tokio::sync::watch;
use uuid::Uuid;

/// The largest request body forwarded (the response is bounded by the fetcher's policy).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The configuration the gateway follows: `None` until the agent applied the first one.
pub type ConfigurationFeed = watch::Receiver<Option<Arc<RuntimeConfiguration>>>;

#[derive(Clone)]
struct Gateway {
    configuration: ConfigurationFeed,
    fetcher: Fetcher,
}

/// The application gateway's routes, to be served on a local port (plain HTTP inside the
/// runtime).
pub fn application_gateway(configuration: ConfigurationFeed, fetcher: Fetcher) -> Router {
    Router::new()
        .route("/{application}/{api}", any(forward_root))
        .route("/{application}/{api}/", any(forward_root))
        .route("/{application}/{api}/{*path}", any(forward))
        .with_state(Gateway {
            configuration,
            fetcher,
        })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Headers a workload may not pass to an application: identity and credentials (the
/// gateway's are the only ones), and hop-by-hop headers.
fn forwarded_request_header(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "host"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "x-csrf-token"
    )
}

/// Headers of the application's answer passed back to the workload.
fn returned_response_header(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "set-cookie"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

/// How a path segment names an application or API: a segment that parses as a UUID is an
/// id and is matched against ids only; anything else is a name. So a name can never
/// capture a call addressed by id, even a name chosen to look like another object's id
/// (Compass allows such names; the object stays reachable by its id).
enum Reference<'a> {
    Id(Uuid),
    Name(&'a str),
}

impl<'a> Reference<'a> {
    fn parse(segment: &'a str) -> Self {
        match Uuid::parse_str(segment) {
            Ok(id) => Reference::Id(id),
            Err(_) => Reference::Name(segment),
        }
    }

    /// The one item it names: by id, or by name when exactly one item has that name (two
    /// namesakes name neither).
    fn resolve<'b, T>(
        &self,
        items: &'b [T],
        id: impl Fn(&T) -> Uuid,
        name: impl Fn(&T) -> &str,
    ) -> Option<&'b T> {
        match self {
            Reference::Id(wanted) => items.iter().find(|item| id(item) == *wanted),
            Reference::Name(wanted) => {
                let mut named = items.iter().filter(|item| name(item) == *wanted);
                let found = named.next()?;
                named.next().is_none().then_some(found)
            }
        }
    }
}

/// The API `application`/`api` names in the current configuration (each by id or by name,
/// see [`Reference`]).
fn find_api(
    configuration: &RuntimeConfiguration,
    application: &str,
    api: &str,
) -> Option<ConfiguredApi> {
    let app = Reference::parse(application).resolve(
        &configuration.applications,
        |a| a.id,
        |a| a.name.as_str(),
    )?;
    Reference::parse(api)
        .resolve(&app.apis, |a| a.id, |a| a.name.as_str())
        .cloned()
}

/// `targetURL` joined with the rest of the path and the workload's query.
fn target(api: &ConfiguredApi, path: &str, query: Option<&str>) -> String {
    let mut url = api.target_url.trim_end_matches('/').to_owned();
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    url
}

async fn forward_root(
    State(gateway): State<Gateway>,
    Path((application, api)): Path<(String, String)>,
    request: Request,
) -> Response {
    call(gateway, application, api, String::new(), request).await
}

async fn forward(
    State(gateway): State<Gateway>,
    Path((application, api, path)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    call(gateway, application, api, path, request).await
}

async fn call(
    gateway: Gateway,
    application: String,
    api: String,
    path: String,
    request: Request,
) -> Response {
    // Read once per call: a change of configuration applies from the next call on.
    let current = gateway.configuration.borrow().clone();
    let Some(configuration) = current else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime has no configuration yet",
        );
    };
    let Some(api) = find_api(&configuration, &application, &api) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no such application or API in this runtime's configuration",
        );
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the gateway forwards",
            );
        }
    };
    let mut outbound =
        OutboundRequest::new(parts.method.clone(), target(&api, &path, parts.uri.query()));
    outbound.headers = filtered(&parts.headers, forwarded_request_header);
    if !body.is_empty() {
        outbound.body = Some(body.to_vec());
    }
    match gateway
        .fetcher
        .send(outbound, api.credentials.as_ref())
        .await
    {
        Ok(answer) => {
            let mut response = Response::new(Body::from(answer.body));
            *response.status_mut() =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            *response.headers_mut() = filtered(&answer.headers, returned_response_header);
            response
        }
        Err(e) => {
            tracing::warn!(api = %api.id, error = %e, "the application's API could not be called");
            let status = match e {
                FetchError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            refuse(
                status,
                &format!("the application's API could not be called: {e}"),
            )
        }
    }
}

fn filtered(headers: &HeaderMap, keep: fn(&HeaderName) -> bool) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
