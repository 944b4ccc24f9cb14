//! The task that removes expired one-time tokens.

use std::sync::Arc;
use std::time::Duration;

use sextant_store::Store;
use tokio_util::sync::CancellationToken;

/// How often expired one-time tokens are removed (they never redeem; this only keeps the
/// table small).
const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) async fn purge_expired_tokens(
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut interval = tokio::time::interval(TOKEN_PURGE_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = interval.tick() => {}
        }
        let purged = async {
            let mut tx = store.write().await?;
            let n = tx
                .purge_expired_tokens(time::OffsetDateTime::now_utc())
                .await?;
            tx.commit().await?;
            Ok::<u64, sextant_store::StoreError>(n)
        }
        .await;
        match purged {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "removed expired one-time tokens"),
            Err(e) => tracing::warn!(
                error = %sextant_domain::ErrorChain(&e),
                "cannot remove expired one-time tokens; retrying later"
            ),
        }
    }
}
