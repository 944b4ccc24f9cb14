//! The Provisioner's background task: renews the leases of the operations this server runs
//! and takes over those whose lease ran out (after a restart, or another replica's).

use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_domain::provisioning::Operation;
use sextant_store::StoreError;

use super::{Provisioner, ProvisionerSettings, now};

/// Every third of the lease: claims the operations in progress that nobody holds and renews
/// this server's, and runs those it does not run yet.
pub(super) struct Leases(pub(super) Provisioner);

impl Leases {
    pub(super) fn schedule(settings: &ProvisionerSettings) -> Schedule {
        Schedule::every(settings.lease / 3)
    }
}

impl Provisioner {
    async fn claim(&self) -> Result<Vec<Operation>, StoreError> {
        let now = now();
        let until = now + self.inner.settings.lease;
        let mut tx = self.inner.store.write().await?;
        let ops = tx.claim_operations(self.inner.owner, now, until).await?;
        tx.commit().await?;
        Ok(ops)
    }
}

impl BackgroundTask for Leases {
    fn name(&self) -> &'static str {
        "Provisioner leases"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        for op in self.0.claim().await? {
            self.0.launch(op);
        }
        Ok(Progress::Idle)
    }
}
