//! Revocation lists: the CRL a CA serves, and the watcher that keeps the mTLS listener's CRLs
//! current.
//!
//! A revoked certificate is refused by the per-request check at once (see
//! [`crate::certificate_client`]); the CRLs make every server sharing the database refuse it at
//! the handshake too, within [`REVOCATION_CHECK_INTERVAL`] of the revocation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_pki::{CertificateAuthority, PkiError};
use sextant_store::{Store, StoreError};
use time::OffsetDateTime;

use crate::rotation::TrustedCas;

/// How long a served CRL says it is current (clients fetch a new one after that).
pub const CRL_NEXT_UPDATE: Duration = Duration::from_secs(300);

/// How often the revoked certificates are read to rebuild the mTLS listener's CRL: a
/// revocation through any replica is refused at the handshake by every replica within this
/// (plus the time of one query). Requests on connections opened before are refused by the
/// per-request check at once.
pub const REVOCATION_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// The CRL is rebuilt at least this often even without a change, well before its
/// `nextUpdate`.
const CRL_REFRESH: Duration = Duration::from_secs(60);

/// Why no CRL could be made.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("reading the revoked certificates failed")]
    Store(#[source] StoreError),
    #[error("signing the CRL failed")]
    Signing(#[source] PkiError),
}

/// The CRL number of a list made at `now`: the time in microseconds, so newer lists get higher
/// numbers.
fn crl_number(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(0)
}

/// `ca`'s CRL (DER) of every revoked certificate not yet expired, as served at
/// `/connector/crl`. Public, as CRLs are: it names serials only.
pub async fn current_crl(
    store: &dyn Store,
    ca: &CertificateAuthority,
) -> Result<Vec<u8>, CrlError> {
    let now = OffsetDateTime::now_utc();
    let revoked = async {
        let mut tx = store.read().await?;
        tx.revoked_certificates(now).await
    }
    .await
    .map_err(CrlError::Store)?;
    ca.crl(&revoked, crl_number(now), CRL_NEXT_UPDATE)
        .map_err(CrlError::Signing)
}

/// Where the revocation watcher puts what it finds: the listener that checks client
/// certificates and whatever remembers certificates as valid.
pub trait RevocationListener: Send + Sync {
    /// Why [`RevocationListener::install_crls`] failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The set of revoked certificates changed: forget every certificate remembered as valid.
    fn revocations_changed(&self);

    /// Makes the mTLS listener check new handshakes against these CRLs (DER, one per trusted
    /// CA, current first; none when no certificate is revoked).
    fn install_crls(&self, crls: Vec<Vec<u8>>) -> Result<(), Self::Error>;
}

/// Why the revocation watcher could not bring the CRLs up to date (tried again).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot read revocations")]
    Read(#[source] StoreError),
    #[error("cannot sign the CRL")]
    Sign(#[source] PkiError),
    #[error("cannot rebuild the mTLS configuration")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// The revocation watcher: every [`REVOCATION_CHECK_INTERVAL`] it reads the revoked
/// certificates from the store and, when they changed (or at least every minute), has every
/// trusted CA sign a CRL of them and hands the CRLs to the listener. Run it with
/// [`sextant_background::run`] on [`RevocationWatcher::schedule`].
pub struct RevocationWatcher<L> {
    store: Arc<dyn Store>,
    cas: TrustedCas,
    listener: L,
    /// The revoked certificates the installed CRLs list, once some were installed.
    known: Option<Vec<(Vec<u8>, OffsetDateTime)>>,
    built_at: Instant,
}

impl<L: RevocationListener> RevocationWatcher<L> {
    pub fn new(store: Arc<dyn Store>, cas: TrustedCas, listener: L) -> Self {
        RevocationWatcher {
            store,
            cas,
            listener,
            known: None,
            built_at: Instant::now(),
        }
    }

    /// Every [`REVOCATION_CHECK_INTERVAL`], first at once; a failure is tried again at the
    /// next interval.
    pub fn schedule() -> Schedule {
        Schedule::every(REVOCATION_CHECK_INTERVAL)
    }

    async fn check(&mut self) -> Result<(), WatchError> {
        let now = OffsetDateTime::now_utc();
        let revoked = async {
            let mut tx = self.store.read().await?;
            tx.revoked_certificates(now).await
        }
        .await
        .map_err(WatchError::Read)?;
        if self.known.as_ref() == Some(&revoked) && self.built_at.elapsed() < CRL_REFRESH {
            return Ok(());
        }
        if self.known.as_ref() != Some(&revoked) {
            self.listener.revocations_changed();
        }
        // Every trusted CA gets a CRL: with some CRLs present, rustls refuses a certificate
        // whose status none of them can tell. The serials are random, so listing all of
        // them in each CA's list never revokes a certificate of the other CA by mistake.
        let crls = if revoked.is_empty() {
            Vec::new()
        } else {
            self.cas
                .all()
                .map(|ca| ca.crl(&revoked, crl_number(now), CRL_REFRESH * 5))
                .collect::<Result<Vec<_>, _>>()
                .map_err(WatchError::Sign)?
        };
        self.listener
            .install_crls(crls)
            .map_err(|e| WatchError::Install(Box::new(e)))?;
        self.known = Some(revoked);
        self.built_at = Instant::now();
        Ok(())
    }
}

impl<L: RevocationListener + 'static> BackgroundTask for RevocationWatcher<L> {
    fn name(&self) -> &'static str {
        "revocation watcher"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        self.check().await?;
        Ok(Progress::Idle)
    }
}
