//! HTTPS to the management plane and to runtimes: clients, GraphQL calls, bounded bodies.

use std::error::Error as StdError;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use serde_json::{Value, json};

use crate::AppError;
use crate::state::Credentials;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole call.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// Which side of the management plane a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// The token-secured Connector.
    Token,
    /// A certificate-secured endpoint.
    Certificate,
}

fn builder() -> reqwest::ClientBuilder {
    sextant_tls::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .https_only(true)
        .user_agent(concat!("sextant-app/", env!("CARGO_PKG_VERSION")))
}

/// A client trusting `roots_pem` (PEM bundles), or the platform's roots when empty.
pub(crate) fn token_client(roots_pem: &[String]) -> Result<reqwest::Client, AppError> {
    let mut roots = Vec::new();
    for pem in roots_pem {
        roots.extend(
            reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                AppError::Client(format!("unreadable CA certificate: {}", chain(&e)))
            })?,
        );
    }
    let builder = if roots.is_empty() {
        builder()
    } else {
        builder().tls_certs_only(roots)
    };
    builder.build().map_err(|e| AppError::Client(chain(&e)))
}

/// A client presenting the application's certificate and trusting `roots_pem`.
pub(crate) fn mtls_client(
    credentials: &Credentials,
    roots_pem: &str,
) -> Result<reqwest::Client, AppError> {
    let roots = reqwest::Certificate::from_pem_bundle(roots_pem.as_bytes())
        .map_err(|e| AppError::Client(format!("unreadable CA bundle: {}", chain(&e))))?;
    let identity = reqwest::Identity::from_pem(
        format!("{}\n{}", credentials.cert_pem, credentials.key_pem).as_bytes(),
    )
    .map_err(|e| AppError::Client(format!("unreadable key or certificate: {}", chain(&e))))?;
    builder()
        .tls_certs_only(roots)
        .identity(identity)
        .build()
        .map_err(|e| AppError::Client(chain(&e)))
}

/// A client presenting the application's certificate to one runtime's event gateway: the
/// gateway's certificate must chain to `roots_pem` (the runtime serving CA), match the host
/// name, and name `runtime` (its `urn:sextant:runtime:<id>` name). The host name alone cannot
/// tell runtimes apart: local runtimes share 127.0.0.1, and a name can be spoofed.
pub(crate) fn runtime_client(
    credentials: &Credentials,
    roots_pem: &str,
    runtime: uuid::Uuid,
) -> Result<reqwest::Client, AppError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
        let cert = cert.map_err(|e| AppError::Client(format!("unreadable CA bundle: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| AppError::Client(format!("unusable CA certificate: {e}")))?;
    }
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| AppError::Client(format!("no usable CA certificate: {e}")))?;
    let presented = CertificateDer::pem_slice_iter(credentials.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::Client(format!("unreadable certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(credentials.key_pem.as_bytes())
        .map_err(|e| AppError::Client(format!("unreadable key: {e}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Client(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(RuntimeVerifier { inner, runtime }))
        .with_client_auth_cert(presented, key)
        .map_err(|e| AppError::Client(format!("unusable key or certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    builder()
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| AppError::Client(chain(&e)))
}

/// The usual WebPKI checks (chain, validity, host name), then the runtime's id.
#[derive(Debug)]
struct RuntimeVerifier {
    inner: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
    runtime: uuid::Uuid,
}

impl ServerCertVerifier for RuntimeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        match sextant_pki::serving_certificate_runtime(end_entity.as_ref()) {
            Ok(id) if id == self.runtime => Ok(verified),
            Ok(other) => Err(rustls::Error::General(format!(
                "the event gateway's certificate belongs to runtime {other}, not to runtime {}",
                self.runtime
            ))),
            Err(e) => Err(rustls::Error::General(format!(
                "{e}: expected runtime {}",
                self.runtime
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// An error and its sources, `: `-separated.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    if let Some(length) = response.content_length()
        && length > limit as u64
    {
        return Err(AppError::Protocol(format!(
            "the answer is too large ({length} bytes, at most {limit})"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AppError::Transport(chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(AppError::Protocol(format!(
                "the answer is too large (more than {limit} bytes)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `errors[].message` (or `error`) of a JSON error body, or the body's start.
pub(crate) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v["errors"][0]["message"]
                .as_str()
                .or(v["error"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

/// POSTs a GraphQL request and answers its `data`.
pub(crate) async fn graphql(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
    security: Security,
) -> Result<Value, AppError> {
    let mut request = client
        .post(url)
        .timeout(CALL_TIMEOUT)
        .json(&json!({"query": query, "variables": variables}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AppError::Transport(chain(&e)))?;
    let status = response.status();
    let body = read_limited(response, MAX_BODY).await?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        let message = format!("HTTP 401: {}", error_message(&body));
        return Err(match security {
            Security::Token => AppError::TokenRefused(message),
            Security::Certificate => AppError::CertificateRefused(message),
        });
    }
    if !status.is_success() {
        return Err(AppError::Transport(format!(
            "HTTP {}: {}",
            status.as_u16(),
            error_message(&body)
        )));
    }
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::Protocol(format!("the answer is not JSON: {e}")))?;
    if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
        let message = error["message"]
            .as_str()
            .unwrap_or("(no message)")
            .to_owned();
        return Err(match error["extensions"]["code"].as_str() {
            Some("INVALID_TOKEN") if security == Security::Token => AppError::TokenRefused(message),
            Some(code) => AppError::Rejected(format!("{message} ({code})")),
            None => AppError::Rejected(message),
        });
    }
    match body.get("data") {
        Some(data) if !data.is_null() => Ok(data.clone()),
        _ => Err(AppError::Protocol("the answer has no data".into())),
    }
}
