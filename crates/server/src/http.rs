//! HTTP routing: authentication into a consumer, the Director endpoint, health and metrics.

use std::sync::Arc;
use std::time::Duration;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use sextant_auth::{AuthError, TokenVerifier};
use sextant_director::DirectorSchema;
use sextant_domain::Consumer;
use sextant_store::Store;

/// Largest request body accepted (GraphQL documents and variables).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    verifier: Arc<TokenVerifier>,
    schema: DirectorSchema,
    metrics: Option<PrometheusHandle>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        verifier: Arc<TokenVerifier>,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        AppState {
            schema: sextant_director::schema(store.clone()),
            store,
            verifier,
            metrics,
        }
    }
}

/// The main listener: users and (later) OAuth2 clients and one-time tokens.
pub fn main_router(state: AppState) -> Router {
    Router::new()
        .route("/director/graphql", get(director).post(director))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The mTLS listener: the TLS layer already refused clients without a certificate of the CA;
/// the certificate-secured Director and Connector arrive with the Connector issue.
pub fn mtls_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
}

fn error_body(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({"errors": [{"message": message}]})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// Resolves the request's consumer. Only the `Authorization` and `Tenant` headers are read;
/// nothing else a client sends can claim an identity.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Consumer, AuthError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| AuthError::Unauthenticated("missing Authorization header".into()))?
        .to_str()
        .map_err(|_| AuthError::Unauthenticated("malformed Authorization header".into()))?;
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .ok_or_else(|| AuthError::Unauthenticated("expected a Bearer token".into()))?;
    let tenant = match headers.get("tenant") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AuthError::Forbidden("malformed Tenant header".into()))?,
        ),
    };
    state.verifier.user(token.trim(), tenant)
}

async fn director(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let consumer = match authenticate(&state, &headers) {
        Ok(consumer) => consumer,
        Err(AuthError::Forbidden(m)) => return error_body(StatusCode::FORBIDDEN, &m),
        Err(AuthError::Unauthenticated(m)) => return error_body(StatusCode::UNAUTHORIZED, &m),
        Err(e @ AuthError::Key(_)) => {
            tracing::error!(error = %e, "token verification is broken");
            return error_body(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let request = sextant_director::prepare(request.into_inner(), consumer);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %sextant_director::ErrorChain(&e), "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database not reachable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timed out").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response();
    };
    let pool = state.store.pool_state();
    metrics::gauge!("sextant_db_pool_connections", "state" => "open").set(f64::from(pool.size));
    metrics::gauge!("sextant_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("sextant_db_pool_connections", "state" => "max").set(f64::from(pool.max));
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
