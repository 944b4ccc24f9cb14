//! One-time tokens in the store, on SQLite and PostgreSQL: a token is redeemed once, however
//! many try at the same moment; expired tokens redeem nothing; tokens go with their system
//! auth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, OneTimeToken, OneTimeTokenKind,
    SystemAuth, SystemAuthId, SystemAuthOwner, TenantId,
};
use sextant_store::Store;
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const ALL_KINDS: [OneTimeTokenKind; 3] = [
    OneTimeTokenKind::Application,
    OneTimeTokenKind::Runtime,
    OneTimeTokenKind::Csr,
];

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

/// An application with a secretless system auth (as a token request makes one).
async fn client(store: &Arc<dyn Store>, tenant: TenantId) -> (ApplicationId, SystemAuthId) {
    let app = Application {
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
    };
    let auth = SystemAuth {
        id: SystemAuthId::new_v4(),
        tenant: Some(tenant),
        owner: SystemAuthOwner::Application(app.id),
        secret_hash: None,
        created_at: now(),
    };
    let mut tx = store.write().await.unwrap();
    tx.insert_application(&app).await.unwrap();
    tx.insert_system_auth(&auth).await.unwrap();
    tx.commit().await.unwrap();
    (app.id, auth.id)
}

async fn store_token(store: &Arc<dyn Store>, token: &OneTimeToken) {
    let mut tx = store.write().await.unwrap();
    tx.insert_one_time_token(token).await.unwrap();
    tx.commit().await.unwrap();
}

async fn redeem(store: &Arc<dyn Store>, hash: &[u8]) -> Option<OneTimeToken> {
    let mut tx = store.write().await.unwrap();
    let token = tx
        .redeem_one_time_token(hash, &ALL_KINDS, now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    token
}

fn token(
    client_id: SystemAuthId,
    tenant: TenantId,
    kind: OneTimeTokenKind,
    ttl: Duration,
) -> OneTimeToken {
    OneTimeToken {
        hash: sextant_auth::secret_hash(&Uuid::new_v4().to_string()),
        kind,
        client_id,
        tenant,
        created_at: now(),
        expires_at: now() + ttl,
        parent_serial: None,
    }
}

async fn fifty_concurrent_redemptions_one_wins(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (_, client_id) = client(&f.store, tenant).await;
    let stored = token(
        client_id,
        tenant,
        OneTimeTokenKind::Application,
        Duration::minutes(5),
    );
    store_token(&f.store, &stored).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = f.store.clone();
            let hash = stored.hash.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                redeem(&store, &hash).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(t) = task.await.unwrap() {
            winners.push(t);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one redemption succeeds");
    assert_eq!(winners[0], stored);
    assert!(redeem(&f.store, &stored.hash).await.is_none(), "used up");
}

async fn expired_tokens_redeem_nothing_and_are_purged(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (_, client_id) = client(&f.store, tenant).await;
    let expired = token(
        client_id,
        tenant,
        OneTimeTokenKind::Runtime,
        Duration::seconds(-1),
    );
    store_token(&f.store, &expired).await;
    assert!(redeem(&f.store, &expired.hash).await.is_none());

    let old = token(
        client_id,
        tenant,
        OneTimeTokenKind::Csr,
        Duration::seconds(-1),
    );
    let live = token(
        client_id,
        tenant,
        OneTimeTokenKind::Csr,
        Duration::minutes(5),
    );
    store_token(&f.store, &old).await;
    store_token(&f.store, &live).await;
    let mut tx = f.store.write().await.unwrap();
    assert_eq!(tx.purge_expired_tokens(now()).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(
        redeem(&f.store, &live.hash).await.unwrap().kind,
        OneTimeTokenKind::Csr
    );
    // A token of another kind is neither redeemed nor used up.
    let csr = token(
        client_id,
        tenant,
        OneTimeTokenKind::Csr,
        Duration::minutes(5),
    );
    store_token(&f.store, &csr).await;
    let mut tx = f.store.write().await.unwrap();
    let pairing = [OneTimeTokenKind::Application, OneTimeTokenKind::Runtime];
    assert!(
        tx.redeem_one_time_token(&csr.hash, &pairing, now())
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        redeem(&f.store, &csr.hash).await.unwrap().kind,
        OneTimeTokenKind::Csr
    );
    // An unknown token.
    assert!(
        redeem(&f.store, &sextant_auth::secret_hash("nope"))
            .await
            .is_none()
    );
}

async fn tokens_go_with_their_system_auth_and_owner(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (_, client_id) = client(&f.store, tenant).await;
    let first = token(
        client_id,
        tenant,
        OneTimeTokenKind::Application,
        Duration::minutes(5),
    );
    store_token(&f.store, &first).await;
    let mut tx = f.store.write().await.unwrap();
    tx.delete_system_auth(client_id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(redeem(&f.store, &first.hash).await.is_none());

    let (_, client_id) = client(&f.store, tenant).await;
    let second = token(
        client_id,
        tenant,
        OneTimeTokenKind::Application,
        Duration::minutes(5),
    );
    store_token(&f.store, &second).await;
    // Deleting the owner (the second client's application) takes its auths and tokens.
    let owner = {
        let mut tx = f.store.read().await.unwrap();
        tx.system_auth(client_id).await.unwrap().unwrap().owner.id()
    };
    let mut tx = f.store.write().await.unwrap();
    assert!(
        tx.delete_application(tenant, ApplicationId::from_untyped(owner))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(redeem(&f.store, &second.hash).await.is_none());

    // A token for a missing system auth is refused.
    let orphan = token(
        SystemAuthId::new_v4(),
        tenant,
        OneTimeTokenKind::Runtime,
        Duration::minutes(5),
    );
    let mut tx = f.store.write().await.unwrap();
    assert!(tx.insert_one_time_token(&orphan).await.is_err());
}

async fn live(store: &Arc<dyn Store>, hash: &[u8]) -> bool {
    let mut tx = store.read().await.unwrap();
    tx.one_time_token_live(hash, now()).await.unwrap()
}

async fn liveness_is_checked_without_using_the_token_up(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (_, client_id) = client(&f.store, tenant).await;
    let stored = token(
        client_id,
        tenant,
        OneTimeTokenKind::Csr,
        Duration::minutes(5),
    );
    let expired = token(
        client_id,
        tenant,
        OneTimeTokenKind::Application,
        Duration::seconds(-1),
    );
    store_token(&f.store, &stored).await;
    store_token(&f.store, &expired).await;
    assert!(live(&f.store, &stored.hash).await);
    assert!(
        live(&f.store, &stored.hash).await,
        "checking uses nothing up"
    );
    assert!(!live(&f.store, &expired.hash).await);
    assert!(!live(&f.store, &sextant_auth::secret_hash("nope")).await);
    assert_eq!(redeem(&f.store, &stored.hash).await, Some(stored.clone()));
    assert!(
        !live(&f.store, &stored.hash).await,
        "a redeemed token is gone"
    );
}

async fn state(
    store: &Arc<dyn Store>,
    tenant: TenantId,
    client: SystemAuthId,
) -> Option<sextant_store::PairingTokenState> {
    let mut tx = store.read().await.unwrap();
    tx.pairing_token_state(tenant, client).await.unwrap()
}

async fn a_pairing_token_keeps_when_it_was_used(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (app, client_id) = client(&f.store, tenant).await;
    let pairing = token(
        client_id,
        tenant,
        OneTimeTokenKind::Application,
        Duration::minutes(5),
    );
    store_token(&f.store, &pairing).await;
    // A CSR token of the same client says nothing about the pairing token's expiry.
    store_token(
        &f.store,
        &token(client_id, tenant, OneTimeTokenKind::Csr, Duration::hours(1)),
    )
    .await;

    let unused = state(&f.store, tenant, client_id).await.unwrap();
    assert_eq!(unused.owner, SystemAuthOwner::Application(app));
    assert_eq!(unused.expires_at, Some(pairing.expires_at));
    assert_eq!(unused.used_at, None);
    // Another tenant sees nothing.
    assert_eq!(
        state(&f.store, TenantId(Uuid::new_v4()), client_id).await,
        None
    );

    let used_at = now();
    let mut tx = f.store.write().await.unwrap();
    tx.redeem_one_time_token(&pairing.hash, &[OneTimeTokenKind::Application], used_at)
        .await
        .unwrap()
        .unwrap();
    tx.record_token_used(client_id, used_at).await.unwrap();
    tx.commit().await.unwrap();
    // The first use is kept.
    let mut tx = f.store.write().await.unwrap();
    tx.record_token_used(client_id, used_at + Duration::minutes(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let used = state(&f.store, tenant, client_id).await.unwrap();
    assert_eq!(used.used_at, Some(used_at));
    assert_eq!(used.expires_at, None);
}

async fn clients_with_a_secret_have_no_pairing_token(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let (app, _) = client(&f.store, tenant).await;
    let oauth = SystemAuth {
        id: SystemAuthId::new_v4(),
        tenant: Some(tenant),
        owner: SystemAuthOwner::Application(app),
        secret_hash: Some(vec![1; 32]),
        created_at: now(),
    };
    let mut tx = f.store.write().await.unwrap();
    tx.insert_system_auth(&oauth).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state(&f.store, tenant, oauth.id).await, None);
    assert_eq!(state(&f.store, tenant, SystemAuthId::new_v4()).await, None);
}

// Fifty redemptions race on four threads.
on_both_backends!(
    workers = 4;
    fifty_concurrent_redemptions_one_wins,
    expired_tokens_redeem_nothing_and_are_purged,
    tokens_go_with_their_system_auth_and_owner,
    liveness_is_checked_without_using_the_token_up,
    a_pairing_token_keeps_when_it_was_used,
    clients_with_a_secret_have_no_pairing_token
);
