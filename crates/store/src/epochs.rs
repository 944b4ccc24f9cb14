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
//!
//! Two more things are announced the same way, at commit and (on PostgreSQL) to the other
//! replicas by `NOTIFY` ([`Announcement`]): that webhook deliveries were queued or fan-outs
//! recorded (the notifier starts at once instead of at its next poll), that a certificate
//! was revoked or a client deleted (a **credentials generation**: whoever remembers which
//! certificate stands for whom checks again, without waiting for a configuration change),
//! and that a client (system auth) was made or deleted (the **system auths generation**:
//! answers listing an application's clients are kept only while it holds).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sextant_domain::TenantId;
use tokio::sync::watch;

/// The in-memory mirror of the tenants' configuration epochs.
#[derive(Debug)]
pub struct ConfigEpochs {
    /// Names this store in its announcements, so that it does not hear its own twice (it
    /// publishes them at commit, and its listener hears its own `NOTIFY`).
    origin: uuid::Uuid,
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
    /// How many times a certificate was revoked or a client deleted, as heard.
    credentials: AtomicU64,
    /// How many times a client was made or deleted, as heard.
    system_auths: AtomicU64,
}

impl Default for ConfigEpochs {
    fn default() -> Self {
        ConfigEpochs {
            origin: uuid::Uuid::new_v4(),
            tenants: Mutex::default(),
            changes: AtomicU64::default(),
            outbox: tokio::sync::Notify::default(),
            fan_outs: tokio::sync::Notify::default(),
            credentials: AtomicU64::default(),
            system_auths: AtomicU64::default(),
        }
    }
}

/// What a transaction announces when it commits, besides its epochs (once each, whatever
/// the number of rows concerned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announcement {
    /// Webhook deliveries were queued or a fan-out recorded.
    Outbox,
    /// A certificate was revoked or a client (system auth) deleted.
    Credentials,
    /// A client (system auth) was made or deleted.
    SystemAuths,
}

impl Announcement {
    const ALL: [Announcement; 3] = [
        Announcement::Outbox,
        Announcement::Credentials,
        Announcement::SystemAuths,
    ];

    fn name(self) -> &'static str {
        match self {
            Announcement::Outbox => "outbox",
            Announcement::Credentials => "credentials",
            Announcement::SystemAuths => "system_auths",
        }
    }

    /// The `NOTIFY` payload that carries it to other replicas, `<kind>:<origin>` (an epoch's
    /// payload is `<tenant>:<epoch>`, a UUID first, so the two cannot be mistaken).
    pub fn payload(self, epochs: &ConfigEpochs) -> String {
        format!("{}:{}", self.name(), epochs.origin)
    }

    /// The announcement a `NOTIFY` payload carries, if it is one and not this store's own
    /// (which it published when it committed).
    pub fn heard(payload: &str, epochs: &ConfigEpochs) -> Option<Announcement> {
        let (name, origin) = payload.split_once(':')?;
        let what = Announcement::ALL.into_iter().find(|a| a.name() == name)?;
        (origin != epochs.origin.to_string()).then_some(what)
    }

    /// Whether a payload is an announcement at all (of this store or another).
    pub fn is_announcement(payload: &str) -> bool {
        payload
            .split_once(':')
            .is_some_and(|(name, _)| Announcement::ALL.iter().any(|a| a.name() == name))
    }
}

/// What a transaction announced so far (published when it commits).
#[derive(Clone, Copy, Debug, Default)]
pub struct Announced {
    pub outbox: bool,
    pub credentials: bool,
    pub system_auths: bool,
}

impl Announced {
    /// Records `what`; answers whether it is new in this transaction (and so still to be
    /// sent to other replicas).
    pub fn note(&mut self, what: Announcement) -> bool {
        let flag = match what {
            Announcement::Outbox => &mut self.outbox,
            Announcement::Credentials => &mut self.credentials,
            Announcement::SystemAuths => &mut self.system_auths,
        };
        !std::mem::replace(flag, true)
    }
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

    /// Publishes what a committed transaction (of this process or, on PostgreSQL, another
    /// replica) announced.
    pub fn announced(&self, what: Announced) {
        if what.outbox {
            self.fill_outbox();
        }
        if what.credentials {
            self.credentials_changed();
        }
        if what.system_auths {
            self.system_auths.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Records that a certificate was revoked or a client deleted (or that such news may
    /// have been missed).
    pub fn credentials_changed(&self) {
        self.credentials.fetch_add(1, Ordering::SeqCst);
    }

    /// The credentials generation: it moves whenever a certificate was revoked or a client
    /// deleted. Read it before checking a certificate, and trust the answer only while it
    /// has not moved.
    pub fn credentials(&self) -> u64 {
        self.credentials.load(Ordering::SeqCst)
    }

    /// The system auths generation: it moves whenever a client (system auth) was made or
    /// deleted.
    pub fn system_auths(&self) -> u64 {
        self.system_auths.load(Ordering::SeqCst)
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

    #[test]
    fn announcements_are_noted_once_and_read_back_from_their_payload() {
        let mut announced = Announced::default();
        assert!(announced.note(Announcement::Credentials));
        assert!(
            !announced.note(Announcement::Credentials),
            "once per transaction"
        );
        assert!(!announced.outbox);
        let epochs = ConfigEpochs::default();
        let before = epochs.credentials();
        epochs.announced(announced);
        assert_eq!(epochs.credentials(), before + 1);
        let other = ConfigEpochs::default();
        for what in Announcement::ALL {
            let payload = what.payload(&epochs);
            assert_eq!(Announcement::heard(&payload, &other), Some(what));
            assert_eq!(Announcement::heard(&payload, &epochs), None, "its own");
            assert!(Announcement::is_announcement(&payload));
        }
        let epoch = format!("{}:3", uuid::Uuid::nil());
        assert_eq!(Announcement::heard(&epoch, &other), None);
        assert!(
            !Announcement::is_announcement(&epoch),
            "an epoch's payload is no announcement"
        );
    }
}
