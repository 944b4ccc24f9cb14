//! Pairing and renewal through the Connector (its GraphQL exactly as in
//! `crates/connector/schema.graphql`).
//!
//! Pairing: `configuration` with `Connector-Token: <TOKEN>` answers the subject, a CSR token
//! and where the certificate-secured APIs are; the agent makes a P-256 key and a CSR for
//! exactly that subject, and `signCertificateSigningRequest` with the CSR token answers the
//! certificate and the CA bundle. Renewal is the same over mTLS without tokens: the current
//! certificate authenticates, the new key is used from then on.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::agent::{Link, Shared};
use crate::backoff::Backoff;
use crate::certs;
use crate::http::{self, CallError, Security};
use crate::state::{Connection, Credentials};
use crate::{AgentError, Phase};

/// `configuration`, as in the Connector's schema.
pub(crate) const CONFIGURATION: &str = "query { configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }";
/// `signCertificateSigningRequest`, as in the Connector's schema.
pub(crate) const SIGN: &str = "mutation($csr: String!) { signCertificateSigningRequest(csr: $csr) { certificateChain caCertificate clientCertificate } }";

#[derive(Deserialize)]
struct ConfigurationData {
    configuration: Configuration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Configuration {
    token: Option<Token>,
    certificate_signing_request_info: Option<CsrInfo>,
    management_plane_info: Option<ManagementPlaneInfo>,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

#[derive(Deserialize)]
struct CsrInfo {
    subject: String,
}

#[derive(Deserialize)]
struct ManagementPlaneInfo {
    #[serde(rename = "directorURL")]
    director_url: Option<String>,
    #[serde(rename = "certificateSecuredConnectorURL")]
    certificate_secured_connector_url: Option<String>,
}

#[derive(Deserialize)]
struct SignData {
    #[serde(rename = "signCertificateSigningRequest")]
    result: CertificationResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificationResult {
    ca_certificate: String,
    client_certificate: String,
}

fn decode<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, CallError> {
    serde_json::from_value(data)
        .map_err(|e| CallError::Transient(format!("unexpected answer from the Connector: {e}")))
}

async fn configuration(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Configuration, CallError> {
    let (headers, security) = match token {
        Some(token) => (vec![("Connector-Token", token)], Security::Token),
        None => (Vec::new(), Security::Certificate),
    };
    let data = http::graphql(client, url, &headers, CONFIGURATION, json!({}), security).await?;
    Ok(decode::<ConfigurationData>(data)?.configuration)
}

/// Signs a CSR; answers the certificate and CA bundle (PEM).
async fn sign(
    client: &reqwest::Client,
    url: &str,
    csr_token: Option<&str>,
    csr: &str,
) -> Result<(String, String), CallError> {
    let (headers, security) = match csr_token {
        Some(token) => (vec![("Connector-Token", token)], Security::Token),
        None => (Vec::new(), Security::Certificate),
    };
    let data = http::graphql(client, url, &headers, SIGN, json!({"csr": csr}), security).await?;
    let result = decode::<SignData>(data)?.result;
    let bad = |e: certs::CertError| CallError::Transient(e.to_string());
    let cert_pem =
        certs::decode_pem_field("clientCertificate", &result.client_certificate).map_err(bad)?;
    let ca_pem = certs::decode_pem_field("caCertificate", &result.ca_certificate).map_err(bad)?;
    Ok((cert_pem, ca_pem))
}

/// The checked URLs of `managementPlaneInfo`, if both are there.
fn urls(info: Option<&ManagementPlaneInfo>) -> Result<(String, String), String> {
    let info = info.ok_or("the Connector named no managementPlaneInfo")?;
    let check = |name: &str, url: &Option<String>| -> Result<String, String> {
        let url = url
            .as_deref()
            .ok_or_else(|| format!("the Connector named no {name}"))?;
        let parsed =
            url::Url::parse(url).map_err(|e| format!("{name} {url:?} is not a URL: {e}"))?;
        if parsed.scheme() != "https" || parsed.host_str().is_none() {
            return Err(format!("{name} {url:?} is not an https URL"));
        }
        Ok(url.to_owned())
    };
    Ok((
        check("directorURL", &info.director_url)?,
        check(
            "certificateSecuredConnectorURL",
            &info.certificate_secured_connector_url,
        )?,
    ))
}

/// Checks a newly issued certificate and bundles it with its key.
fn issued(
    key_pem: String,
    cert_pem: String,
    ca_pem: String,
) -> Result<(Credentials, certs::CertificateInfo), certs::CertError> {
    let info = certs::certificate_info(&cert_pem, Some(&key_pem))?;
    certs::check_ca_bundle(&ca_pem)?;
    Ok((
        Credentials {
            key_pem,
            cert_pem,
            ca_pem,
        },
        info,
    ))
}

/// Repeats `call` while it fails transiently, waiting with backoff; logs each failure.
async fn retrying<T, F, Fut>(shared: &Shared, what: &str, mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut backoff = Backoff::default();
    loop {
        match call().await {
            Err(CallError::Transient(message)) => {
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
    let client = http::token_client(&roots).map_err(AgentError::Client)?;
    let connector_url = bootstrap.connector_url.as_str();
    let token_hash = certs::sha256_hex(token.as_bytes());
    tracing::info!(connector = connector_url, "pairing with the one-time token");

    let configured = retrying(shared, "pairing (configuration)", || {
        configuration(&client, connector_url, Some(token))
    })
    .await;
    if matches!(configured, Ok(_) | Err(CallError::TokenRefused(_))) {
        // Spent (or dead): never tried again.
        shared
            .update_state(|state| state.record_used_token(token_hash.clone()))
            .await?;
    }
    let configured = match configured {
        Ok(configured) => configured,
        Err(CallError::TokenRefused(message)) => return Err(AgentError::TokenRefused(message)),
        Err(e) => return Err(AgentError::Protocol(e.to_string())),
    };
    let subject = configured
        .certificate_signing_request_info
        .map(|info| info.subject)
        .ok_or_else(|| AgentError::Protocol("the Connector named no subject".into()))?;
    let csr_token = configured
        .token
        .map(|t| t.token)
        .ok_or_else(|| AgentError::Protocol("the Connector handed out no CSR token".into()))?;
    let (director_url, certificate_secured_connector_url) =
        urls(configured.management_plane_info.as_ref()).map_err(AgentError::Protocol)?;

    let (key, csr) = certs::key_and_csr(&subject)?;
    let signed = retrying(shared, "pairing (signing the CSR)", || {
        sign(&client, connector_url, Some(&csr_token), &csr)
    })
    .await;
    let (cert_pem, ca_pem) = match signed {
        Ok(signed) => signed,
        Err(CallError::TokenRefused(message)) => {
            return Err(AgentError::TokenRefused(format!(
                "the CSR token was refused: {message}"
            )));
        }
        Err(e) => return Err(AgentError::Protocol(e.to_string())),
    };
    let (credentials, certificate) = issued(key.serialize_pem(), cert_pem, ca_pem)?;
    let connection = Connection {
        director_url,
        certificate_secured_connector_url,
        subject,
        certificate,
    };
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
pub(crate) async fn renew(shared: &Shared, link: &Link) -> Result<Link, CallError> {
    let configured = configuration(&link.client, &link.connector_url, None).await?;
    let subject = configured
        .certificate_signing_request_info
        .map(|info| info.subject)
        .ok_or_else(|| CallError::Transient("the Connector named no subject".into()))?;
    let (director_url, certificate_secured_connector_url) =
        match urls(configured.management_plane_info.as_ref()) {
            Ok(urls) => urls,
            Err(reason) => {
                tracing::warn!(%reason, "keeping the known URLs");
                (link.director_url.clone(), link.connector_url.clone())
            }
        };
    let (key, csr) =
        certs::key_and_csr(&subject).map_err(|e| CallError::Rejected(e.to_string()))?;
    let (cert_pem, ca_pem) = sign(&link.client, &link.connector_url, None, &csr).await?;
    let (credentials, certificate) = issued(key.serialize_pem(), cert_pem, ca_pem)
        .map_err(|e| CallError::Transient(e.to_string()))?;
    let connection = Connection {
        director_url,
        certificate_secured_connector_url,
        subject,
        certificate,
    };
    let new_link = Link::new(&credentials, &connection).map_err(CallError::Transient)?;
    shared
        .install(&credentials, connection)
        .await
        .map_err(|e| CallError::Transient(format!("cannot store the new certificate: {e}")))?;
    Ok(new_link)
}

/// How long to sleep before checking the renewal time again (it is re-read, so a clock that
/// jumps or a suspended machine is noticed).
pub(crate) const RENEWAL_RECHECK: Duration = Duration::from_secs(600);
