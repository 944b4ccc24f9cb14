//! What runtimes' event gateways need from the management plane (mTLS, a runtime's own
//! certificate; an application's certificate is 403, a revoked or unknown one 401, as for the
//! configuration document):
//!
//! - `POST /connector/runtime/serving-certificate` signs a runtime's CSR for its event
//!   gateway's TLS server certificate with the **runtime serving CA**, a CA of its own: the CA
//!   of client certificates also issues the management plane's listener certificate, so a
//!   `localhost` certificate from it in a runtime's hands could impersonate the management
//!   plane to applications. Body `{"csr": "<PEM>", "names": ["<dns name or IP>", …]}`; answer
//!   `{"certificate", "caCertificate", "notAfter"}`. CN is the runtime's id, and so is a URI
//!   name (`urn:sextant:runtime:<id>`) that applications check; only names the operator bound
//!   to the runtime are issued (`<runtime id>.<domain>` for each configured domain, loopback
//!   names if allowed), anything else is 403, so a runtime cannot obtain a certificate for
//!   another runtime's or another tenant's host. Nothing is recorded (the certificate
//!   authenticates nobody to the management plane).
//! - `GET /connector/runtime-serving-ca` (both listeners): that CA's certificate (PEM), for
//!   applications to trust event gateways.
//! - `GET /runtime/application-clients/{clientID}`: which application a client certificate's
//!   CN (a client id, not the application's id) stands for, if that application is in the
//!   runtime's configuration. An application's client never changes owner, so the gateway
//!   can remember a positive answer; it checks membership in its applied configuration on
//!   every event anyway.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sextant_domain::SystemAuthOwner;

use crate::context::AppState;
use crate::response::ApiError;
use crate::runtime_config::{Refusal, document, runtime_of};

/// The largest serving-certificate request read.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

fn refused(refusal: Refusal) -> Response {
    refusal
        .error("only a runtime's certificate is served here")
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServingRequest {
    csr: String,
    names: Vec<String>,
}

/// `POST /connector/runtime/serving-certificate`.
pub async fn serving_certificate(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    body: Body,
) -> Response {
    // Who asks first: the body of anyone else is never read.
    let (runtime, _tenant) = match runtime_of(&state, peer.as_ref().map(|p| &p.0)).await {
        Ok(found) => found,
        Err(refusal) => return refused(refusal),
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return ApiError::TooLarge(format!(
            "the request is larger than {MAX_REQUEST_BYTES} bytes"
        ))
        .into_response();
    };
    let request: ServingRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            return ApiError::BadRequest(format!(
                "expected {{\"csr\": \"<PEM>\", \"names\": [...]}}: {e}"
            ))
            .into_response();
        }
    };
    let serving = &state.runtime_serving;
    match serving.ca.sign_serving_csr(
        &request.csr,
        runtime.into_untyped(),
        &request.names,
        &serving.names,
        serving.validity,
    ) {
        Ok(issued) => {
            let not_after = issued
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            tracing::info!(%runtime, names = ?request.names, "issued an event gateway certificate");
            Json(json!({
                "certificate": issued.cert_pem,
                "caCertificate": serving.ca.cert_pem(),
                "notAfter": not_after,
            }))
            .into_response()
        }
        Err(e @ sextant_pki::ServingError::Csr(sextant_pki::CsrError::Signing)) => {
            ApiError::internal("signing an event gateway certificate failed", e).into_response()
        }
        Err(e @ sextant_pki::ServingError::Names(sextant_pki::ServingNameError::NotBound(_))) => {
            tracing::warn!(%runtime, names = ?request.names, "refused an event gateway certificate for names not bound to the runtime");
            ApiError::Forbidden(e.to_string()).into_response()
        }
        Err(e) => ApiError::BadRequest(e.to_string()).into_response(),
    }
}

/// `GET /connector/runtime-serving-ca`.
pub async fn serving_ca(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.runtime_serving.ca.cert_pem().to_owned(),
    )
        .into_response()
}

/// `GET /runtime/application-clients/{clientID}`.
pub async fn application_client(
    State(state): State<AppState>,
    peer: Option<axum::Extension<sextant_tls::PeerCertificates>>,
    Path(client_id): Path<String>,
) -> Response {
    let (runtime, tenant) = match runtime_of(&state, peer.as_ref().map(|p| &p.0)).await {
        Ok(found) => found,
        Err(refusal) => return refused(refusal),
    };
    let not_found = || {
        ApiError::NotFound("no application of this runtime's configuration has this client".into())
            .into_response()
    };
    let Ok(client_id) = client_id.parse::<sextant_domain::SystemAuthId>() else {
        return not_found();
    };
    let auth = match state.store.read().await {
        Ok(mut tx) => tx.system_auth(client_id).await,
        Err(e) => Err(e),
    };
    let auth = match auth {
        Ok(auth) => auth,
        Err(e) => {
            return ApiError::unavailable(
                "the client cannot be looked up now; try again",
                "cannot look up a client",
                e,
            )
            .into_response();
        }
    };
    let application = match auth {
        Some(auth) if auth.tenant == Some(tenant) => match auth.owner {
            SystemAuthOwner::Application(application) => application,
            _ => return not_found(),
        },
        _ => return not_found(),
    };
    let doc = match document(&state, runtime, tenant).await {
        Ok(doc) => doc,
        Err(e) => return e.into_response(),
    };
    let found = doc.built.as_ref().and_then(|built| {
        built
            .applications()
            .iter()
            .find(|app| app.id == application)
    });
    match found {
        Some(app) => Json(json!({
            "clientID": client_id,
            "applicationID": app.id,
            "applicationName": app.name,
        }))
        .into_response(),
        None => not_found(),
    }
}
