//! The Provisioner's records on SQLite and PostgreSQL: one operation in progress per runtime
//! (however many try at once), leases taken over only once they ran out, progress recorded
//! only by the lease holder, and tenants kept apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use sextant_domain::TenantId;
use sextant_domain::provisioning::{Operation, OperationKind, OperationState, ProvisionedRuntime};
use sextant_domain::{OperationId, RuntimeId};
use sextant_store::{Lease, Store, StoreError};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn operation(tenant: TenantId, runtime: Uuid) -> Operation {
    Operation {
        id: OperationId::new_v4(),
        tenant,
        runtime_id: RuntimeId::from_untyped(runtime),
        kind: OperationKind::Provision,
        state: OperationState::InProgress,
        stage: "ConnectRuntimeAgent".into(),
        message: "Provisioning started".into(),
        input: json!({"a": 1}),
        started_at: now(),
        finished_at: None,
    }
}

async fn operations(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store: Arc<dyn Store> = sextant_store::connect(&db.url).await.unwrap();
    let tenant = TenantId(Uuid::new_v4());
    let runtime = Uuid::new_v4();
    let (me, other) = (Uuid::new_v4(), Uuid::new_v4());

    // Ten concurrent starts on one runtime: exactly one is recorded.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.write().await?;
            tx.insert_operation(
                &operation(tenant, runtime),
                Some(Lease {
                    owner: me,
                    expires_at: now() + Duration::seconds(30),
                }),
            )
            .await?;
            tx.commit().await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::NotUnique) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
    let mut tx = store.read().await.unwrap();
    let mut op = tx
        .last_operation(tenant, RuntimeId::from_untyped(runtime))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op.input, json!({"a": 1}));
    assert_eq!(
        tx.operation(tenant, op.id).await.unwrap().as_ref(),
        Some(&op)
    );
    // Another tenant sees nothing.
    let stranger = TenantId(Uuid::new_v4());
    assert!(tx.operation(stranger, op.id).await.unwrap().is_none());
    assert!(
        tx.last_operation(stranger, RuntimeId::from_untyped(runtime))
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);

    // The lease holder renews; another server gets nothing until the lease ran out.
    let mut tx = store.write().await.unwrap();
    assert_eq!(
        tx.claim_operations(me, now(), now() + Duration::seconds(30))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        tx.claim_operations(other, now(), now() + Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    // Only the holder records progress.
    op.stage = "WaitForAgentToConnect".into();
    assert!(!tx.update_operation(&op, other).await.unwrap());
    assert!(tx.update_operation(&op, me).await.unwrap());
    // Once the lease ran out (time moved on), another server takes it over, and the first
    // one can no longer record anything.
    let later = now() + Duration::seconds(60);
    let taken = tx
        .claim_operations(other, later, later + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].stage, "WaitForAgentToConnect");
    assert!(!tx.update_operation(&op, me).await.unwrap());
    op.state = OperationState::Succeeded;
    op.finished_at = Some(now());
    assert!(tx.update_operation(&op, other).await.unwrap());
    // Finished: a new operation may start; finished ones are not claimed.
    assert!(
        tx.claim_operations(other, later, later)
            .await
            .unwrap()
            .is_empty()
    );
    tx.insert_operation(&operation(tenant, runtime), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Provisioned runtimes: upsert, tenant-scoped reads, delete.
    let mut tx = store.write().await.unwrap();
    let mut rt = ProvisionedRuntime {
        runtime_id: RuntimeId::from_untyped(runtime),
        tenant,
        provider: "local".into(),
        config: json!({"dir": "/x"}),
        created_at: now(),
    };
    tx.put_provisioned_runtime(&rt).await.unwrap();
    rt.config = json!({"dir": "/y"});
    tx.put_provisioned_runtime(&rt).await.unwrap();
    assert_eq!(
        tx.provisioned_runtime(tenant, RuntimeId::from_untyped(runtime))
            .await
            .unwrap(),
        Some(rt.clone())
    );
    assert!(
        tx.provisioned_runtime(stranger, RuntimeId::from_untyped(runtime))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !tx.delete_provisioned_runtime(stranger, RuntimeId::from_untyped(runtime))
            .await
            .unwrap()
    );
    assert_eq!(tx.all_provisioned_runtimes().await.unwrap(), vec![rt]);
    assert!(
        tx.delete_provisioned_runtime(tenant, RuntimeId::from_untyped(runtime))
            .await
            .unwrap()
    );
    // cleanup removes finished operations only.
    assert_eq!(
        tx.delete_finished_operations(tenant, RuntimeId::from_untyped(runtime))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.last_operation(tenant, RuntimeId::from_untyped(runtime))
            .await
            .unwrap()
            .unwrap()
            .state,
        OperationState::InProgress
    );
    tx.commit().await.unwrap();
}

on_both_backends!(operations);
