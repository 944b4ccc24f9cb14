//! Pairing and renewal through the Connector (`sextant_client::connector`), with the agent's
//! retries and errors.
//!
//! Pairing: `configuration` with `Connector-Token: <TOKEN>` answers the subject, a CSR token
//! and where the certificate-secured APIs are; the agent makes a P-256 key and a CSR for
//! exactly that subject, and `signCertificateSigningRequest` with the CSR token answers the
//! certificate and the CA bundle. Renewal is the same over mTLS without tokens: the current
//! certificate authenticates, the new key is used from then on.

use std::time::Duration;

use sextant_client::certs;
use sextant_client::connector::{self, CertificateRequest, Endpoints};

use crate::backoff::Backoff;
use crate::error::AgentError;
use crate::failure::Failure;
use crate::session::{Link, Shared, USER_AGENT};
use crate::status::Phase;

/// Repeats `call` while it fails transiently, waiting with backoff; logs each failure.
async fn retrying<T, E, F, Fut>(shared: &Shared, what: &str, mut call: F) -> Result<T, Failure>
where
    E: Into<Failure>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::default();
    loop {
        match call().await.map_err(Into::into) {
            Err(Failure::Transient(message)) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %message, retry_in = ?delay, "{what} failed; retrying");
                shared.failure(&message);
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Pairs with a one-time token: the token is recorded as used as soon as the Connector took
/// it. Transient failures are retried with backoff.
pub(crate) async fn pair(shared: &Shared, token: &str) -> Result<Link, AgentError> {
    shared.set_phase(Phase::Pairing);
    let bootstrap = &shared.config.bootstrap;
    let mut roots = Vec::new();
    if let Some(path) = &bootstrap.ca_cert_file {
        roots.push(
            std::fs::read_to_string(path).map_err(|source| AgentError::CaFile {
                path: path.clone(),
                source,
            })?,
        );
    }
    // A CA bundle from an earlier pairing is trusted too (the server may have rotated).
    if let Ok(Some(old)) = shared.dir.read_credentials() {
        roots.push(old.ca_pem);
    }
    let client =
        sextant_client::http::token_client(USER_AGENT, &roots).map_err(AgentError::Client)?;
    let connector_url = bootstrap.connector_url.as_str();
    let token_hash = certs::sha256_hex(token.as_bytes());
    tracing::info!(connector = connector_url, "pairing with the one-time token");

    let configured = retrying(shared, "pairing (configuration)", || {
        connector::configuration(&client, connector_url, Some(token))
    })
    .await;
    if matches!(configured, Ok(_) | Err(Failure::TokenRefused(_))) {
        // Spent (or dead): never tried again.
        shared
            .update_state(|state| state.used_tokens.record(token_hash.clone()))
            .await?;
    }
    let configured = match configured {
        Ok(configured) => configured,
        Err(Failure::TokenRefused(message)) => return Err(AgentError::TokenRefused(message)),
        Err(e) => return Err(AgentError::Protocol(e.to_string())),
    };
    let subject = configured.subject().map_err(AgentError::Protocol)?;
    let csr_token = configured.csr_token().map_err(AgentError::Protocol)?;
    let endpoints = configured.endpoints().map_err(AgentError::Protocol)?;

    let request = CertificateRequest::new(subject, endpoints)?;
    let signed = retrying(shared, "pairing (signing the CSR)", || {
        connector::sign(&client, connector_url, Some(&csr_token), request.csr())
    })
    .await;
    let signed = match signed {
        Ok(signed) => signed,
        Err(Failure::TokenRefused(message)) => {
            return Err(AgentError::TokenRefused(format!(
                "the CSR token was refused: {message}"
            )));
        }
        Err(e) => return Err(AgentError::Protocol(e.to_string())),
    };
    let (credentials, connection) = request.issued(signed)?;
    let link = Link::new(&credentials, &connection).map_err(AgentError::Protocol)?;
    shared.install(&credentials, connection).await?;
    tracing::info!(
        serial = %link.certificate.serial,
        not_after = %link.certificate.not_after,
        director = %link.director_url,
        "paired: the client certificate is issued"
    );
    Ok(link)
}

/// Renews the certificate once over mTLS (a new key, the same subject); the new key,
/// certificate and CA bundle are installed before this returns.
pub(crate) async fn renew(shared: &Shared, link: &Link) -> Result<Link, Failure> {
    let configured = connector::configuration(&link.client, &link.connector_url, None).await?;
    let subject = configured.subject().map_err(Failure::Transient)?;
    let endpoints = configured.endpoints().unwrap_or_else(|reason| {
        tracing::warn!(%reason, "keeping the known URLs");
        Endpoints {
            director_url: link.director_url.clone(),
            certificate_secured_connector_url: link.connector_url.clone(),
        }
    });
    let request = CertificateRequest::new(subject, endpoints)
        .map_err(|e| Failure::Rejected(e.to_string()))?;
    let signed = connector::sign(&link.client, &link.connector_url, None, request.csr()).await?;
    let (credentials, connection) = request
        .issued(signed)
        .map_err(|e| Failure::Transient(e.to_string()))?;
    let new_link = Link::new(&credentials, &connection).map_err(Failure::Transient)?;
    shared
        .install(&credentials, connection)
        .await
        .map_err(|e| Failure::Transient(format!("cannot store the new certificate: {e}")))?;
    Ok(new_link)
}

/// How long to sleep before checking the renewal time again (it is re-read, so a clock that
/// jumps or a suspended machine is noticed).
pub(crate) const RENEWAL_RECHECK: Duration = Duration::from_secs(600);
