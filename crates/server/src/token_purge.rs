//! The task that removes expired one-time tokens, and the console's expired login links and
//! ended sessions.

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
        let now = time::OffsetDateTime::now_utc();
        let mut tx = self.store.write().await?;
        let purged = tx.purge_expired_tokens(now).await?;
        let console = tx
            .purge_console(now, now - sextant_console::IDLE_TIMEOUT)
            .await?;
        tx.commit().await?;
        if purged > 0 || console > 0 {
            tracing::debug!(
                purged,
                console,
                "removed expired tokens, links and sessions"
            );
        }
        Ok(Progress::Idle)
    }
}
