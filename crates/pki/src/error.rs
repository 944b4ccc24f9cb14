//! The error type of the crate.

/// Errors of the certificate authority and key handling.
///
/// Display strings say what failed; the underlying cause is the [`std::error::Error::source`],
/// so log the whole chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A new key pair could not be generated.
    #[error("failed to generate a key pair")]
    KeyGeneration(#[source] rcgen::Error),
    /// A private key PEM could not be parsed (or is not of the expected kind).
    #[error("failed to parse the private key")]
    InvalidPrivateKey(#[source] rcgen::Error),
    /// The CA certificate PEM could not be loaded as an issuer.
    #[error("failed to load the CA certificate")]
    InvalidCaCertificate(#[source] rcgen::Error),
    /// The CA certificate does not carry `basicConstraints CA:TRUE`.
    #[error("the certificate is not a CA certificate")]
    NotACa,
    /// The private key does not belong to the CA certificate.
    #[error("the private key does not match the CA certificate")]
    KeyMismatch,
    /// A certificate was requested without any name.
    #[error("at least one name is required")]
    NoNames,
    /// A name is neither an IP literal nor a valid DNS name.
    #[error("invalid certificate name {name:?}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Why it is not a valid DNS name.
        #[source]
        source: rustls_pki_types::InvalidDnsNameError,
    },
    /// The validity is zero or too large to be represented as a date.
    #[error("invalid certificate validity {validity:?}")]
    InvalidValidity {
        /// The requested validity.
        validity: std::time::Duration,
    },
    /// The random generator failed while making a serial number.
    #[error("failed to generate a random serial number")]
    Random,
    /// Building or signing the certificate failed.
    #[error("failed to sign the certificate")]
    Signing(#[source] rcgen::Error),
    /// The input holds no decodable PEM certificate.
    #[error("failed to decode the PEM certificate")]
    CertificatePem(#[source] rustls_pki_types::pem::Error),
    /// The DER inside the PEM is not a valid X.509 certificate.
    #[error("failed to parse the X.509 certificate")]
    CertificateParse(#[source] x509_parser::error::X509Error),
}

impl PkiError {
    /// Flattens x509-parser's nom wrapper into its inner error.
    pub(crate) fn from_x509(err: x509_parser::nom::Err<x509_parser::error::X509Error>) -> Self {
        let inner = match err {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
            // A complete DER buffer was given, so "incomplete" means truncated input.
            x509_parser::nom::Err::Incomplete(_) => {
                x509_parser::error::X509Error::InvalidCertificate
            }
        };
        Self::CertificateParse(inner)
    }
}
