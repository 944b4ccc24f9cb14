//! [`ConnectorError`]: why a Connector operation failed, and the one place where it becomes
//! the GraphQL error clients see, with a stable `extensions.code`.

use async_graphql::ErrorExtensions;
use sextant_store::StoreError;

/// Why a Connector operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The one-time (or CSR) token is not one this step can redeem: `INVALID_TOKEN`, which
    /// clients read as "pair again".
    #[error("the token is invalid, expired, already used, or not meant for this step")]
    InvalidToken,
    /// The CSR cannot be signed (the message says why): `INVALID_CSR`.
    #[error("{0}")]
    InvalidCsr(String),
    /// The operation is for the certificate-secured Connector: `CERTIFICATE_REQUIRED`.
    #[error(
        "revokeCertificate needs the client certificate: call the certificate-secured Connector"
    )]
    CertificateRequired,
    /// A failure the caller cannot act on (the cause is logged, not answered): `INTERNAL`.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ConnectorError {
    /// The stable code of `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::InvalidToken => "INVALID_TOKEN",
            ConnectorError::InvalidCsr(_) => "INVALID_CSR",
            ConnectorError::CertificateRequired => "CERTIFICATE_REQUIRED",
            ConnectorError::Internal(_) => "INTERNAL",
        }
    }

    /// A failure the caller cannot act on.
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ConnectorError {
        ConnectorError::Internal(Box::new(e))
    }
}

impl From<StoreError> for ConnectorError {
    fn from(e: StoreError) -> Self {
        ConnectorError::internal(e)
    }
}

/// The GraphQL error clients see; an internal failure is logged here, once, with its causes.
pub(crate) fn to_graphql(e: ConnectorError) -> async_graphql::Error {
    if let ConnectorError::Internal(cause) = &e {
        tracing::error!(error = %sextant_domain::ErrorChain(cause.as_ref()), "connector: internal error");
    }
    let code = e.code();
    async_graphql::Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", code))
}

/// The answer to a request whose token is refused before it is parsed: the same error
/// (`INVALID_TOKEN`) an operation answers for a token it cannot redeem.
pub fn refused_token() -> async_graphql::Response {
    let refused = to_graphql(ConnectorError::InvalidToken);
    let mut error = async_graphql::ServerError::new(refused.message, None);
    error.extensions = refused.extensions;
    async_graphql::Response::from_errors(vec![error])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_code() {
        let internal = ConnectorError::internal(StoreError::NotUnique);
        for (error, code) in [
            (ConnectorError::InvalidToken, "INVALID_TOKEN"),
            (ConnectorError::InvalidCsr("CSR: bad".into()), "INVALID_CSR"),
            (ConnectorError::CertificateRequired, "CERTIFICATE_REQUIRED"),
            (internal, "INTERNAL"),
        ] {
            let answered = to_graphql(error);
            let extensions = answered.extensions.as_ref().and_then(|e| e.get("code"));
            assert_eq!(
                extensions,
                Some(&async_graphql::Value::from(code)),
                "{}",
                answered.message
            );
        }
    }

    #[test]
    fn an_internal_error_names_no_cause() {
        let answered = to_graphql(ConnectorError::internal(StoreError::Corrupt(
            "secret".into(),
        )));
        assert_eq!(answered.message, "internal error");
    }
}
