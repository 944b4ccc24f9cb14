//! The error type of the crate.

/// Errors while building a TLS server configuration.
///
/// Display strings say what failed; the underlying cause is the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate chain PEM could not be decoded.
    #[error("failed to decode the certificate chain PEM")]
    CertificatePem(#[source] rustls_pki_types::pem::Error),
    /// The certificate chain PEM holds no certificate.
    #[error("the certificate chain PEM contains no certificate")]
    NoCertificates,
    /// The private key PEM could not be decoded or holds no key.
    #[error("failed to decode the private key PEM")]
    PrivateKeyPem(#[source] rustls_pki_types::pem::Error),
    /// The client CA roots PEM could not be decoded.
    #[error("failed to decode the client CA roots PEM")]
    RootsPem(#[source] rustls_pki_types::pem::Error),
    /// The client CA roots PEM holds no certificate.
    #[error("the client CA roots PEM contains no certificate")]
    NoRoots,
    /// A client CA root is not a usable trust anchor.
    #[error("invalid client CA root certificate")]
    InvalidRoot(#[source] rustls::Error),
    /// The client certificate verifier could not be built (e.g. an unparsable CRL).
    #[error("failed to build the client certificate verifier")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// rustls rejected the configuration (e.g. the key does not match the certificate).
    #[error("failed to build the TLS server configuration")]
    Config(#[source] rustls::Error),
}
