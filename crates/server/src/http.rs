//! HTTP routing of both listeners: authentication into a consumer (bearer token or client
//! certificate), the GraphQL endpoints, CRLs, health and metrics.

use std::time::Duration;

use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sextant_auth::{AuthError, Bearer};
use sextant_domain::{Consumer, SystemAuthOwner};

use crate::answer_cache::{AnswerKey, Generations};
use crate::context::AppState;
use crate::peer::client_leaf;
use crate::response::ApiError;

/// Largest request body accepted by the Director and the Provisioner (GraphQL documents and
/// variables; inline specs make it large).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Largest request body (or GET query string) accepted by the Connector: its documents are a
/// few hundred bytes, a CSR (at most 16 KiB of PEM, base64) a few KiB more.
pub const MAX_CONNECTOR_BODY_BYTES: usize = 32 * 1024;

/// The main listener: users, OAuth2 clients and their token endpoint, the token-secured
/// Connector, and the web console under `/console` (its own routes and state).
pub fn main_router(state: AppState, console: sextant_console::ConsoleState) -> Router {
    Router::new()
        .route("/director/graphql", get(director).post(director))
        .route("/provisioner/graphql", get(provisioner).post(provisioner))
        .route("/connector/graphql", get(connector).post(connector))
        .route("/connector/crl", get(crl))
        .route("/connector/crl/previous", get(previous_crl))
        .route(
            "/connector/runtime-serving-ca",
            get(crate::runtime_gateway::serving_ca),
        )
        .route(
            "/oauth2/token",
            axum::routing::post(crate::oauth::token).layer(axum::extract::DefaultBodyLimit::max(
                crate::oauth::MAX_FORM_BYTES,
            )),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(sextant_console::router(console))
}

/// The mTLS listener: the TLS layer already refused clients without a certificate of the CA;
/// here the certificate names the consumer of the certificate-secured Director and Connector.
pub fn mtls_router(state: AppState) -> Router {
    Router::new()
        .route("/director/graphql", get(mtls_director).post(mtls_director))
        .route(
            "/connector/graphql",
            get(mtls_connector).post(mtls_connector),
        )
        .route(
            sextant_domain::runtime_config::CONFIGURATION_PATH,
            get(crate::runtime_config::configuration),
        )
        .route(
            &format!("{}/{{sha256}}", sextant_domain::runtime_config::SPECS_PATH),
            get(crate::runtime_config::spec),
        )
        .route("/connector/crl", get(crl))
        .route("/connector/crl/previous", get(previous_crl))
        .route(
            "/connector/runtime-serving-ca",
            get(crate::runtime_gateway::serving_ca),
        )
        .route(
            "/connector/runtime/serving-certificate",
            axum::routing::post(crate::runtime_gateway::serving_certificate),
        )
        .route(
            "/runtime/application-clients/{client_id}",
            get(crate::runtime_gateway::application_client),
        )
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// Resolves the request's consumer. Only the `Authorization` and `Tenant` headers are read;
/// nothing else a client sends can claim an identity. An OAuth2 client's token is valid only
/// while its client (system auth) exists: one indexed lookup per request, so deleting the
/// client, or its owner, shuts its tokens out at once on every replica. An integration
/// system's client costs a second lookup: the grant of the tenant it names.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Consumer, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization header".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::Unauthenticated("expected a Bearer token".into()))?;
    let tenant = match headers.get("tenant") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::Forbidden("malformed Tenant header".into()))?,
        ),
    };
    match state.verifier.bearer(token.trim(), tenant)? {
        Bearer::User(consumer) => Ok(consumer),
        Bearer::Client(client) => {
            let unavailable = |e: sextant_store::StoreError| {
                ApiError::unavailable(
                    "the token could not be checked; try again",
                    "client token check failed",
                    e,
                )
            };
            let mut tx = state.store.read().await.map_err(unavailable)?;
            let stored = tx
                .system_auth(client.client_id)
                .await
                .map_err(unavailable)?;
            let consumer = client.consumer(stored.as_ref(), tenant)?;
            // An integration system acts only in tenants that granted it access: the Tenant
            // header it names is checked against the grants on every request, so a revoked
            // grant shuts its tokens out at once.
            if let Some(SystemAuthOwner::IntegrationSystem(system)) = stored.map(|s| s.owner)
                && !tx
                    .integration_system_granted(consumer.tenant, system)
                    .await
                    .map_err(unavailable)?
            {
                return Err(ApiError::Forbidden(format!(
                    "tenant {} has not granted this integration system access",
                    consumer.tenant
                )));
            }
            Ok(consumer)
        }
    }
}

/// Reads the GraphQL request only after the caller is authenticated, and at most `limit`
/// bytes of it: an unauthenticated or oversized body is never buffered. Accepts a JSON body
/// (POST) or a query string (GET); no batches, no multipart uploads.
async fn graphql_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<async_graphql::Request, ApiError> {
    let too_large = || ApiError::TooLarge(format!("request body is larger than {limit} bytes"));
    if *method == Method::GET {
        let query = uri.query().unwrap_or_default();
        if query.len() > limit {
            return Err(too_large());
        }
        return async_graphql::http::parse_query_string(query)
            .map_err(|e| ApiError::BadRequest(format!("bad GraphQL request: {e}")));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType(
            "a GraphQL request is a JSON body (Content-Type: application/json)".into(),
        ));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("bad GraphQL request: {e}")))
}

async fn director(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let consumer = match authenticated(&state, &headers).await {
        Ok(consumer) => consumer,
        Err(e) => return e.into_response(),
    };
    let request = match graphql_request(&method, &uri, &headers, body, MAX_BODY_BYTES).await {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    execute_director(&state, consumer, request).await
}

/// Runs a Director request, or answers it from the answers kept (`answer_cache.rs`) while
/// the configuration epoch covers it: an unchanged answer costs no statement.
async fn execute_director(
    state: &AppState,
    consumer: Consumer,
    request: async_graphql::Request,
) -> Response {
    let epochs = state.store.config_epochs();
    let key = AnswerKey::of(&consumer, &request);
    if let Some(body) = state.answers.get(&key, epochs) {
        metrics::counter!("sextant_graphql_kept_answers_total").increment(1);
        return graphql_body(body);
    }
    let covered =
        sextant_director::epoch_covered(&request.query, request.operation_name.as_deref());
    // Read before executing: a change committed meanwhile moves them, and the answer is kept
    // under what it may already be older than, never the other way round.
    let generations = Generations::now(epochs, consumer.tenant);
    let request = sextant_director::prepare(request, consumer, &state.store);
    let response = state.schema.execute(request).await;
    if !covered || response.is_err() {
        return GraphQLResponse::from(response).into_response();
    }
    match serde_json::to_vec(&response) {
        Ok(body) => {
            let body = axum::body::Bytes::from(body);
            state.answers.put(key, generations, body.clone());
            graphql_body(body)
        }
        Err(_) => GraphQLResponse::from(response).into_response(),
    }
}

/// A GraphQL answer already serialised, with the headers `GraphQLResponse` gives one.
fn graphql_body(body: axum::body::Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/graphql-response+json"),
        )],
        body,
    )
        .into_response()
}

/// [`authenticate`], with its failures as the responses they get.
async fn authenticated(state: &AppState, headers: &HeaderMap) -> Result<Consumer, Response> {
    authenticate(state, headers)
        .await
        .map_err(IntoResponse::into_response)
}

/// The Provisioner: authenticated like the Director (bearer token, `Tenant` header); only
/// users may use it (checked by its schema).
async fn provisioner(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let consumer = match authenticated(&state, &headers).await {
        Ok(consumer) => consumer,
        Err(e) => return e.into_response(),
    };
    let request = match graphql_request(&method, &uri, &headers, body, MAX_BODY_BYTES).await {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let request = sextant_provisioner::prepare(request, consumer);
    GraphQLResponse::from(state.provisioner.execute(request).await).into_response()
}

/// The token-secured Connector: the caller is the `Connector-Token` header; nothing else
/// identifies it. A token that is not live (unknown, expired, used) is refused before the body
/// is read, so nobody without a token gets anything parsed, introspection included; the
/// operation itself still redeems the token in its transaction, so a token is used up exactly
/// once.
async fn connector(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = match headers.get("connector-token").map(|v| v.to_str()) {
        Some(Ok(token)) if !token.trim().is_empty() => token.trim().to_owned(),
        Some(_) => {
            return ApiError::Unauthenticated("malformed Connector-Token header".into())
                .into_response();
        }
        None => {
            return ApiError::Unauthenticated("missing Connector-Token header".into())
                .into_response();
        }
    };
    let caller = match sextant_connector::token_caller(state.store.as_ref(), &token).await {
        Ok(Some(caller)) => caller,
        // The answer the operation itself gives a refused token, so clients see one answer.
        Ok(None) => {
            return GraphQLResponse::from(sextant_connector::refused_token()).into_response();
        }
        Err(e) => {
            return ApiError::unavailable(
                "the token could not be checked; try again",
                "connector token check failed",
                e,
            )
            .into_response();
        }
    };
    let request =
        match graphql_request(&method, &uri, &headers, body, MAX_CONNECTOR_BODY_BYTES).await {
            Ok(request) => request,
            Err(e) => return e.into_response(),
        };
    let request = sextant_connector::prepare(request, caller);
    GraphQLResponse::from(state.connector.execute(request).await).into_response()
}

/// The consumer a client certificate stands for: its application or runtime with the scopes
/// of its kind, pinned to its tenant (another `Tenant` header is 403).
async fn certificate_consumer(
    state: &AppState,
    peer: Option<&sextant_tls::PeerCertificates>,
    headers: &HeaderMap,
) -> Result<Consumer, AuthError> {
    let client = state
        .config_cache
        .certificate_client(state.store.as_ref(), client_leaf(peer))
        .await?;
    client.consumer(headers.get("tenant").map(|h| h.as_bytes()))
}

/// The certificate-secured Connector: `configuration`, renewal with
/// `signCertificateSigningRequest`, and `revokeCertificate` of the calling certificate.
async fn mtls_connector(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let leaf = client_leaf(peer.as_ref().map(|p| &p.0));
    let client = match sextant_connector::certificate_client(state.store.as_ref(), leaf).await {
        Ok(client) => client,
        Err(e) => return ApiError::certificate_refused(e).into_response(),
    };
    let request =
        match graphql_request(&method, &uri, &headers, body, MAX_CONNECTOR_BODY_BYTES).await {
            Ok(request) => request,
            Err(e) => return e.into_response(),
        };
    let request = sextant_connector::prepare(request, client.caller());
    GraphQLResponse::from(state.connector.execute(request).await).into_response()
}

/// The certificate-secured Director: applications and runtimes, as their certificates say.
async fn mtls_director(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let consumer = match certificate_consumer(&state, peer.as_ref().map(|p| &p.0), &headers).await {
        Ok(consumer) => consumer,
        Err(e) => return ApiError::certificate_refused(e).into_response(),
    };
    let request = match graphql_request(&method, &uri, &headers, body, MAX_BODY_BYTES).await {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    execute_director(&state, consumer, request).await
}

/// The CA's CRL (DER, `application/pkix-crl`): every revoked certificate not yet expired.
/// Public, as CRLs are: it names serials only.
async fn crl(State(state): State<AppState>) -> Response {
    let ca = state.ca.clone();
    signed_crl(&state, &ca).await
}

/// During a CA rotation, the previous CA's CRL (the same revoked serials, signed by it);
/// 404 when there is no previous CA.
async fn previous_crl(State(state): State<AppState>) -> Response {
    match state.previous_ca.clone() {
        Some(ca) => signed_crl(&state, &ca).await,
        None => ApiError::NotFound("there is no previous CA".into()).into_response(),
    }
}

async fn signed_crl(state: &AppState, ca: &sextant_pki::CertificateAuthority) -> Response {
    match sextant_connector::current_crl(state.store.as_ref(), ca).await {
        Ok(der) => (
            [(header::CONTENT_TYPE, "application/pkix-crl")],
            axum::body::Bytes::from(der),
        )
            .into_response(),
        Err(e @ sextant_connector::CrlError::Store(_)) => {
            ApiError::unavailable("the CRL cannot be made now", "CRL: store failed", e)
                .into_response()
        }
        Err(e @ sextant_connector::CrlError::Signing(_)) => {
            ApiError::internal("CRL: signing failed", e).into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %sextant_domain::ErrorChain(&e), "database not reachable");
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
