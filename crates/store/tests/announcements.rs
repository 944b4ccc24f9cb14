//! What a committed transaction announces besides its epochs: an application's client made
//! or deleted (the system auths generation) and credentials revoked or deleted (the
//! credentials generation), heard by the store that committed at once and, on PostgreSQL, by
//! every other store on the database through `NOTIFY`; nothing is announced by a transaction
//! that rolls back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, SystemAuth, SystemAuthId,
    SystemAuthOwner, TenantId,
};
use sextant_store::{CertificatesOf, Store};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::OffsetDateTime;
use uuid::Uuid;

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn application(tenant: TenantId) -> Application {
    Application {
        id: ApplicationId::new_v4(),
        tenant,
        name: sextant_domain::Name::parse(format!(
            "app-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        ))
        .unwrap(),
        provider_name: "p".into(),
        description: None,
        health_check_url: None,
        integration_system_id: None,
        status_condition: ApplicationStatusCondition::Initial,
        status_timestamp: now(),
        created_at: now(),
    }
}

fn client_of(app: &Application) -> SystemAuth {
    SystemAuth {
        id: SystemAuthId::new_v4(),
        tenant: Some(app.tenant),
        owner: SystemAuthOwner::Application(app.id),
        secret_hash: None,
        created_at: now(),
    }
}

/// Waits until `moved` holds (another store hears through `NOTIFY`).
async fn heard(what: &str, moved: impl Fn() -> bool) {
    let started = Instant::now();
    while !moved() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} not heard in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_commit_announces_clients_and_revocations(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store: Arc<dyn Store> = sextant_store::connect(&db.url).await.unwrap();
    let epochs = store.config_epochs().clone();
    if backend == Backend::Postgres {
        // Its listener, once connected, announces everything (what was said before it
        // listened is lost); from then on only commits move the generations.
        heard("the listener's start", || epochs.system_auths() > 0).await;
    }
    let tenant = TenantId(Uuid::new_v4());
    let app = application(tenant);

    // An application's client made: the system auths generation moves, not the credentials'.
    let (auths, credentials) = (epochs.system_auths(), epochs.credentials());
    let mut tx = store.write().await.unwrap();
    tx.insert_application(&app).await.unwrap();
    let client = client_of(&app);
    tx.insert_system_auth(&client).await.unwrap();
    assert_eq!(
        epochs.system_auths(),
        auths,
        "announced at commit, not before"
    );
    tx.commit().await.unwrap();
    assert_eq!(epochs.system_auths(), auths + 1);
    assert_eq!(epochs.credentials(), credentials);

    // Rolled back: nothing announced.
    let mut tx = store.write().await.unwrap();
    tx.insert_system_auth(&client_of(&app)).await.unwrap();
    drop(tx);
    assert_eq!(epochs.system_auths(), auths + 1);

    // Revoking certificates and deleting the client: the credentials generation moves, once
    // per transaction.
    let mut tx = store.write().await.unwrap();
    tx.revoke_certificates_of(tenant, CertificatesOf::Client(client.id), now())
        .await
        .unwrap();
    tx.delete_system_auth(client.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(epochs.credentials(), credentials + 1);
    assert_eq!(epochs.system_auths(), auths + 2);
}

/// Two stores on one PostgreSQL database, as two replicas: what one commits, the other hears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_hears_the_announcements() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let one: Arc<dyn Store> = sextant_store::connect(&db.url).await.unwrap();
    let other: Arc<dyn Store> = sextant_store::connect(&db.url).await.unwrap();
    let theirs = other.config_epochs().clone();
    // The listener is up once it heard a first change of an epoch.
    let tenant = TenantId(Uuid::new_v4());
    let started = Instant::now();
    loop {
        let mut tx = one.write().await.unwrap();
        tx.bump_config_epoch(tenant).await.unwrap();
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if theirs.current(tenant) > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no epoch heard"
        );
    }
    let (auths, credentials) = (theirs.system_auths(), theirs.credentials());
    let app = application(tenant);
    let client = client_of(&app);
    let mut tx = one.write().await.unwrap();
    tx.insert_application(&app).await.unwrap();
    tx.insert_system_auth(&client).await.unwrap();
    tx.commit().await.unwrap();
    heard("a client made", || theirs.system_auths() > auths).await;
    let mut tx = one.write().await.unwrap();
    tx.delete_system_auth(client.id).await.unwrap();
    tx.commit().await.unwrap();
    heard("a client deleted", || theirs.credentials() > credentials).await;
}

on_both_backends!(a_commit_announces_clients_and_revocations);
