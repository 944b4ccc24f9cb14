//! CA rotation: which CAs the mTLS listener trusts while one CA replaces another, and when the
//! previous one may be retired.
//!
//! During a rotation the current CA signs client certificates and the previous one stays
//! trusted, and keeps issuing the listeners' certificate, so clients that know only it keep
//! working until they renew. Issued certificates record their CA's fingerprint, so retirement
//! can count the clients that still depend on the previous CA.

use std::sync::Arc;

use sextant_pki::CertificateAuthority;
use sextant_store::{Store, StoreError};

/// The CAs whose client certificates the mTLS listener accepts: the signing CA and, during a
/// rotation, the previous one.
#[derive(Clone)]
pub struct TrustedCas {
    pub current: Arc<CertificateAuthority>,
    pub previous: Option<Arc<CertificateAuthority>>,
}

impl TrustedCas {
    /// The trusted CAs, current first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<CertificateAuthority>> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }

    /// The CA certificates, current first, as one PEM.
    pub fn pem(&self) -> String {
        self.all().map(|ca| ca.cert_pem()).collect()
    }

    /// The CA that issues the listeners' certificate: the previous one while it is trusted,
    /// so clients that only know it keep trusting the server.
    pub fn server_signer(&self) -> &Arc<CertificateAuthority> {
        self.previous.as_ref().unwrap_or(&self.current)
    }
}

/// What retiring the previous CA found.
#[derive(Debug, PartialEq, Eq)]
pub enum Retirement {
    /// There was no previous CA.
    NothingToRetire,
    /// This many clients hold unrevoked, unexpired certificates of the previous CA (or of an
    /// older one) and none of the current CA: the CA was kept. They must renew first (or be
    /// revoked), or `force` it.
    ClientsRemain(u64),
    /// The previous CA is gone; `clients_cut_off` clients lose their certificates (non-zero
    /// only when forced).
    Retired { clients_cut_off: u64 },
}

/// How many clients hold unrevoked, unexpired certificates of CAs other than `current` and
/// none of it: the clients that retiring the previous CA would cut off.
pub async fn clients_depending_on_other_cas(
    store: &dyn Store,
    current: &CertificateAuthority,
) -> Result<u64, StoreError> {
    let mut tx = store.read().await?;
    tx.clients_depending_on_other_cas(&current.fingerprint(), time::OffsetDateTime::now_utc())
        .await
}
