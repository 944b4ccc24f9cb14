//! HTTPS to the management plane: the clients (trusting given CAs, or presenting the client
//! certificate), GraphQL calls, bounded bodies, and what a failed call was: a refused
//! certificate, a refused token, an unsuccessful status, a GraphQL error, no answer at all, or
//! an answer that cannot be used. What to make of each is the caller's to decide.

use std::error::Error as StdError;
use std::time::Duration;

use serde_json::{Value, json};

use crate::state::Credentials;

/// Time to establish a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read from the management plane (a GraphQL answer, a CA bundle).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// How a call to the management plane failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No answer: the connection, the TLS handshake or reading the body failed, or the call
    /// timed out (the error with its sources).
    #[error("{0}")]
    Unreachable(String),
    /// A certificate-secured call failed at the TLS handshake with an alert about the client
    /// certificate (revoked, expired, of an unknown CA, …).
    #[error("the server refused the client certificate at the TLS handshake ({alert:?})")]
    HandshakeRefused {
        /// The alert.
        alert: rustls::AlertDescription,
        /// The error with its sources, as the HTTP client reported it.
        detail: String,
    },
    /// HTTP 401 from a certificate-secured endpoint.
    #[error("{0}")]
    CertificateRefused(String),
    /// The Connector refused the one-time (or CSR) token: HTTP 401 or `INVALID_TOKEN`.
    #[error("{0}")]
    TokenRefused(String),
    /// Another unsuccessful HTTP status (`HTTP <status>: <message>`).
    #[error("{0}")]
    Status(String),
    /// The first GraphQL error of the answer (other than a refused token).
    #[error("{message}{}", .code.as_ref().map(|code| format!(" ({code})")).unwrap_or_default())]
    GraphQL {
        /// Its message.
        message: String,
        /// Its `extensions.code`.
        code: Option<String>,
    },
    /// An answer that cannot be used: too large, not JSON, without data, or not what the
    /// call expects.
    #[error("{0}")]
    Malformed(String),
}

/// Which side of the management plane a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// The token-secured Connector.
    Token,
    /// A certificate-secured endpoint (the client certificate authenticates).
    Certificate,
}

/// A client builder with the settings every client shares: HTTPS only, the connect timeout,
/// `user_agent` (the program: `sextant-agent/<version>`), and aws-lc-rs as the provider.
pub fn builder(user_agent: &str) -> reqwest::ClientBuilder {
    sextant_tls::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .https_only(true)
        .user_agent(user_agent)
}

/// A client for the token-secured Connector: trusts `roots_pem` (PEM bundles), or the
/// platform's roots when there is none.
pub fn token_client(user_agent: &str, roots_pem: &[String]) -> Result<reqwest::Client, String> {
    let mut roots = Vec::new();
    for pem in roots_pem {
        roots.extend(
            reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("unreadable CA certificate: {}", chain(&e)))?,
        );
    }
    let client = if roots.is_empty() {
        builder(user_agent)
    } else {
        builder(user_agent).tls_certs_only(roots)
    };
    client.build().map_err(|e| chain(&e))
}

/// A client presenting the client certificate and trusting exactly the CA bundle the
/// Connector named (during a CA rotation, several CAs: all are trusted).
pub fn mtls_client(user_agent: &str, credentials: &Credentials) -> Result<reqwest::Client, String> {
    let roots = reqwest::Certificate::from_pem_bundle(credentials.ca_pem.as_bytes())
        .map_err(|e| format!("unreadable CA bundle: {}", chain(&e)))?;
    let identity = reqwest::Identity::from_pem(
        format!("{}\n{}", credentials.cert_pem, credentials.key_pem).as_bytes(),
    )
    .map_err(|e| format!("unreadable key or certificate: {}", chain(&e)))?;
    builder(user_agent)
        .tls_certs_only(roots)
        .identity(identity)
        .build()
        .map_err(|e| chain(&e))
}

/// An error and its sources, `: `-separated.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    sextant_domain::ErrorChain(error).to_string()
}

/// Alerts by which a server refuses a client certificate.
const CERTIFICATE_ALERTS: [rustls::AlertDescription; 8] = [
    rustls::AlertDescription::BadCertificate,
    rustls::AlertDescription::UnsupportedCertificate,
    rustls::AlertDescription::CertificateRevoked,
    rustls::AlertDescription::CertificateExpired,
    rustls::AlertDescription::CertificateUnknown,
    rustls::AlertDescription::UnknownCA,
    rustls::AlertDescription::AccessDenied,
    rustls::AlertDescription::CertificateRequired,
];

/// The certificate alert the server sent, if the failure is one.
fn received_alert(error: &(dyn StdError + 'static)) -> Option<rustls::AlertDescription> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(rustls::Error::AlertReceived(alert)) = e.downcast_ref::<rustls::Error>() {
            return CERTIFICATE_ALERTS.contains(alert).then_some(*alert);
        }
        // `io::Error::source` skips the error it wraps: look inside. By the time the alert
        // reaches the HTTP client it may be only text (rustls's message).
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(rustls::Error::AlertReceived(alert)) = inner.downcast_ref::<rustls::Error>()
            {
                return CERTIFICATE_ALERTS.contains(alert).then_some(*alert);
            }
            let text = inner.to_string();
            if let Some(name) = text.strip_prefix("received fatal alert: ") {
                return CERTIFICATE_ALERTS
                    .into_iter()
                    .find(|alert| format!("{alert:?}") == name.trim());
            }
        }
        current = e.source();
    }
    None
}

/// Classifies a failure to get an answer at all.
pub fn transport_error(error: &reqwest::Error, security: Security) -> CallError {
    if security == Security::Certificate
        && let Some(alert) = received_alert(error)
    {
        return CallError::HandshakeRefused {
            alert,
            detail: chain(error),
        };
    }
    CallError::Unreachable(chain(error))
}

/// Reads a body of at most `limit` bytes.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    security: Security,
) -> Result<Vec<u8>, CallError> {
    if let Some(length) = response.content_length()
        && length > limit as u64
    {
        return Err(CallError::Malformed(format!(
            "the answer is too large ({length} bytes, at most {limit})"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(&e, security))?
    {
        if body.len() + chunk.len() > limit {
            return Err(CallError::Malformed(format!(
                "the answer is too large (more than {limit} bytes)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `errors[].message` (or `error`) of a JSON error body, or the body's start.
pub fn error_message(body: &[u8]) -> String {
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

/// Classifies an HTTP status other than success.
pub fn status_error(status: reqwest::StatusCode, body: &[u8], security: Security) -> CallError {
    let message = format!("HTTP {}: {}", status.as_u16(), error_message(body));
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return match security {
            Security::Certificate => CallError::CertificateRefused(message),
            Security::Token => CallError::TokenRefused(message),
        };
    }
    CallError::Status(message)
}

/// POSTs a GraphQL request and answers its `data`.
pub async fn graphql(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
    security: Security,
) -> Result<Value, CallError> {
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
        .map_err(|e| transport_error(&e, security))?;
    let status = response.status();
    let body = read_limited(response, MAX_BODY, security).await?;
    if !status.is_success() {
        return Err(status_error(status, &body, security));
    }
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| CallError::Malformed(format!("the answer is not JSON: {e}")))?;
    if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
        let message = error["message"]
            .as_str()
            .unwrap_or("(no message)")
            .to_owned();
        return Err(match error["extensions"]["code"].as_str() {
            Some("INVALID_TOKEN") if security == Security::Token => {
                CallError::TokenRefused(message)
            }
            code => CallError::GraphQL {
                message,
                code: code.map(str::to_owned),
            },
        });
    }
    match body.get("data") {
        Some(data) if !data.is_null() => Ok(data.clone()),
        _ => Err(CallError::Malformed("the answer has no data".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_alert_inside_an_io_error_is_found() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked),
        );
        assert_eq!(
            received_alert(&io),
            Some(rustls::AlertDescription::CertificateRevoked)
        );
        // As the HTTP client reports it: rustls's message only.
        let text = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRevoked",
        );
        assert_eq!(
            received_alert(&text),
            Some(rustls::AlertDescription::CertificateRevoked)
        );
        let other = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: DecodeError",
        );
        assert_eq!(received_alert(&other), None, "not about the certificate");
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(received_alert(&other), None);
    }

    #[test]
    fn statuses_are_classified() {
        let body = br#"{"errors":[{"message":"the client certificate is revoked"}]}"#;
        assert_eq!(
            status_error(
                reqwest::StatusCode::UNAUTHORIZED,
                body,
                Security::Certificate
            ),
            CallError::CertificateRefused("HTTP 401: the client certificate is revoked".into())
        );
        assert!(matches!(
            status_error(reqwest::StatusCode::UNAUTHORIZED, body, Security::Token),
            CallError::TokenRefused(_)
        ));
        assert!(matches!(
            status_error(reqwest::StatusCode::SERVICE_UNAVAILABLE, b"busy", Security::Certificate),
            CallError::Status(m) if m == "HTTP 503: busy"
        ));
        let body = br#"{"error":"not an application of this runtime"}"#;
        assert_eq!(
            status_error(reqwest::StatusCode::FORBIDDEN, body, Security::Certificate),
            CallError::Status("HTTP 403: not an application of this runtime".into())
        );
    }

    #[test]
    fn graphql_errors_read_with_and_without_a_code() {
        let coded = CallError::GraphQL {
            message: "no such runtime".into(),
            code: Some("NOT_FOUND".into()),
        };
        assert_eq!(coded.to_string(), "no such runtime (NOT_FOUND)");
        let bare = CallError::GraphQL {
            message: "no such runtime".into(),
            code: None,
        };
        assert_eq!(bare.to_string(), "no such runtime");
    }
}
