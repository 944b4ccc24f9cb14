//! Configuration epochs: one counter per tenant, raised in the same transaction as any change
//! that can alter what a runtime of the tenant is configured with. The counters live in the
//! database (`config_epochs`), so every replica agrees on them; [`ConfigEpochs`] mirrors them
//! in memory, so that "has anything changed since epoch N?" costs no statement, and wakes
//! whoever waits for a tenant when its counter moves.
//!
//! How the mirror learns of a change: a commit through this process publishes its new epochs
//! at once; on PostgreSQL, other replicas hear of it through `NOTIFY` (sent by the
//! transaction, so delivered exactly when it commits) and re-read the whole table after a
//! lost listener connection and every few seconds, as a safety net.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sextant_domain::TenantId;
use tokio::sync::watch;

/// The in-memory mirror of the tenants' configuration epochs.
#[derive(Debug, Default)]
pub struct ConfigEpochs {
    tenants: Mutex<HashMap<TenantId, watch::Sender<u64>>>,
    /// How many times any tenant's epoch moved: lets a reader tell that nothing moved
    /// while it looked something up whose tenant it did not know beforehand.
    changes: AtomicU64,
    /// Signalled when a transaction that queued webhook deliveries commits, so the notifier
    /// of this process starts at once instead of at its next poll. (Other servers sharing a
    /// PostgreSQL database find the deliveries at their next poll.)
    outbox: tokio::sync::Notify,
    /// Signalled likewise for the notifier's expansion of recorded fan-outs.
    fan_outs: tokio::sync::Notify,
}

impl ConfigEpochs {
    /// The tenant's epoch as last heard (0 for a tenant that never changed).
    pub fn current(&self, tenant: TenantId) -> u64 {
        self.with(tenant, |sender| *sender.borrow())
    }

    /// A counter that moves whenever any tenant's epoch moves.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Records that a committed transaction queued webhook deliveries or recorded a fan-out
    /// (a wake-up is kept for the next [`ConfigEpochs::outbox_filled`] and
    /// [`ConfigEpochs::fan_outs_recorded`] waiter if nobody waits now).
    pub fn fill_outbox(&self) {
        self.outbox.notify_one();
        self.fan_outs.notify_one();
    }

    /// Returns once deliveries were queued since the last wake-up.
    pub async fn outbox_filled(&self) {
        self.outbox.notified().await;
    }

    /// Returns once deliveries were queued or a fan-out recorded since the last wake-up.
    pub async fn fan_outs_recorded(&self) {
        self.fan_outs.notified().await;
    }

    /// A receiver that sees the tenant's epoch move.
    pub fn subscribe(&self, tenant: TenantId) -> watch::Receiver<u64> {
        self.with(tenant, |sender| sender.subscribe())
    }

    /// Records that the tenant reached `epoch`; epochs never go back, so a late or repeated
    /// report changes nothing.
    pub fn advance(&self, tenant: TenantId, epoch: u64) {
        self.with(tenant, |sender| {
            sender.send_if_modified(|current| {
                if epoch > *current {
                    *current = epoch;
                    self.changes.fetch_add(1, Ordering::SeqCst);
                    true
                } else {
                    false
                }
            });
        });
    }

    fn with<T>(&self, tenant: TenantId, f: impl FnOnce(&watch::Sender<u64>) -> T) -> T {
        // A poisoned lock only means another thread panicked while holding it; the map itself
        // is always consistent (each operation is one insert or one read).
        let mut tenants = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = tenants
            .entry(tenant)
            .or_insert_with(|| watch::Sender::new(0));
        f(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn epochs_only_move_forward_and_wake_subscribers() {
        let epochs = ConfigEpochs::default();
        let tenant = TenantId(uuid::Uuid::new_v4());
        assert_eq!(epochs.current(tenant), 0);
        let mut rx = epochs.subscribe(tenant);
        let changes = epochs.changes();
        epochs.advance(tenant, 3);
        assert_eq!(epochs.changes(), changes + 1);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), 3);
        epochs.advance(tenant, 2);
        epochs.advance(tenant, 3);
        assert!(
            !rx.has_changed().unwrap(),
            "older or equal epochs are ignored"
        );
        assert_eq!(epochs.current(tenant), 3);
        let other = TenantId(uuid::Uuid::new_v4());
        epochs.advance(other, 9);
        assert!(!rx.has_changed().unwrap(), "other tenants do not wake it");
    }
}
