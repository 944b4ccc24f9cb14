//! The task that removes expired one-time tokens.

use std::sync::Arc;
use std::time::Duration;

use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_store::Store;

/// How often expired one-time tokens are removed (they never redeem; this only keeps the
/// table small).
const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Removes expired one-time tokens, every [`TOKEN_PURGE_INTERVAL`].
pub(crate) struct TokenPurge {
    pub(crate) store: Arc<dyn Store>,
}

impl TokenPurge {
    pub(crate) fn schedule() -> Schedule {
        Schedule::every(TOKEN_PURGE_INTERVAL)
    }
}

impl BackgroundTask for TokenPurge {
    fn name(&self) -> &'static str {
        "expired one-time token purge"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        let mut tx = self.store.write().await?;
        let purged = tx
            .purge_expired_tokens(time::OffsetDateTime::now_utc())
            .await?;
        tx.commit().await?;
        if purged > 0 {
            tracing::debug!(purged, "removed expired one-time tokens");
        }
        Ok(Progress::Idle)
    }
}
