//! Building `rustls::ServerConfig`s.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::TlsError;

/// A server config that can be replaced while listeners run, so certificates and CRLs can
/// change without a restart. [`crate::serve`] loads it once per new connection.
pub type SharedServerConfig = Arc<arc_swap::ArcSwap<ServerConfig>>;

/// Installs aws-lc-rs as the process-wide rustls crypto provider.
///
/// Idempotent: a provider that is already installed (by an earlier call, or by a library) is
/// left alone, since rustls offers no way to replace it and the workspace only builds
/// aws-lc-rs anyway.
pub fn install_crypto_provider() {
    if rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a rustls crypto provider was already installed");
    }
}

/// Whether a listener asks for client certificates.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// No client certificate is requested.
    None,
    /// Every client must present a certificate chaining to one of `roots_pem` that is not
    /// revoked by any of `crls_der`.
    Required {
        /// PEM with one or more CA certificates trusted to issue client certificates.
        roots_pem: String,
        /// CRLs of those CAs. With none, revocation is not checked; with some, a client
        /// certificate whose status the CRLs cannot tell is refused.
        crls_der: Vec<CertificateRevocationListDer<'static>>,
    },
}

/// Builds a server config from a PEM certificate chain (leaf first) and a private key PEM.
///
/// TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, aws-lc-rs as provider regardless of what is
/// installed process-wide (so the listener never depends on initialisation order).
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::CertificatePem)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(TlsError::PrivateKeyPem)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required {
            roots_pem,
            crls_der,
        } => builder.with_client_cert_verifier(client_verifier(&roots_pem, crls_der, provider)?),
    };
    // with_single_cert also checks that the key matches the leaf certificate.
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn client_verifier(
    roots_pem: &str,
    crls: Vec<CertificateRevocationListDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
        roots
            .add(cert.map_err(TlsError::RootsPem)?)
            .map_err(TlsError::InvalidRoot)?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .build()
        .map_err(TlsError::ClientVerifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_chain_is_an_error() {
        assert!(matches!(
            server_config("", "", ClientAuth::None),
            Err(TlsError::NoCertificates)
        ));
    }

    #[test]
    fn install_is_idempotent() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(CryptoProvider::get_default().is_some());
    }
}
