//! What the agent makes of a failed call to the management plane: pair again (or stop), give
//! up on the token, give up on the request, or retry with backoff.

use sextant_client::CallError;

/// How a call to the management plane failed, as far as the agent acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The client certificate is refused: HTTP 401 from a certificate-secured endpoint, or a
    /// TLS alert from the server about the certificate.
    Refused(String),
    /// The Connector refused the one-time (or CSR) token.
    TokenRefused(String),
    /// The server understood and refused the request (a GraphQL error with a code other than
    /// `INTERNAL`): repeating it unchanged will not help.
    Rejected(String),
    /// Anything else (unreachable, timeouts, 5xx, a server without the expected field):
    /// worth retrying later.
    Transient(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(m)
            | Failure::TokenRefused(m)
            | Failure::Rejected(m)
            | Failure::Transient(m) => f.write_str(m),
        }
    }
}

impl From<CallError> for Failure {
    fn from(error: CallError) -> Failure {
        match error {
            CallError::HandshakeRefused { .. } => Failure::Refused(error.to_string()),
            CallError::CertificateRefused(m) => Failure::Refused(m),
            CallError::TokenRefused(m) => Failure::TokenRefused(m),
            CallError::GraphQL {
                message,
                code: None,
            } => Failure::Transient(format!("GraphQL error: {message}")),
            CallError::GraphQL {
                message,
                code: Some(code),
            } if code == "INTERNAL" => Failure::Transient(format!("GraphQL error: {message}")),
            CallError::GraphQL { .. } => Failure::Rejected(error.to_string()),
            CallError::Unreachable(m) | CallError::Status(m) | CallError::Malformed(m) => {
                Failure::Transient(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_stop_internal_errors_are_retried() {
        let refused = Failure::from(CallError::HandshakeRefused {
            alert: rustls::AlertDescription::CertificateRevoked,
            detail: "received fatal alert: CertificateRevoked".into(),
        });
        assert_eq!(
            refused,
            Failure::Refused(
                "the server refused the client certificate at the TLS handshake \
                 (CertificateRevoked)"
                    .into()
            )
        );
        let internal = CallError::GraphQL {
            message: "boom".into(),
            code: Some("INTERNAL".into()),
        };
        assert_eq!(
            Failure::from(internal),
            Failure::Transient("GraphQL error: boom".into())
        );
        let bad_input = CallError::GraphQL {
            message: "no such runtime".into(),
            code: Some("NOT_FOUND".into()),
        };
        assert_eq!(
            Failure::from(bad_input),
            Failure::Rejected("no such runtime (NOT_FOUND)".into())
        );
        assert_eq!(
            Failure::from(CallError::Status("HTTP 503: busy".into())),
            Failure::Transient("HTTP 503: busy".into())
        );
    }
}
