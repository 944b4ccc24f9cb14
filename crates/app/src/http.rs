//! HTTPS to runtimes: the client that posts events to one runtime's event gateway (the
//! management plane's clients are `sextant_client::http`'s).

use rustls::client::danger::ServerCertVerifier;
use sextant_client::Credentials;

use crate::error::AppError;

/// How the application client introduces itself over HTTP.
pub(crate) const USER_AGENT: &str = concat!("sextant-app/", env!("CARGO_PKG_VERSION"));

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
    sextant_client::http::builder(USER_AGENT)
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| AppError::Client(sextant_client::chain(&e)))
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
