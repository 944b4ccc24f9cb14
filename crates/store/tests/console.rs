//! The console's login links and sessions in the store, on SQLite and PostgreSQL: a link is
//! redeemed once however many try at the same moment, an expired link redeems nothing,
//! sessions are read, refreshed, switched, deleted and purged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sextant_domain::TenantId;
use sextant_store::{ConsoleGrant, ConsoleLoginLink, ConsoleSession, Store};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

struct Fixture {
    store: Arc<dyn Store>,
    _db: TestDatabase,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDatabase::create(backend).await;
    let store = sextant_store::connect(&db.url).await.unwrap();
    Fixture { store, _db: db }
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn grant() -> ConsoleGrant {
    ConsoleGrant {
        subject: "admin".into(),
        tenants: vec![TenantId::DEFAULT, TenantId(Uuid::new_v4())],
        scopes: vec!["application:read".into(), "runtime:read".into()],
    }
}

fn link(made: OffsetDateTime) -> ConsoleLoginLink {
    ConsoleLoginLink {
        token_hash: Uuid::new_v4().as_bytes().to_vec(),
        grant: grant(),
        created_at: made,
        expires_at: made + Duration::minutes(10),
    }
}

async fn insert_link(store: &Arc<dyn Store>, link: &ConsoleLoginLink) {
    let mut tx = store.write().await.unwrap();
    tx.insert_console_login_link(link).await.unwrap();
    tx.commit().await.unwrap();
}

async fn redeem(store: &Arc<dyn Store>, hash: &[u8]) -> Option<ConsoleLoginLink> {
    let mut tx = store.write().await.unwrap();
    let link = tx.redeem_console_login_link(hash, now()).await.unwrap();
    tx.commit().await.unwrap();
    link
}

async fn twenty_concurrent_redemptions_one_wins(backend: Backend) {
    let f = fixture(backend).await;
    let stored = link(now());
    insert_link(&f.store, &stored).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, hash, barrier) =
                (f.store.clone(), stored.token_hash.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                redeem(&store, &hash).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(
        winners,
        vec![stored.clone()],
        "exactly one redemption succeeds"
    );
    assert!(redeem(&f.store, &stored.token_hash).await.is_none());
}

async fn an_expired_link_redeems_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let stale = link(now() - Duration::minutes(11));
    insert_link(&f.store, &stale).await;
    assert!(redeem(&f.store, &stale.token_hash).await.is_none());
    assert!(redeem(&f.store, b"unknown").await.is_none());
}

async fn sessions_are_read_refreshed_switched_and_ended(backend: Backend) {
    let f = fixture(backend).await;
    let opened = now();
    let session = ConsoleSession {
        session_hash: Uuid::new_v4().as_bytes().to_vec(),
        grant: grant(),
        current_tenant: TenantId::DEFAULT,
        csrf_token: "csrf".into(),
        created_at: opened,
        last_seen: opened,
        expires_at: opened + Duration::hours(12),
    };
    let hash = session.session_hash.clone();
    let mut tx = f.store.write().await.unwrap();
    tx.insert_console_session(&session).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = f.store.read().await.unwrap();
    assert_eq!(
        tx.console_session(&hash).await.unwrap(),
        Some(session.clone())
    );
    drop(tx);

    let later = opened + Duration::minutes(5);
    let other = session.grant.tenants[1];
    let mut tx = f.store.write().await.unwrap();
    assert!(tx.touch_console_session(&hash, later).await.unwrap());
    assert!(tx.set_console_session_tenant(&hash, other).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = f.store.read().await.unwrap();
    let read = tx.console_session(&hash).await.unwrap().unwrap();
    assert_eq!((read.last_seen, read.current_tenant), (later, other));
    drop(tx);

    // Idle since before `later + 1 min`: purged; links expired: purged.
    insert_link(&f.store, &link(opened - Duration::hours(1))).await;
    let mut tx = f.store.write().await.unwrap();
    assert_eq!(tx.purge_console(later, opened).await.unwrap(), 1);
    assert_eq!(
        tx.purge_console(later, later + Duration::minutes(1))
            .await
            .unwrap(),
        1
    );
    assert!(tx.console_session(&hash).await.unwrap().is_none());
    assert!(!tx.delete_console_session(&hash).await.unwrap());
    tx.commit().await.unwrap();
}

async fn logout_deletes_the_session(backend: Backend) {
    let f = fixture(backend).await;
    let opened = now();
    let session = ConsoleSession {
        session_hash: vec![7; 32],
        grant: grant(),
        current_tenant: TenantId::DEFAULT,
        csrf_token: "csrf".into(),
        created_at: opened,
        last_seen: opened,
        expires_at: opened + Duration::hours(12),
    };
    let mut tx = f.store.write().await.unwrap();
    tx.insert_console_session(&session).await.unwrap();
    assert!(
        tx.delete_console_session(&session.session_hash)
            .await
            .unwrap()
    );
    assert!(
        tx.console_session(&session.session_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !tx.touch_console_session(&session.session_hash, opened)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

on_both_backends!(
    workers = 4;
    twenty_concurrent_redemptions_one_wins,
    an_expired_link_redeems_nothing,
    sessions_are_read_refreshed_switched_and_ended,
    logout_deletes_the_session,
);
