//! Revocation lists: the CRL a CA serves, and the watcher that keeps the mTLS listener's CRLs
//! current.
//!
//! A revoked certificate is refused by the per-request check at once (see
//! [`crate::certificate_client`]); the CRLs make every server sharing the database refuse it at
//! the handshake too, within [`REVOCATION_CHECK_INTERVAL`] of the revocation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_pki::{CertificateAuthority, PkiError};
use sextant_store::{Store, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

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
    type Error: std::error::Error + 'static;

    /// The set of revoked certificates changed: forget every certificate remembered as valid.
    fn revocations_changed(&self);

    /// Makes the mTLS listener check new handshakes against these CRLs (DER, one per trusted
    /// CA, current first; none when no certificate is revoked).
    fn install_crls(&self, crls: Vec<Vec<u8>>) -> Result<(), Self::Error>;
}

/// Every [`REVOCATION_CHECK_INTERVAL`], reads the revoked certificates from `store` and, when
/// they changed (or at least every minute), has every trusted CA sign a CRL of them and hands
/// the CRLs to `listener`. Failures are logged and retried at the next tick. Returns when
/// `shutdown` is cancelled.
pub async fn watch_revocations<L: RevocationListener>(
    store: Arc<dyn Store>,
    cas: TrustedCas,
    listener: L,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(REVOCATION_CHECK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut known: Option<Vec<(Vec<u8>, OffsetDateTime)>> = None;
    let mut built_at = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let now = OffsetDateTime::now_utc();
        let revoked = match store.read().await {
            Ok(mut tx) => tx.revoked_certificates(now).await,
            Err(e) => Err(e),
        };
        let revoked = match revoked {
            Ok(revoked) => revoked,
            Err(e) => {
                tracing::warn!(error = %sextant_domain::ErrorChain(&e), "cannot read revocations; retrying");
                continue;
            }
        };
        if known.as_ref() == Some(&revoked) && built_at.elapsed() < CRL_REFRESH {
            continue;
        }
        if known.as_ref() != Some(&revoked) {
            listener.revocations_changed();
        }
        // Every trusted CA gets a CRL: with some CRLs present, rustls refuses a certificate
        // whose status none of them can tell. The serials are random, so listing all of
        // them in each CA's list never revokes a certificate of the other CA by mistake.
        let crls = if revoked.is_empty() {
            Ok(Vec::new())
        } else {
            cas.all()
                .map(|ca| ca.crl(&revoked, crl_number(now), CRL_REFRESH * 5))
                .collect::<Result<Vec<_>, _>>()
        };
        let crls = match crls {
            Ok(crls) => crls,
            Err(e) => {
                tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot sign the CRL; retrying");
                continue;
            }
        };
        if let Err(e) = listener.install_crls(crls) {
            tracing::error!(error = %sextant_domain::ErrorChain(&e), "cannot rebuild the mTLS configuration");
            continue;
        }
        known = Some(revoked);
        built_at = Instant::now();
    }
}
