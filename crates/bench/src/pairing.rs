//! Pairing with the management plane as its clients do, through `sextant-client`: the
//! token-secured Connector's `configuration`, a P-256 key and a CSR for exactly the subject it
//! names, `signCertificateSigningRequest`, and the issued certificate checked against the key.

use anyhow::{Result, anyhow};
use sextant_client::Credentials;
use sextant_client::connector::{self, CertificateRequest};

/// How the benchmarks introduce themselves over HTTP.
pub const USER_AGENT: &str = concat!("sextant-bench/", env!("CARGO_PKG_VERSION"));

/// The token-secured Connector of the server at `base`.
pub fn connector_url(base: &str) -> String {
    format!("{base}/connector/graphql")
}

/// One whole pairing with the one-time `token` at the server at `base` (`http` trusts its
/// CA); answers the key, the certificate and the CA bundle.
pub async fn pair(http: &reqwest::Client, base: &str, token: &str) -> Result<Credentials> {
    let url = connector_url(base);
    let configured = connector::configuration(http, &url, Some(token))
        .await
        .map_err(|e| anyhow!("connector: {e}"))?;
    let csr_token = configured.csr_token().map_err(|e| anyhow!(e))?;
    let request = CertificateRequest::new(
        configured.subject().map_err(|e| anyhow!(e))?,
        configured.endpoints().map_err(|e| anyhow!(e))?,
    )?;
    let signed = connector::sign(http, &url, Some(&csr_token), request.csr())
        .await
        .map_err(|e| anyhow!("connector: {e}"))?;
    let (credentials, _connection) = request.issued(signed)?;
    Ok(credentials)
}

/// Whether the token-secured Connector still accepts `token` (a used one must not be).
pub async fn token_accepted(http: &reqwest::Client, base: &str, token: &str) -> bool {
    connector::configuration(http, &connector_url(base), Some(token))
        .await
        .is_ok()
}

/// A client presenting `credentials` and trusting the CA bundle that came with them.
pub fn mtls_client(credentials: &Credentials) -> Result<reqwest::Client> {
    sextant_client::http::mtls_client(USER_AGENT, credentials).map_err(|e| anyhow!(e))
}
