//! What servers record of runtimes' agents, on SQLite and PostgreSQL: batches from several
//! servers merge (the later time and epoch win, whatever order they are written in), fetch
//! counts add up, and pruning takes old counts and the rows of deleted runtimes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sextant_domain::{Runtime, RuntimeId, RuntimeStatusCondition, TenantId};
use sextant_store::{AgentSighting, FetchCount};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

async fn sightings_merge_and_counts_add_up(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = sextant_store::connect(&db.url).await.unwrap();
    let tenant = TenantId(uuid::Uuid::new_v4());
    let runtime = Runtime {
        id: RuntimeId::new_v4(),
        tenant,
        name: sextant_domain::Name::parse("rt".to_owned()).unwrap(),
        description: None,
        status_condition: RuntimeStatusCondition::Initial,
        status_timestamp: now(),
        status_message: None,
        created_at: now(),
    };
    let mut tx = store.write().await.unwrap();
    tx.insert_runtime(&runtime).await.unwrap();
    let epoch = tx.bump_config_epoch(tenant).await.unwrap();
    tx.commit().await.unwrap();

    let later = now();
    let earlier = later - Duration::seconds(30);
    let minute = OffsetDateTime::from_unix_timestamp(later.unix_timestamp() / 60 * 60).unwrap();
    // The later sighting first, then a replica's earlier one with an older epoch.
    for (seen, at_epoch) in [(later, epoch), (earlier, epoch - 1)] {
        let mut tx = store.write().await.unwrap();
        let before = store.statements().get();
        tx.record_agent_sightings(&[AgentSighting {
            tenant,
            runtime: runtime.id,
            last_seen: seen,
            configuration_epoch: at_epoch,
        }])
        .await
        .unwrap();
        tx.record_fetch_counts(&[FetchCount {
            tenant,
            minute,
            fetches: 3,
        }])
        .await
        .unwrap();
        assert_eq!(store.statements().get() - before, 2, "one statement each");
        tx.commit().await.unwrap();
    }
    let mut tx = store.read().await.unwrap();
    let recorded = tx.recorded_agents(tenant, &[runtime.id]).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].last_seen, later, "the later time stays");
    assert_eq!(recorded[0].configuration_epoch, epoch);
    assert_eq!(recorded[0].tenant_epoch, epoch);
    assert_eq!(
        tx.fetch_counts(tenant, minute - Duration::minutes(1))
            .await
            .unwrap(),
        vec![(minute, 6)]
    );
    // Another tenant sees nothing of it.
    let other = TenantId(uuid::Uuid::new_v4());
    assert!(
        tx.recorded_agents(other, &[runtime.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.fetch_counts(other, minute).await.unwrap().is_empty());
    drop(tx);

    // Pruning: counts before the cut, and the rows of a deleted runtime.
    let mut tx = store.write().await.unwrap();
    assert!(tx.delete_runtime(tenant, runtime.id).await.unwrap());
    let pruned = tx
        .prune_agent_records(minute + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    assert!(
        tx.recorded_agents(tenant, &[runtime.id])
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_backends!(sightings_merge_and_counts_add_up);
