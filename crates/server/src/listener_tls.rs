//! The listeners' TLS configurations: built from the listeners' certificate, the trusted CAs
//! and their CRLs, and swapped into the listeners without a restart when the certificate is
//! renewed or the CRLs change.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_connector::{RevocationListener, TrustedCas};
use sextant_tls::{ClientAuth, SharedServerConfig};

use crate::config_cache::ConfigCache;
use crate::datadir;
use crate::error::ServerError;

/// What the listeners' TLS configurations are built from; a task that changes one part
/// rebuilds them from the current value of every other part.
pub(crate) struct TlsParts {
    pub(crate) cert: ArcSwap<sextant_pki::CertifiedKey>,
    /// One CRL (DER) per trusted CA, if any certificate is revoked.
    pub(crate) crls: ArcSwap<Vec<Vec<u8>>>,
}

/// The listeners' TLS configurations: the main one (no client certificates) and the mTLS one
/// (a client certificate of a trusted CA required, and not on that CA's CRL).
pub(crate) fn tls_configs(
    cert: &sextant_pki::CertifiedKey,
    cas: &TrustedCas,
    crls: &[Vec<u8>],
) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ServerConfig>), ServerError> {
    let main = sextant_tls::server_config(&cert.cert_pem, &cert.key_pem, ClientAuth::None)?;
    let mtls = sextant_tls::server_config(
        &cert.cert_pem,
        &cert.key_pem,
        ClientAuth::Required {
            roots_pem: cas.pem(),
            crls_der: crls
                .iter()
                .map(|der| rustls::pki_types::CertificateRevocationListDer::from(der.clone()))
                .collect(),
        },
    )?;
    Ok((main, mtls))
}

/// How often the running server checks whether its certificate needs renewing.
const CERT_CHECK_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// Re-issues the listeners' certificate before it expires and swaps it into both listeners:
/// new connections get the new certificate, open ones are left alone, nothing restarts.
/// Checked every [`CERT_CHECK_INTERVAL`], first one interval after start (start checked).
pub(crate) struct CertificateRenewal {
    pub(crate) data_dir: PathBuf,
    pub(crate) cas: TrustedCas,
    pub(crate) names: Vec<String>,
    pub(crate) parts: Arc<TlsParts>,
    pub(crate) configs: [SharedServerConfig; 2],
}

impl CertificateRenewal {
    pub(crate) fn schedule() -> Schedule {
        Schedule::every(CERT_CHECK_INTERVAL).after_first_period()
    }
}

impl BackgroundTask for CertificateRenewal {
    fn name(&self) -> &'static str {
        "listener certificate renewal"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        let (cert, renewed) = datadir::ensure_server_certificate(
            &self.data_dir,
            self.cas.server_signer(),
            &self.names,
            false,
        )?;
        if renewed {
            let built = tls_configs(&cert, &self.cas, &self.parts.crls.load());
            self.parts.cert.store(Arc::new(cert));
            let (main, mtls) = built?;
            self.configs[0].store(main);
            self.configs[1].store(mtls);
            tracing::info!("renewed the listeners' certificate");
        }
        Ok(Progress::Idle)
    }
}

/// Where the Connector's revocation watcher puts what it finds: the mTLS listener's CRLs
/// (rebuilding its TLS configuration), and the runtimes' certificates remembered as valid.
pub(crate) struct MtlsRevocations {
    pub(crate) cas: TrustedCas,
    pub(crate) parts: Arc<TlsParts>,
    pub(crate) mtls: SharedServerConfig,
    pub(crate) config_cache: Arc<ConfigCache>,
}

impl RevocationListener for MtlsRevocations {
    type Error = ServerError;

    fn revocations_changed(&self) {
        self.config_cache.revocations_changed();
    }

    fn install_crls(&self, crls: Vec<Vec<u8>>) -> Result<(), ServerError> {
        self.parts.crls.store(Arc::new(crls));
        let (_, mtls) = tls_configs(&self.parts.cert.load(), &self.cas, &self.parts.crls.load())?;
        self.mtls.store(mtls);
        Ok(())
    }
}
