//! Specs stored once by content, on SQLite and PostgreSQL: definitions with the same text
//! share one row of `specs` (across applications and tenants), a spec goes with the last
//! definition naming it (deleted, replaced, or deleted with its application), usage is summed
//! per application and tenant, many definitions are written in the few statements the bind
//! parameter limit allows, and texts an older version kept in the definitions' rows are
//! moved into `specs` when the store opens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sextant_domain::{
    ApiDefinition, ApiSpec, ApiSpecType, Application, ApplicationStatusCondition, EventDefinition,
    EventSpec, EventSpecType, PageRequest, SpecFormat, TenantId,
};
use sextant_domain::{ApiDefinitionId, ApplicationId, EventDefinitionId};
use sextant_store::{SpecTexts, Store, spec_sha256};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::OffsetDateTime;
use uuid::Uuid;

struct Fixture {
    store: Arc<dyn Store>,
    db: TestDatabase,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDatabase::create(backend).await;
    let store = sextant_store::connect(&db.url).await.unwrap();
    Fixture { store, db }
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

async fn application(store: &Arc<dyn Store>, tenant: TenantId) -> Uuid {
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
    let mut tx = store.write().await.unwrap();
    tx.insert_application(&app).await.unwrap();
    tx.commit().await.unwrap();
    app.id.into_untyped()
}

fn api(tenant: TenantId, app: Uuid, data: &str) -> ApiDefinition {
    ApiDefinition {
        id: ApiDefinitionId::new_v4(),
        tenant,
        application_id: ApplicationId::from_untyped(app),
        name: sextant_domain::Name::parse("api").unwrap(),
        description: None,
        target_url: "https://example.com".into(),
        group: None,
        spec: Some(ApiSpec {
            data: Some(data.to_owned()),
            digest: None,
            format: SpecFormat::Yaml,
            spec_type: ApiSpecType::OpenApi,
            fetch_request: None,
        }),
        version: None,
        default_auth: None,
        created_at: now(),
    }
}

fn event(tenant: TenantId, app: Uuid, data: &str) -> EventDefinition {
    EventDefinition {
        id: EventDefinitionId::new_v4(),
        tenant,
        application_id: ApplicationId::from_untyped(app),
        name: sextant_domain::Name::parse("events").unwrap(),
        description: None,
        group: None,
        spec: EventSpec {
            data: Some(data.to_owned()),
            digest: None,
            format: SpecFormat::Yaml,
            spec_type: EventSpecType::AsyncApi,
            fetch_request: None,
        },
        version: None,
        created_at: now(),
    }
}

async fn stored(store: &Arc<dyn Store>, data: &str) -> bool {
    let mut tx = store.read().await.unwrap();
    match tx.spec(&spec_sha256(data)).await.unwrap() {
        Some(text) => {
            assert_eq!(text, data);
            true
        }
        None => false,
    }
}

async fn shared_specs_are_stored_once_and_go_with_their_last_reference(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let (a, b) = (TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4()));
    let (app_a, app_b) = (application(store, a).await, application(store, b).await);
    let shared = "openapi: 3.0.0 # shared";
    let own = "openapi: 3.0.0 # own";

    let first = api(a, app_a, shared);
    let second = api(b, app_b, shared);
    let third = event(a, app_a, shared);
    let mut tx = store.write().await.unwrap();
    tx.insert_api_definition(&first).await.unwrap();
    tx.insert_api_definition(&second).await.unwrap();
    tx.insert_event_definition(&third).await.unwrap();
    tx.commit().await.unwrap();
    assert!(stored(store, shared).await);

    // Read back with its text and digest.
    let mut tx = store.read().await.unwrap();
    let read = tx.api_definition(a, first.id).await.unwrap().unwrap();
    let spec = read.spec.unwrap();
    assert_eq!(spec.data.as_deref(), Some(shared));
    let digest = spec.digest.unwrap();
    assert_eq!(digest.sha256, spec_sha256(shared));
    assert_eq!(digest.size, shared.len() as u64);
    drop(tx);

    // Deleting one reference keeps the spec for the others.
    let mut tx = store.write().await.unwrap();
    assert!(tx.delete_api_definition(a, first.id).await.unwrap());
    tx.commit().await.unwrap();
    assert!(stored(store, shared).await);

    // Replacing the spec of another keeps it for the event.
    let mut replaced = second.clone();
    replaced.spec.as_mut().unwrap().data = Some(own.to_owned());
    let mut tx = store.write().await.unwrap();
    assert!(tx.update_api_definition(&replaced).await.unwrap());
    tx.commit().await.unwrap();
    assert!(stored(store, shared).await);
    assert!(stored(store, own).await);

    // The last reference goes with its application: the spec goes too.
    let mut tx = store.write().await.unwrap();
    assert!(
        tx.delete_application(a, ApplicationId::from_untyped(app_a))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(!stored(store, shared).await);
    assert!(stored(store, own).await);

    // Replaced by no spec at all.
    let mut none = replaced.clone();
    none.spec = None;
    let mut tx = store.write().await.unwrap();
    assert!(tx.update_api_definition(&none).await.unwrap());
    tx.commit().await.unwrap();
    assert!(!stored(store, own).await);
}

async fn a_rolled_back_write_leaves_no_spec(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let t = TenantId(Uuid::new_v4());
    let app = application(store, t).await;
    let data = "openapi: 3.0.0 # rolled back";
    let mut tx = store.write().await.unwrap();
    tx.insert_api_definition(&api(t, app, data)).await.unwrap();
    drop(tx);
    assert!(!stored(store, data).await);
}

async fn usage_is_summed_per_application_and_tenant(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let (t, other) = (TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4()));
    let (one, two) = (application(store, t).await, application(store, t).await);
    let elsewhere = application(store, other).await;
    let mut tx = store.write().await.unwrap();
    // The same text twice counts twice: quotas count every definition's spec.
    tx.insert_api_definition(&api(t, one, &"a".repeat(100)))
        .await
        .unwrap();
    tx.insert_api_definition(&api(t, one, &"a".repeat(100)))
        .await
        .unwrap();
    tx.insert_event_definition(&event(t, one, &"b".repeat(10)))
        .await
        .unwrap();
    tx.insert_api_definition(&api(t, two, &"c".repeat(1000)))
        .await
        .unwrap();
    tx.insert_api_definition(&api(other, elsewhere, &"d".repeat(5000)))
        .await
        .unwrap();
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(one))
        .await
        .unwrap();
    assert_eq!(usage.application, 210);
    assert_eq!(usage.tenant, 1210);
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(two))
        .await
        .unwrap();
    assert_eq!(usage.application, 1000);
    let usage = tx
        .spec_usage(other, ApplicationId::from_untyped(elsewhere))
        .await
        .unwrap();
    assert_eq!((usage.application, usage.tenant), (5000, 5000));
    tx.commit().await.unwrap();

    // The tenant's usage is a counter kept with the definitions: it follows deletions, also
    // of definitions deleted with their application.
    let mut tx = store.write().await.unwrap();
    assert!(
        tx.delete_application(t, ApplicationId::from_untyped(one))
            .await
            .unwrap()
    );
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(two))
        .await
        .unwrap();
    assert_eq!((usage.application, usage.tenant), (1000, 1000));
    tx.commit().await.unwrap();
    let mut tx = store.write().await.unwrap();
    assert!(
        tx.delete_application(t, ApplicationId::from_untyped(two))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.spec_usage(t, ApplicationId::from_untyped(two))
            .await
            .unwrap()
            .tenant,
        0
    );
    assert_eq!(
        tx.spec_usage(other, ApplicationId::from_untyped(elsewhere))
            .await
            .unwrap()
            .tenant,
        5000
    );
    tx.commit().await.unwrap();
}

/// Definitions written set-wise: thousands in one call take the statements that the bind
/// parameter limit requires (SQLite's 32,766), each distinct text is stored once (also one
/// stored before, and one named by an API and an event), and the usage counter is exact.
async fn many_definitions_are_written_in_few_statements(backend: Backend) {
    use sextant_store::MAX_BIND_PARAMETERS;
    let f = fixture(backend).await;
    let store = &f.store;
    let t = TenantId(Uuid::new_v4());
    let app = application(store, t).await;
    let earlier = "openapi: 3.0.0 # stored before";
    let mut tx = store.write().await.unwrap();
    tx.insert_api_definition(&api(t, app, earlier))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    const APIS: usize = 2_300;
    const EVENTS: usize = 11_000;
    // API `i` names text `i / 2`; the first names the text stored before; event `i` names
    // text `i`, so the events repeat the APIs' texts.
    let text = |i: usize| format!("spec {i}");
    let mut apis: Vec<ApiDefinition> = (0..APIS).map(|i| api(t, app, &text(i / 2))).collect();
    apis[0] = api(t, app, earlier);
    let events: Vec<EventDefinition> = (0..EVENTS).map(|i| event(t, app, &text(i))).collect();
    // The events' texts (the APIs' are among them) and `earlier`.
    let distinct = EVENTS + 1;
    let chunks = |rows: usize, binds: usize| rows.div_ceil(MAX_BIND_PARAMETERS / binds);
    let expected = chunks(distinct, 3) + chunks(APIS, 15) + chunks(EVENTS, 13);

    let before = store.statements().get();
    let mut tx = store.write().await.unwrap();
    tx.insert_definitions(&apis, &events).await.unwrap();
    let sizes: u64 = apis
        .iter()
        .map(|a| a.spec.as_ref().unwrap().data.as_ref().unwrap().len() as u64)
        .chain(
            events
                .iter()
                .map(|e| e.spec.data.as_ref().unwrap().len() as u64),
        )
        .sum::<u64>()
        + earlier.len() as u64;
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(app))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let spent = store.statements().get() - before;
    // The usage read costs one statement, and on PostgreSQL one more for its lock.
    let usage_read = if backend == Backend::Postgres { 2 } else { 1 };
    assert_eq!(
        spent - usage_read,
        expected as u64,
        "statements of the write"
    );
    assert_eq!((usage.application, usage.tenant), (sizes, sizes));

    assert!(stored(store, earlier).await);
    assert!(stored(store, &text(0)).await);
    assert!(stored(store, &text(EVENTS - 1)).await);
    // Pages carry digests, and texts only when asked, for the same statements.
    let app_id = ApplicationId::from_untyped(app);
    let page = PageRequest {
        first: 100,
        after: None,
    };
    let mut tx = store.read().await.unwrap();
    let before = store.statements().get();
    let omitted = tx
        .api_definitions(t, &[app_id], None, &page, SpecTexts::Omit)
        .await
        .unwrap();
    let page_statements = store.statements().get() - before;
    assert_eq!(omitted[&app_id].total_count, APIS as i64 + 1);
    assert_eq!(omitted[&app_id].items.len(), 100);
    for a in &omitted[&app_id].items {
        let spec = a.spec.as_ref().unwrap();
        assert_eq!(spec.data, None);
        assert!(spec.digest.is_some());
    }
    let before = store.statements().get();
    let included = tx
        .api_definitions(t, &[app_id], None, &page, SpecTexts::Include)
        .await
        .unwrap();
    assert_eq!(store.statements().get() - before, page_statements);
    let written: std::collections::HashMap<_, _> = apis.iter().map(|a| (a.id, a)).collect();
    for a in &included[&app_id].items {
        let spec = a.spec.as_ref().unwrap();
        let text = match written.get(&a.id) {
            Some(w) => w.spec.as_ref().unwrap().data.clone(),
            None => Some(earlier.to_owned()),
        };
        assert_eq!(spec.data, text, "text of {}", a.id);
        assert_eq!(
            spec.digest.as_ref().unwrap().sha256,
            spec_sha256(text.as_deref().unwrap())
        );
    }
    let before = store.statements().get();
    let events_read = tx
        .event_definitions(t, &[app_id], None, &page, SpecTexts::Include)
        .await
        .unwrap();
    assert_eq!(store.statements().get() - before, page_statements);
    assert_eq!(events_read[&app_id].total_count, EVENTS as i64);
    let written: std::collections::HashMap<_, _> = events.iter().map(|e| (e.id, e)).collect();
    for e in &events_read[&app_id].items {
        assert_eq!(e.spec.data, written[&e.id].spec.data, "text of {}", e.id);
    }
    drop(tx);

    // Deleting the application takes every text and gives every byte back.
    let mut tx = store.write().await.unwrap();
    assert!(
        tx.delete_application(t, ApplicationId::from_untyped(app))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.spec_usage(t, ApplicationId::from_untyped(app))
            .await
            .unwrap()
            .tenant,
        0
    );
    tx.commit().await.unwrap();
    assert!(!stored(store, earlier).await);
    assert!(!stored(store, &text(EVENTS - 1)).await);
}

/// A set-wise write naming a stored spec holds its row: a concurrent removal of the spec's
/// last other reference waits for the write, then leaves the spec in place (on PostgreSQL
/// its delete is refused by the new reference; SQLite serializes the writers).
async fn a_spec_named_again_survives_a_concurrent_removal_of_its_last_reference(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let t = TenantId(Uuid::new_v4());
    let (one, two) = (application(store, t).await, application(store, t).await);
    let data = "openapi: 3.0.0 # named again";
    let first = api(t, one, data);
    let mut tx = store.write().await.unwrap();
    tx.insert_api_definition(&first).await.unwrap();
    tx.commit().await.unwrap();

    let mut naming = store.write().await.unwrap();
    naming
        .insert_definitions(
            &[api(t, two, data), api(t, two, "openapi: 3.0.0 # new")],
            &[event(t, two, data)],
        )
        .await
        .unwrap();
    let remover = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.write().await.unwrap();
            assert!(tx.delete_api_definition(t, first.id).await.unwrap());
            tx.commit().await.unwrap();
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!remover.is_finished(), "the removal waits for the writer");
    naming.commit().await.unwrap();
    remover.await.unwrap();
    assert!(stored(store, data).await);
    let mut tx = store.read().await.unwrap();
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(two))
        .await
        .unwrap();
    let expected = (2 * data.len() + "openapi: 3.0.0 # new".len()) as u64;
    assert_eq!((usage.application, usage.tenant), (expected, expected));
}

async fn definitions_for_documents_carry_digests_without_text(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.store;
    let t = TenantId(Uuid::new_v4());
    let app = application(store, t).await;
    let data = "asyncapi: 2.0.0 # digest only";
    let mut tx = store.write().await.unwrap();
    let a = api(t, app, data);
    let e = event(t, app, data);
    tx.insert_api_definition(&a).await.unwrap();
    tx.insert_event_definition(&e).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let (apis, events) = tx
        .definitions_without_spec_data(t, &[ApplicationId::from_untyped(app)], &PageRequest::all())
        .await
        .unwrap();
    let api_spec = apis[&ApplicationId::from_untyped(app)].items[0]
        .spec
        .clone()
        .unwrap();
    assert_eq!(api_spec.data, None);
    assert_eq!(api_spec.digest.unwrap().sha256, spec_sha256(data));
    let event_spec = events[&ApplicationId::from_untyped(app)].items[0]
        .spec
        .clone();
    assert_eq!(event_spec.data, None);
    assert_eq!(event_spec.digest.unwrap().size, data.len() as u64);
}

/// A database written by the version before content-addressed specs: texts in
/// `spec_data`. Opening the store moves them; nothing is lost.
async fn texts_of_an_older_version_are_moved_when_the_store_opens(backend: Backend) {
    let f = fixture(backend).await;
    let t = TenantId(Uuid::new_v4());
    let app = application(&f.store, t).await;
    let (api_id, event_id) = (Uuid::new_v4(), Uuid::new_v4());
    let data = "openapi: 3.0.0 # written by an older version";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&f.db.url).await.unwrap();
            legacy_rows_sqlite(&pool, t, app, api_id, event_id, data).await;
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&f.db.url).await.unwrap();
            legacy_rows_pg(&pool, t, app, api_id, event_id, data).await;
            pool.close().await;
        }
    }
    let reopened = sextant_store::connect(&f.db.url).await.unwrap();
    let mut tx = reopened.read().await.unwrap();
    let read = tx
        .api_definition(t, ApiDefinitionId::from_untyped(api_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.spec.unwrap().data.as_deref(), Some(data));
    let read = tx
        .event_definition(t, EventDefinitionId::from_untyped(event_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.spec.data.as_deref(), Some(data));
    assert_eq!(
        tx.spec(&spec_sha256(data)).await.unwrap().as_deref(),
        Some(data)
    );
    let usage = tx
        .spec_usage(t, ApplicationId::from_untyped(app))
        .await
        .unwrap();
    assert_eq!(usage.application, 2 * data.len() as u64);
}

const LEGACY_API: &str = "INSERT INTO api_definitions (id, tenant_id, app_id, name, target_url, \
     spec_data, spec_format, spec_type, created_at) \
     VALUES ($1, $2, $3, 'old', 'https://example.com', $4, 'YAML', 'OPEN_API', 0)";
const LEGACY_EVENT: &str = "INSERT INTO event_definitions (id, tenant_id, app_id, name, \
     spec_data, spec_format, spec_type, created_at) \
     VALUES ($1, $2, $3, 'old', $4, 'YAML', 'ASYNC_API', 0)";

async fn legacy_rows_sqlite(
    pool: &sqlx::SqlitePool,
    t: TenantId,
    app: Uuid,
    api_id: Uuid,
    event_id: Uuid,
    data: &str,
) {
    for (statement, id) in [(LEGACY_API, api_id), (LEGACY_EVENT, event_id)] {
        sqlx::query(statement)
            .bind(id)
            .bind(t.0)
            .bind(app)
            .bind(data)
            .execute(pool)
            .await
            .unwrap();
    }
}

async fn legacy_rows_pg(
    pool: &sqlx::PgPool,
    t: TenantId,
    app: Uuid,
    api_id: Uuid,
    event_id: Uuid,
    data: &str,
) {
    for (statement, id) in [(LEGACY_API, api_id), (LEGACY_EVENT, event_id)] {
        sqlx::query(statement)
            .bind(id)
            .bind(t.0)
            .bind(app)
            .bind(data)
            .execute(pool)
            .await
            .unwrap();
    }
}

on_both_backends!(
    shared_specs_are_stored_once_and_go_with_their_last_reference,
    a_rolled_back_write_leaves_no_spec,
    usage_is_summed_per_application_and_tenant,
    many_definitions_are_written_in_few_statements,
    a_spec_named_again_survives_a_concurrent_removal_of_its_last_reference,
    definitions_for_documents_carry_digests_without_text,
    texts_of_an_older_version_are_moved_when_the_store_opens,
);
