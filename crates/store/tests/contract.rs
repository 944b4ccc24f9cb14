//! The storage contract: one suite of behaviours every backend must show, run against SQLite
//! (a fresh file per test) and a real PostgreSQL server (a fresh database per test).
//!
//! PostgreSQL is reached through `SEXTANT_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); if it cannot be reached the PostgreSQL tests
//! fail, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_domain::label::LabelFilter;
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, ApplicationTemplate, Cursor,
    IntegrationSystem, IntegrationSystemId, LabelDefinition, ObjectKind, ObjectRef, PageRequest,
    Placeholder, Runtime, RuntimeId, RuntimeStatusCondition, TemplateId, TenantId,
};
use sextant_store::{KeyedLabel, Store, StoreError, StoredLabel, Tx};
use sextant_test_support::{Backend, TestDatabase};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

type Db = Arc<dyn Store>;

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

/// A store on a database of its own; the database is removed when the fixture is dropped,
/// also when the test panics.
struct Fixture {
    // Declared first: dropped (pool released) before the database goes away.
    store: Db,
    _db: TestDatabase,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDatabase::create(backend).await;
    let store = sextant_store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open store {}: {e:?}", db.url));
    Fixture { store, _db: db }
}

/// A fresh SQLite database file in a fresh temporary directory.
async fn sqlite_store() -> Fixture {
    fixture(Backend::Sqlite).await
}

/// A fresh PostgreSQL database on the test server.
async fn pg_store() -> Fixture {
    fixture(Backend::Postgres).await
}

/// Expands every contract case into a `#[tokio::test]` on the store a fixture function makes.
macro_rules! contract_tests {
    ($suite:ident, $fixture:ident) => {
        mod $suite {
            contract_tests!(@cases $fixture;
                ping_and_statement_counter,
                application_crud,
                application_name_unique_per_tenant,
                application_integration_system_foreign_key,
                count_applications_of_integration_system,
                runtime_crud,
                runtime_name_unique_per_tenant,
                integration_system_crud,
                integration_system_grants,
                application_template_crud,
                application_templates_per_tenant,
                global_lists_paginate,
                tenant_isolation,
                labels_set_upsert_and_batch_read,
                labels_delete_and_delete_all,
                labels_with_key_over_both_kinds,
                array_string_counts_per_kind,
                labels_cascade_with_their_object,
                label_on_missing_object_is_foreign_key,
                label_definitions_crud,
                label_definition_readable_in_read_transaction,
                ensure_label_definition_concurrent_writers,
                dropped_write_transaction_rolls_back,
                applications_pagination_walks_every_id_once,
                runtimes_pagination_walks_every_id_once,
                filter_exists,
                filter_scenarios_any_of,
                filter_scenarios_any_of_needs_an_array,
                filter_json_containment,
                filter_scalar_containment_of_numbers_and_booleans,
                filters_are_anded,
                filters_with_pagination_count_the_filtered_list,
                filtered_list_costs_constant_statements,
                delivery_attempt_log_keeps_the_newest,
            );
        }
    };
    (@cases $fixture:ident; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = super::$fixture().await;
                super::cases::$case(&fixture.store).await;
            }
        )*
    };
}

contract_tests!(sqlite_suite, sqlite_store);
contract_tests!(postgres_suite, pg_store);

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

async fn write(store: &Db) -> Box<dyn Tx> {
    store.write().await.expect("begin a write transaction")
}

async fn read(store: &Db) -> Box<dyn Tx> {
    store.read().await.expect("begin a read transaction")
}

async fn commit(tx: Box<dyn Tx>) {
    tx.commit().await.expect("commit");
}

fn tenant() -> TenantId {
    TenantId(Uuid::new_v4())
}

/// Times with microsecond precision: what both backends store.
const T0: OffsetDateTime = datetime!(2024-05-06 07:08:09.123456 UTC);
const T1: OffsetDateTime = datetime!(2025-01-02 03:04:05.654321 UTC);

fn app(tenant: TenantId, name: &str) -> Application {
    Application {
        id: ApplicationId::new_v4(),
        tenant,
        name: sextant_domain::Name::parse(name.to_owned()).unwrap(),
        provider_name: "provider".to_owned(),
        description: Some(format!("{name} description")),
        health_check_url: None,
        integration_system_id: None,
        status_condition: ApplicationStatusCondition::Initial,
        status_timestamp: T0,
        created_at: T0,
    }
}

fn runtime(tenant: TenantId, name: &str) -> Runtime {
    Runtime {
        id: RuntimeId::new_v4(),
        tenant,
        name: sextant_domain::Name::parse(name.to_owned()).unwrap(),
        description: None,
        status_condition: RuntimeStatusCondition::Initial,
        status_timestamp: T0,
        status_message: None,
        created_at: T0,
    }
}

/// The tenant that owns the integration systems of [`system`].
const OWNER: TenantId = TenantId::DEFAULT;

fn system(name: &str) -> IntegrationSystem {
    IntegrationSystem {
        id: IntegrationSystemId::new_v4(),
        name: sextant_domain::Name::parse(name.to_owned()).unwrap(),
        description: Some("manages apps".to_owned()),
        owner: OWNER,
    }
}

/// A global template.
fn template(name: &str) -> ApplicationTemplate {
    ApplicationTemplate {
        id: TemplateId::new_v4(),
        tenant: None,
        name: sextant_domain::Name::parse(name.to_owned()).unwrap(),
        description: None,
        application_input: r#"{"name":"{{name}}","providerName":"p"}"#.to_owned(),
        placeholders: vec![Placeholder {
            name: "name".to_owned(),
            description: Some("the name".to_owned()),
        }],
    }
}

fn app_ref(id: ApplicationId) -> ObjectRef {
    ObjectRef::Application(id)
}

fn rt_ref(id: RuntimeId) -> ObjectRef {
    ObjectRef::Runtime(id)
}

fn filter(key: &str, query: Option<&str>) -> LabelFilter {
    LabelFilter::parse(key, query).expect("a valid label filter")
}

fn definition(key: &str, schema: Option<Value>) -> LabelDefinition {
    LabelDefinition {
        key: key.to_owned(),
        schema,
    }
}

fn page<I: Into<Uuid>>(first: u32, after: Option<I>) -> PageRequest {
    PageRequest {
        first,
        after: after.map(|id| Cursor(id.into())),
    }
}

fn untyped<T: Copy + Into<Uuid>>(ids: &[T]) -> Vec<Uuid> {
    ids.iter().map(|id| (*id).into()).collect()
}

fn sorted<T: Ord>(mut ids: Vec<T>) -> Vec<T> {
    ids.sort();
    ids
}

#[track_caller]
fn assert_not_unique<T: Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotUnique) => {}
        other => panic!("expected StoreError::NotUnique, got {other:?}"),
    }
}

#[track_caller]
fn assert_foreign_key<T: Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::ForeignKey) => {}
        other => panic!("expected StoreError::ForeignKey, got {other:?}"),
    }
}

/// Inserts and commits applications named `{prefix}-{i}`; returns their ids.
async fn insert_apps(store: &Db, tenant: TenantId, prefix: &str, n: usize) -> Vec<ApplicationId> {
    let mut tx = write(store).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let a = app(tenant, &format!("{prefix}-{i}"));
        tx.insert_application(&a).await.expect("insert application");
        ids.push(a.id);
    }
    commit(tx).await;
    ids
}

async fn insert_runtimes(store: &Db, tenant: TenantId, prefix: &str, n: usize) -> Vec<RuntimeId> {
    let mut tx = write(store).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = runtime(tenant, &format!("{prefix}-{i}"));
        tx.insert_runtime(&r).await.expect("insert runtime");
        ids.push(r.id);
    }
    commit(tx).await;
    ids
}

/// Labels as tuples, for comparisons with literal lists.
trait LabelRows {
    fn rows(self) -> Vec<(Uuid, String, Value)>;
}

impl LabelRows for Vec<StoredLabel> {
    fn rows(self) -> Vec<(Uuid, String, Value)> {
        self.into_iter()
            .map(|l| (l.object, l.key, l.value))
            .collect()
    }
}

/// Labels with a key as tuples.
trait KeyedRows {
    fn keyed(self) -> Vec<(ObjectRef, Value)>;
}

impl KeyedRows for Vec<KeyedLabel> {
    fn keyed(self) -> Vec<(ObjectRef, Value)> {
        self.into_iter().map(|l| (l.object, l.value)).collect()
    }
}

async fn set_labels(store: &Db, tenant: TenantId, labels: &[(ObjectRef, &str, Value)]) {
    let mut tx = write(store).await;
    for (object, key, value) in labels {
        tx.set_label(tenant, *object, key, value)
            .await
            .unwrap_or_else(|e| panic!("set label {key} on {object:?}: {e:?}"));
    }
    commit(tx).await;
}

/// The ids of the applications a filter list selects (one page of 100), in list order.
async fn app_ids(store: &Db, tenant: TenantId, filters: &[LabelFilter]) -> Vec<ApplicationId> {
    let mut tx = read(store).await;
    let page = tx
        .applications(tenant, filters, &PageRequest::all())
        .await
        .expect("list applications");
    assert_eq!(
        page.total_count,
        page.items.len() as i64,
        "total_count of a single page"
    );
    page.items.into_iter().map(|a| a.id).collect()
}

async fn runtime_ids(store: &Db, tenant: TenantId, filters: &[LabelFilter]) -> Vec<RuntimeId> {
    let mut tx = read(store).await;
    let page = tx
        .runtimes(tenant, filters, &PageRequest::all())
        .await
        .expect("list runtimes");
    assert_eq!(
        page.total_count,
        page.items.len() as i64,
        "total_count of a single page"
    );
    page.items.into_iter().map(|r| r.id).collect()
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

mod cases {
    use super::*;

    pub async fn ping_and_statement_counter(store: &Db) {
        store.ping().await.expect("ping");
        let before = store.statements().get();
        let t = tenant();
        let mut tx = write(store).await;
        tx.insert_application(&app(t, "a")).await.unwrap();
        commit(tx).await;
        let mut tx = read(store).await;
        tx.applications(t, &[], &PageRequest::all()).await.unwrap();
        drop(tx);
        let after = store.statements().get();
        assert!(
            after >= before + 2,
            "statement counter went from {before} to {after}"
        );
        // Reading the labels of several objects is one statement.
        let ids = insert_apps(store, t, "b", 3).await;
        let before = store.statements().get();
        let mut tx = read(store).await;
        tx.labels(t, ObjectKind::Application, &untyped(&ids))
            .await
            .unwrap()
            .rows();
        drop(tx);
        assert_eq!(store.statements().get(), before + 1, "labels() of 3 ids");
    }

    pub async fn application_crud(store: &Db) {
        let t = tenant();
        let is = system("is");
        let mut a = app(t, "app");
        a.health_check_url = Some("https://health.example.com".to_owned());

        let mut tx = write(store).await;
        tx.insert_integration_system(&is).await.unwrap();
        tx.insert_application(&a).await.unwrap();
        // Visible inside the transaction that wrote it.
        assert_eq!(tx.application(t, a.id).await.unwrap(), Some(a.clone()));
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(tx.application(t, a.id).await.unwrap(), Some(a.clone()));
        assert_eq!(
            tx.application(t, ApplicationId::new_v4()).await.unwrap(),
            None
        );
        drop(tx);

        let updated = Application {
            name: sextant_domain::Name::parse("renamed".to_owned()).unwrap(),
            provider_name: "other provider".to_owned(),
            description: None,
            health_check_url: None,
            integration_system_id: Some(is.id),
            status_condition: ApplicationStatusCondition::Ready,
            status_timestamp: T1,
            ..a.clone()
        };
        let mut tx = write(store).await;
        assert!(tx.update_application(&updated).await.unwrap());
        let missing = Application {
            id: ApplicationId::new_v4(),
            ..updated.clone()
        };
        assert!(!tx.update_application(&missing).await.unwrap());
        commit(tx).await;

        let mut tx = read(store).await;
        let got = tx.application(t, a.id).await.unwrap().expect("updated app");
        assert_eq!(got, updated);
        assert_eq!(got.created_at, T0, "update keeps created_at");
        drop(tx);

        let mut tx = write(store).await;
        assert!(tx.delete_application(t, a.id).await.unwrap());
        assert!(!tx.delete_application(t, a.id).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.application(t, a.id).await.unwrap(), None);
        let page = tx.applications(t, &[], &PageRequest::all()).await.unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total_count, 0);
        assert!(!page.has_next_page);
    }

    pub async fn application_name_unique_per_tenant(store: &Db) {
        let (t1, t2) = (tenant(), tenant());
        let first = app(t1, "same");
        let mut tx = write(store).await;
        tx.insert_application(&first).await.unwrap();
        commit(tx).await;

        let mut tx = write(store).await;
        assert_not_unique(tx.insert_application(&app(t1, "same")).await);
        drop(tx);

        // Another tenant may use the name.
        let mut tx = write(store).await;
        tx.insert_application(&app(t2, "same")).await.unwrap();
        commit(tx).await;

        // Renaming onto a taken name is refused too.
        let other = app(t1, "other");
        let mut tx = write(store).await;
        tx.insert_application(&other).await.unwrap();
        commit(tx).await;
        let mut tx = write(store).await;
        let clash = Application {
            name: sextant_domain::Name::parse("same".to_owned()).unwrap(),
            ..other.clone()
        };
        assert_not_unique(tx.update_application(&clash).await);
        drop(tx);

        // The same id twice is refused.
        let mut tx = write(store).await;
        let dup_id = Application {
            name: sextant_domain::Name::parse("fresh".to_owned()).unwrap(),
            ..first.clone()
        };
        assert_not_unique(tx.insert_application(&dup_id).await);
        drop(tx);

        assert_eq!(app_ids(store, t1, &[]).await.len(), 2);
        assert_eq!(app_ids(store, t2, &[]).await.len(), 1);
    }

    pub async fn application_integration_system_foreign_key(store: &Db) {
        let t = tenant();
        let mut orphan = app(t, "orphan");
        orphan.integration_system_id = Some(IntegrationSystemId::new_v4());
        let mut tx = write(store).await;
        assert_foreign_key(tx.insert_application(&orphan).await);
        drop(tx);

        let is = system("is");
        let mut a = app(t, "managed");
        a.integration_system_id = Some(is.id);
        let mut tx = write(store).await;
        tx.insert_integration_system(&is).await.unwrap();
        tx.insert_application(&a).await.unwrap();
        commit(tx).await;

        // Pointing an existing application at a missing system is refused as well.
        let mut tx = write(store).await;
        let dangling = Application {
            integration_system_id: Some(IntegrationSystemId::new_v4()),
            ..a.clone()
        };
        assert_foreign_key(tx.update_application(&dangling).await);
        drop(tx);

        // A referenced integration system cannot be deleted.
        let mut tx = write(store).await;
        assert_foreign_key(tx.delete_integration_system(is.id).await);
        drop(tx);
        let mut tx = read(store).await;
        assert!(tx.integration_system(is.id).await.unwrap().is_some());
        drop(tx);

        // Once unreferenced it can.
        let mut tx = write(store).await;
        assert!(tx.delete_application(t, a.id).await.unwrap());
        assert!(tx.delete_integration_system(is.id).await.unwrap());
        commit(tx).await;
    }

    pub async fn count_applications_of_integration_system(store: &Db) {
        let (t1, t2) = (tenant(), tenant());
        let (is, other) = (system("is"), system("other"));
        let mut tx = write(store).await;
        tx.insert_integration_system(&is).await.unwrap();
        tx.insert_integration_system(&other).await.unwrap();
        for (t, name, sys) in [
            (t1, "a", Some(is.id)),
            (t1, "b", Some(is.id)),
            (t2, "a", Some(is.id)),
            (t2, "b", Some(other.id)),
            (t2, "c", None),
        ] {
            let mut a = app(t, name);
            a.integration_system_id = sys;
            tx.insert_application(&a).await.unwrap();
        }
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(
            tx.count_applications_of_integration_system(is.id)
                .await
                .unwrap(),
            3,
            "counted over every tenant"
        );
        assert_eq!(
            tx.count_applications_of_integration_system(other.id)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            tx.count_applications_of_integration_system(IntegrationSystemId::new_v4())
                .await
                .unwrap(),
            0
        );
    }

    pub async fn runtime_crud(store: &Db) {
        let t = tenant();
        let r = runtime(t, "rt");
        let mut tx = write(store).await;
        tx.insert_runtime(&r).await.unwrap();
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(tx.runtime(t, r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(tx.runtime(t, RuntimeId::new_v4()).await.unwrap(), None);
        drop(tx);

        let updated = Runtime {
            name: sextant_domain::Name::parse("rt2".to_owned()).unwrap(),
            description: Some("desc".to_owned()),
            status_condition: RuntimeStatusCondition::Failed,
            status_timestamp: T1,
            status_message: Some("it failed".to_owned()),
            ..r.clone()
        };
        let mut tx = write(store).await;
        assert!(tx.update_runtime(&updated).await.unwrap());
        assert!(
            !tx.update_runtime(&Runtime {
                id: RuntimeId::new_v4(),
                ..updated.clone()
            })
            .await
            .unwrap()
        );
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.runtime(t, r.id).await.unwrap(), Some(updated));
        drop(tx);

        let mut tx = write(store).await;
        assert!(tx.delete_runtime(t, r.id).await.unwrap());
        assert!(!tx.delete_runtime(t, r.id).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.runtime(t, r.id).await.unwrap(), None);
        let page = tx.runtimes(t, &[], &PageRequest::all()).await.unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total_count, 0);
    }

    pub async fn runtime_name_unique_per_tenant(store: &Db) {
        let (t1, t2) = (tenant(), tenant());
        let mut tx = write(store).await;
        tx.insert_runtime(&runtime(t1, "same")).await.unwrap();
        commit(tx).await;
        let mut tx = write(store).await;
        assert_not_unique(tx.insert_runtime(&runtime(t1, "same")).await);
        drop(tx);
        let mut tx = write(store).await;
        tx.insert_runtime(&runtime(t2, "same")).await.unwrap();
        // Applications and runtimes do not share a namespace.
        tx.insert_application(&app(t1, "same")).await.unwrap();
        commit(tx).await;
        assert_eq!(runtime_ids(store, t1, &[]).await.len(), 1);
        assert_eq!(runtime_ids(store, t2, &[]).await.len(), 1);
    }

    pub async fn integration_system_crud(store: &Db) {
        let s = system("sys");
        let mut tx = write(store).await;
        tx.insert_integration_system(&s).await.unwrap();
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(tx.integration_system(s.id).await.unwrap(), Some(s.clone()));
        assert_eq!(
            tx.integration_system(IntegrationSystemId::new_v4())
                .await
                .unwrap(),
            None
        );
        drop(tx);

        // Names are globally unique.
        let mut tx = write(store).await;
        assert_not_unique(tx.insert_integration_system(&system("sys")).await);
        drop(tx);

        let updated = IntegrationSystem {
            name: sextant_domain::Name::parse("sys2".to_owned()).unwrap(),
            description: None,
            ..s.clone()
        };
        let mut tx = write(store).await;
        assert!(tx.update_integration_system(&updated).await.unwrap());
        assert!(
            !tx.update_integration_system(&system("ghost"))
                .await
                .unwrap()
        );
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.integration_system(s.id).await.unwrap(), Some(updated));
        drop(tx);

        let mut tx = write(store).await;
        assert!(tx.delete_integration_system(s.id).await.unwrap());
        assert!(!tx.delete_integration_system(s.id).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.integration_system(s.id).await.unwrap(), None);
        let page = tx
            .integration_systems(OWNER, &PageRequest::all())
            .await
            .unwrap();
        assert_eq!(page.total_count, 0);
    }

    pub async fn application_template_crud(store: &Db) {
        let tpl = template("tpl");
        let mut tx = write(store).await;
        tx.insert_application_template(&tpl).await.unwrap();
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(
            tx.application_template(OWNER, tpl.id).await.unwrap(),
            Some(tpl.clone())
        );
        assert_eq!(
            tx.application_template_by_name(OWNER, "tpl").await.unwrap(),
            Some(tpl.clone())
        );
        assert_eq!(
            tx.application_template_by_name(OWNER, "nope")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            tx.application_template(OWNER, TemplateId::new_v4())
                .await
                .unwrap(),
            None
        );
        drop(tx);

        let mut tx = write(store).await;
        assert_not_unique(tx.insert_application_template(&template("tpl")).await);
        drop(tx);

        let updated = ApplicationTemplate {
            name: sextant_domain::Name::parse("tpl2".to_owned()).unwrap(),
            description: Some("d".to_owned()),
            application_input: r#"{"name":"{{n}}"}"#.to_owned(),
            placeholders: vec![
                Placeholder {
                    name: "n".to_owned(),
                    description: None,
                },
                Placeholder {
                    name: "m".to_owned(),
                    description: Some("m".to_owned()),
                },
            ],
            ..tpl.clone()
        };
        let mut tx = write(store).await;
        assert!(tx.update_application_template(&updated).await.unwrap());
        assert!(
            !tx.update_application_template(&template("ghost"))
                .await
                .unwrap()
        );
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(
            tx.application_template(OWNER, tpl.id).await.unwrap(),
            Some(updated.clone())
        );
        assert_eq!(
            tx.application_template_by_name(OWNER, "tpl").await.unwrap(),
            None
        );
        assert_eq!(
            tx.application_template_by_name(OWNER, "tpl2")
                .await
                .unwrap(),
            Some(updated)
        );
        drop(tx);

        let mut tx = write(store).await;
        assert!(tx.delete_application_template(tpl.id).await.unwrap());
        assert!(!tx.delete_application_template(tpl.id).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(tx.application_template(OWNER, tpl.id).await.unwrap(), None);
        assert_eq!(
            tx.application_template_by_name(OWNER, "tpl2")
                .await
                .unwrap(),
            None
        );
    }

    pub async fn integration_system_grants(store: &Db) {
        let (owner, granting, other) = (tenant(), tenant(), tenant());
        let s = IntegrationSystem {
            owner,
            ..system("walled")
        };
        let now = OffsetDateTime::now_utc();
        let mut tx = write(store).await;
        tx.insert_integration_system(&s).await.unwrap();
        commit(tx).await;

        // Owned, it is visible to its owner only; granted nowhere yet.
        let mut tx = read(store).await;
        assert_eq!(
            tx.visible_integration_system(owner, s.id).await.unwrap(),
            Some(s.clone())
        );
        for t in [granting, other] {
            assert_eq!(tx.visible_integration_system(t, s.id).await.unwrap(), None);
            let page = tx
                .integration_systems(t, &PageRequest::all())
                .await
                .unwrap();
            assert_eq!((page.items.len(), page.total_count), (0, 0));
        }
        assert!(!tx.integration_system_granted(owner, s.id).await.unwrap());
        drop(tx);

        let mut tx = write(store).await;
        assert!(
            tx.grant_integration_system(granting, s.id, now)
                .await
                .unwrap()
        );
        assert!(
            !tx.grant_integration_system(granting, s.id, now)
                .await
                .unwrap(),
            "granting twice is one grant"
        );
        assert_foreign_key(
            tx.grant_integration_system(granting, IntegrationSystemId::new_v4(), now)
                .await,
        );
        drop(tx);
        let mut tx = write(store).await;
        assert!(
            tx.grant_integration_system(granting, s.id, now)
                .await
                .unwrap()
        );
        commit(tx).await;

        let mut tx = read(store).await;
        assert!(tx.integration_system_granted(granting, s.id).await.unwrap());
        assert!(!tx.integration_system_granted(other, s.id).await.unwrap());
        assert_eq!(
            tx.visible_integration_system(granting, s.id).await.unwrap(),
            Some(s.clone())
        );
        let page = tx
            .integration_systems(granting, &PageRequest::all())
            .await
            .unwrap();
        assert_eq!(page.items, vec![s.clone()]);
        assert_eq!(page.total_count, 1);
        assert_eq!(
            tx.visible_integration_system(other, s.id).await.unwrap(),
            None
        );
        drop(tx);

        let mut tx = write(store).await;
        assert!(tx.revoke_integration_system(granting, s.id).await.unwrap());
        assert!(!tx.revoke_integration_system(granting, s.id).await.unwrap());
        assert!(tx.grant_integration_system(other, s.id, now).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert!(!tx.integration_system_granted(granting, s.id).await.unwrap());
        assert_eq!(
            tx.visible_integration_system(granting, s.id).await.unwrap(),
            None
        );
        drop(tx);

        // Deleting the system deletes its grants.
        let mut tx = write(store).await;
        assert!(tx.delete_integration_system(s.id).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert!(!tx.integration_system_granted(other, s.id).await.unwrap());
    }

    pub async fn application_templates_per_tenant(store: &Db) {
        let (ta, tb) = (tenant(), tenant());
        let global = template("shared");
        let of_a = ApplicationTemplate {
            tenant: Some(ta),
            ..template("shared")
        };
        let only_a = ApplicationTemplate {
            tenant: Some(ta),
            ..template("private")
        };
        let mut tx = write(store).await;
        tx.insert_application_template(&global).await.unwrap();
        // A tenant's name may equal a global one's; within a tenant names are unique.
        tx.insert_application_template(&of_a).await.unwrap();
        tx.insert_application_template(&only_a).await.unwrap();
        commit(tx).await;
        let mut tx = write(store).await;
        assert_not_unique(
            tx.insert_application_template(&ApplicationTemplate {
                tenant: Some(ta),
                ..template("private")
            })
            .await,
        );
        drop(tx);
        let mut tx = write(store).await;
        tx.insert_application_template(&ApplicationTemplate {
            tenant: Some(tb),
            ..template("private")
        })
        .await
        .unwrap();
        drop(tx);

        let mut tx = read(store).await;
        // Tenant A: its own before the global one of the same name.
        assert_eq!(
            tx.application_template_by_name(ta, "shared").await.unwrap(),
            Some(of_a.clone())
        );
        assert_eq!(
            tx.application_template(ta, only_a.id).await.unwrap(),
            Some(only_a.clone())
        );
        let page = tx
            .application_templates(ta, &PageRequest::all())
            .await
            .unwrap();
        assert_eq!(page.total_count, 3);
        // Tenant B: the global one only.
        assert_eq!(
            tx.application_template_by_name(tb, "shared").await.unwrap(),
            Some(global.clone())
        );
        assert_eq!(
            tx.application_template_by_name(tb, "private")
                .await
                .unwrap(),
            None
        );
        assert_eq!(tx.application_template(tb, only_a.id).await.unwrap(), None);
        assert_eq!(tx.application_template(tb, of_a.id).await.unwrap(), None);
        assert_eq!(
            tx.application_template(tb, global.id).await.unwrap(),
            Some(global.clone())
        );
        let page = tx
            .application_templates(tb, &PageRequest::all())
            .await
            .unwrap();
        assert_eq!(page.items, vec![global.clone()]);
        assert_eq!(page.total_count, 1);
        drop(tx);

        // An update can move a template between a tenant and global.
        let moved = ApplicationTemplate {
            tenant: None,
            name: sextant_domain::Name::parse("moved".to_owned()).unwrap(),
            ..only_a.clone()
        };
        let mut tx = write(store).await;
        assert!(tx.update_application_template(&moved).await.unwrap());
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(
            tx.application_template(tb, only_a.id).await.unwrap(),
            Some(moved)
        );
    }

    pub async fn global_lists_paginate(store: &Db) {
        let mut tx = write(store).await;
        let mut systems = Vec::new();
        let mut templates = Vec::new();
        for i in 0..5 {
            let s = system(&format!("s{i}"));
            tx.insert_integration_system(&s).await.unwrap();
            systems.push(s.id);
            let t = template(&format!("t{i}"));
            tx.insert_application_template(&t).await.unwrap();
            templates.push(t.id);
        }
        commit(tx).await;

        let mut tx = read(store).await;
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = tx
                .integration_systems(OWNER, &page(2, after))
                .await
                .unwrap();
            assert_eq!(p.total_count, 5);
            seen.extend(p.items.iter().map(|s| s.id));
            after = seen.last().copied();
            if !p.has_next_page {
                break;
            }
            assert_eq!(p.items.len(), 2);
        }
        assert_eq!(seen, sorted(systems));

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = tx
                .application_templates(tenant(), &page(2, after))
                .await
                .unwrap();
            assert_eq!(p.total_count, 5);
            seen.extend(p.items.iter().map(|t| t.id));
            after = seen.last().copied();
            if !p.has_next_page {
                break;
            }
            assert_eq!(p.items.len(), 2);
        }
        assert_eq!(seen, sorted(templates));
    }

    pub async fn tenant_isolation(store: &Db) {
        let (ta, tb) = (tenant(), tenant());
        let a = app(ta, "app");
        let r = runtime(ta, "rt");
        let mut tx = write(store).await;
        tx.insert_application(&a).await.unwrap();
        tx.insert_runtime(&r).await.unwrap();
        tx.set_label(ta, app_ref(a.id), "env", &json!("prod"))
            .await
            .unwrap();
        tx.set_label(ta, rt_ref(r.id), "env", &json!("prod"))
            .await
            .unwrap();
        tx.insert_label_definition(ta, &definition("env", None))
            .await
            .unwrap();
        commit(tx).await;

        // Reads through tenant B see nothing.
        let mut tx = read(store).await;
        assert_eq!(tx.application(tb, a.id).await.unwrap(), None);
        assert_eq!(tx.runtime(tb, r.id).await.unwrap(), None);
        let apps = tx.applications(tb, &[], &PageRequest::all()).await.unwrap();
        assert!(apps.items.is_empty());
        assert_eq!(apps.total_count, 0);
        let rts = tx.runtimes(tb, &[], &PageRequest::all()).await.unwrap();
        assert!(rts.items.is_empty());
        assert_eq!(rts.total_count, 0);
        assert!(
            tx.labels(tb, ObjectKind::Application, &[a.id.into_untyped()])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert!(
            tx.labels(tb, ObjectKind::Runtime, &[r.id.into_untyped()])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert!(
            tx.labels_with_key(tb, "env")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
        assert!(tx.label_definitions(tb).await.unwrap().is_empty());
        drop(tx);
        let filters = [filter("env", Some(r#""prod""#))];
        assert!(app_ids(store, tb, &filters).await.is_empty());
        assert!(runtime_ids(store, tb, &filters).await.is_empty());
        assert!(app_ids(store, tb, &[filter("env", None)]).await.is_empty());

        // Writes through tenant B change nothing.
        let mut tx = write(store).await;
        assert!(
            !tx.update_application(&Application {
                tenant: tb,
                name: sextant_domain::Name::parse("hijacked".to_owned()).unwrap(),
                ..a.clone()
            })
            .await
            .unwrap()
        );
        assert!(
            !tx.update_runtime(&Runtime {
                tenant: tb,
                name: sextant_domain::Name::parse("hijacked".to_owned()).unwrap(),
                ..r.clone()
            })
            .await
            .unwrap()
        );
        assert!(!tx.delete_application(tb, a.id).await.unwrap());
        assert!(!tx.delete_runtime(tb, r.id).await.unwrap());
        assert_eq!(
            tx.delete_label(tb, app_ref(a.id), "env").await.unwrap(),
            None
        );
        assert_eq!(
            tx.delete_label(tb, rt_ref(r.id), "env").await.unwrap(),
            None
        );
        tx.delete_all_labels(tb, app_ref(a.id)).await.unwrap();
        tx.delete_all_labels(tb, rt_ref(r.id)).await.unwrap();
        assert_eq!(tx.delete_labels_with_key(tb, "env").await.unwrap(), 0);
        assert!(
            tx.delete_label_definition(tb, "env")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            !tx.update_label_definition(tb, &definition("env", Some(json!({"type": "string"}))))
                .await
                .unwrap()
        );
        assert_eq!(tx.label_definition(tb, "env").await.unwrap(), None);
        commit(tx).await;

        // Labelling A's objects through B is refused like labelling a missing object.
        let mut tx = write(store).await;
        assert_foreign_key(tx.set_label(tb, app_ref(a.id), "env", &json!("dev")).await);
        drop(tx);
        let mut tx = write(store).await;
        assert_foreign_key(tx.set_label(tb, rt_ref(r.id), "env", &json!("dev")).await);
        drop(tx);

        // Tenant A still has everything as it was.
        let mut tx = read(store).await;
        assert_eq!(tx.application(ta, a.id).await.unwrap(), Some(a.clone()));
        assert_eq!(tx.runtime(ta, r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(
            tx.labels(ta, ObjectKind::Application, &[a.id.into_untyped()])
                .await
                .unwrap()
                .rows(),
            vec![(a.id.into_untyped(), "env".to_owned(), json!("prod"))]
        );
        assert_eq!(
            tx.labels(ta, ObjectKind::Runtime, &[r.id.into_untyped()])
                .await
                .unwrap()
                .rows(),
            vec![(r.id.into_untyped(), "env".to_owned(), json!("prod"))]
        );
        assert_eq!(
            tx.label_definitions(ta).await.unwrap(),
            vec![definition("env", None)]
        );
    }

    pub async fn labels_set_upsert_and_batch_read(store: &Db) {
        let t = tenant();
        let ids = insert_apps(store, t, "a", 3).await;
        let rts = insert_runtimes(store, t, "r", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(ids[0]), "env", json!("dev")),
                (app_ref(ids[0]), "scenarios", json!(["DEFAULT"])),
                (
                    app_ref(ids[1]),
                    "env",
                    json!({"tier": 1, "zones": ["a", "b"]}),
                ),
                (app_ref(ids[2]), "env", json!(42)),
                (rt_ref(rts[0]), "env", json!(true)),
            ],
        )
        .await;

        // Upsert replaces the value.
        set_labels(store, t, &[(app_ref(ids[0]), "env", json!("prod"))]).await;

        let mut tx = read(store).await;
        let got = tx
            .labels(
                t,
                ObjectKind::Application,
                &[ids[0].into_untyped(), ids[1].into_untyped()],
            )
            .await
            .unwrap()
            .rows();
        let mut expected = vec![
            (ids[0].into_untyped(), "env".to_owned(), json!("prod")),
            (
                ids[0].into_untyped(),
                "scenarios".to_owned(),
                json!(["DEFAULT"]),
            ),
            (
                ids[1].into_untyped(),
                "env".to_owned(),
                json!({"tier": 1, "zones": ["a", "b"]}),
            ),
        ];
        expected.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        assert_eq!(got, expected, "labels ordered by object id, then key");

        let all = tx
            .labels(t, ObjectKind::Application, &untyped(&ids))
            .await
            .unwrap()
            .rows();
        assert_eq!(all.len(), 4);
        assert!(all.contains(&(ids[2].into_untyped(), "env".to_owned(), json!(42))));
        // The kind selects the table: runtime labels are not application labels.
        assert!(
            tx.labels(t, ObjectKind::Application, &untyped(&rts))
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert_eq!(
            tx.labels(t, ObjectKind::Runtime, &untyped(&rts))
                .await
                .unwrap()
                .rows(),
            vec![(rts[0].into_untyped(), "env".to_owned(), json!(true))]
        );
        assert!(
            tx.labels(t, ObjectKind::Application, &[])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert!(
            tx.labels(t, ObjectKind::Application, &[Uuid::new_v4()])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
    }

    pub async fn labels_delete_and_delete_all(store: &Db) {
        let t = tenant();
        let ids = insert_apps(store, t, "a", 2).await;
        let rts = insert_runtimes(store, t, "r", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(ids[0]), "env", json!({"k": [1, 2]})),
                (app_ref(ids[0]), "team", json!("core")),
                (app_ref(ids[1]), "env", json!("prod")),
                (rt_ref(rts[0]), "env", json!("prod")),
                (rt_ref(rts[0]), "team", json!("edge")),
            ],
        )
        .await;

        let mut tx = write(store).await;
        assert_eq!(
            tx.delete_label(t, app_ref(ids[0]), "env").await.unwrap(),
            Some(json!({"k": [1, 2]}))
        );
        assert_eq!(
            tx.delete_label(t, app_ref(ids[0]), "env").await.unwrap(),
            None
        );
        assert_eq!(
            tx.delete_label(t, app_ref(ids[0]), "missing")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            tx.delete_label(t, rt_ref(rts[0]), "team").await.unwrap(),
            Some(json!("edge"))
        );
        // An application id named as a runtime deletes nothing.
        assert_eq!(
            tx.delete_label(
                t,
                rt_ref(RuntimeId::from_untyped(ids[1].into_untyped())),
                "env"
            )
            .await
            .unwrap(),
            None
        );
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(
            tx.labels(t, ObjectKind::Application, &untyped(&ids))
                .await
                .unwrap()
                .rows(),
            sorted_labels(vec![
                (ids[0].into_untyped(), "team".to_owned(), json!("core")),
                (ids[1].into_untyped(), "env".to_owned(), json!("prod")),
            ])
        );
        drop(tx);

        let mut tx = write(store).await;
        tx.delete_all_labels(t, app_ref(ids[0])).await.unwrap();
        tx.delete_all_labels(t, rt_ref(rts[0])).await.unwrap();
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(
            tx.labels(t, ObjectKind::Application, &untyped(&ids))
                .await
                .unwrap()
                .rows(),
            vec![(ids[1].into_untyped(), "env".to_owned(), json!("prod"))]
        );
        assert!(
            tx.labels(t, ObjectKind::Runtime, &untyped(&rts))
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        // The objects themselves stay.
        assert!(tx.application(t, ids[0]).await.unwrap().is_some());
        assert!(tx.runtime(t, rts[0]).await.unwrap().is_some());
    }

    fn sorted_labels(mut labels: Vec<(Uuid, String, Value)>) -> Vec<(Uuid, String, Value)> {
        labels.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        labels
    }

    fn count(string: &str, objects: i64) -> sextant_store::StringCount {
        sextant_store::StringCount {
            string: string.to_owned(),
            objects,
        }
    }

    pub async fn array_string_counts_per_kind(store: &Db) {
        let (t, other) = (tenant(), tenant());
        let apps = insert_apps(store, t, "a", 3).await;
        let rts = insert_runtimes(store, t, "r", 2).await;
        let other_apps = insert_apps(store, other, "a", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "scenarios", json!(["DEFAULT"])),
                (app_ref(apps[1]), "scenarios", json!(["DEFAULT", "X"])),
                // Not an array, and not a string: neither counts.
                (app_ref(apps[2]), "scenarios", json!("X")),
                (app_ref(apps[2]), "env", json!(["X", 3])),
                (rt_ref(rts[0]), "scenarios", json!(["X", "with space"])),
                (rt_ref(rts[1]), "scenarios", json!([true, 3])),
            ],
        )
        .await;
        set_labels(
            store,
            other,
            &[(app_ref(other_apps[0]), "scenarios", json!(["DEFAULT", "Y"]))],
        )
        .await;

        let mut tx = read(store).await;
        let before = store.statements().get();
        let counts = tx
            .array_string_counts(t, ObjectKind::Application, "scenarios")
            .await
            .unwrap();
        assert_eq!(store.statements().get() - before, 1);
        assert_eq!(counts, vec![count("DEFAULT", 2), count("X", 1)]);
        assert_eq!(
            tx.array_string_counts(t, ObjectKind::Runtime, "scenarios")
                .await
                .unwrap(),
            vec![count("X", 1), count("with space", 1)]
        );
        assert_eq!(
            tx.array_string_counts(t, ObjectKind::Application, "env")
                .await
                .unwrap(),
            vec![count("X", 1)]
        );
        assert!(
            tx.array_string_counts(t, ObjectKind::Application, "nope")
                .await
                .unwrap()
                .is_empty()
        );
        drop(tx);

        // The counts follow the labels: a label removed takes its strings with it.
        let mut tx = write(store).await;
        tx.delete_label(t, app_ref(apps[1]), "scenarios")
            .await
            .unwrap();
        commit(tx).await;
        let mut tx = read(store).await;
        assert_eq!(
            tx.array_string_counts(t, ObjectKind::Application, "scenarios")
                .await
                .unwrap(),
            vec![count("DEFAULT", 1)]
        );
    }

    pub async fn labels_with_key_over_both_kinds(store: &Db) {
        let (t, other) = (tenant(), tenant());
        let apps = insert_apps(store, t, "a", 2).await;
        let rts = insert_runtimes(store, t, "r", 2).await;
        let other_apps = insert_apps(store, other, "a", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "scenarios", json!(["DEFAULT"])),
                (app_ref(apps[1]), "scenarios", json!(["DEFAULT", "X"])),
                (app_ref(apps[1]), "env", json!("prod")),
                (rt_ref(rts[0]), "scenarios", json!(["X"])),
                (rt_ref(rts[1]), "env", json!("prod")),
            ],
        )
        .await;
        set_labels(
            store,
            other,
            &[(app_ref(other_apps[0]), "scenarios", json!(["DEFAULT"]))],
        )
        .await;

        let mut tx = read(store).await;
        let mut got = tx.labels_with_key(t, "scenarios").await.unwrap().keyed();
        got.sort_by_key(|(o, _)| o.id());
        let mut expected = vec![
            (app_ref(apps[0]), json!(["DEFAULT"])),
            (app_ref(apps[1]), json!(["DEFAULT", "X"])),
            (rt_ref(rts[0]), json!(["X"])),
        ];
        expected.sort_by_key(|(o, _)| o.id());
        assert_eq!(got, expected);
        assert!(
            tx.labels_with_key(t, "nope")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
        drop(tx);

        let mut tx = write(store).await;
        assert_eq!(tx.delete_labels_with_key(t, "scenarios").await.unwrap(), 3);
        assert_eq!(tx.delete_labels_with_key(t, "scenarios").await.unwrap(), 0);
        commit(tx).await;

        let mut tx = read(store).await;
        assert!(
            tx.labels_with_key(t, "scenarios")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
        // Other keys and other tenants are untouched.
        assert_eq!(tx.labels_with_key(t, "env").await.unwrap().keyed().len(), 2);
        assert_eq!(
            tx.labels_with_key(other, "scenarios")
                .await
                .unwrap()
                .keyed(),
            vec![(app_ref(other_apps[0]), json!(["DEFAULT"]))]
        );
    }

    pub async fn labels_cascade_with_their_object(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 2).await;
        let rts = insert_runtimes(store, t, "r", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "env", json!("prod")),
                (app_ref(apps[0]), "team", json!("x")),
                (app_ref(apps[1]), "env", json!("dev")),
                (rt_ref(rts[0]), "env", json!("prod")),
            ],
        )
        .await;

        let mut tx = write(store).await;
        assert!(tx.delete_application(t, apps[0]).await.unwrap());
        assert!(tx.delete_runtime(t, rts[0]).await.unwrap());
        commit(tx).await;

        let mut tx = read(store).await;
        assert!(
            tx.labels(t, ObjectKind::Application, &[apps[0].into_untyped()])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert!(
            tx.labels(t, ObjectKind::Runtime, &untyped(&rts))
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
        assert_eq!(
            tx.labels_with_key(t, "env").await.unwrap().keyed(),
            vec![(app_ref(apps[1]), json!("dev"))]
        );
        assert!(
            tx.labels_with_key(t, "team")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
        drop(tx);

        // A new application with the old name starts without labels.
        let mut tx = write(store).await;
        let again = app(t, "a-0");
        tx.insert_application(&again).await.unwrap();
        commit(tx).await;
        let mut tx = read(store).await;
        assert!(
            tx.labels(t, ObjectKind::Application, &[again.id.into_untyped()])
                .await
                .unwrap()
                .rows()
                .is_empty()
        );
    }

    pub async fn label_on_missing_object_is_foreign_key(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 1).await;
        let rts = insert_runtimes(store, t, "r", 1).await;
        let cases = [
            app_ref(ApplicationId::new_v4()),
            rt_ref(RuntimeId::new_v4()),
            // Right id, wrong kind.
            rt_ref(RuntimeId::from_untyped(apps[0].into_untyped())),
            app_ref(ApplicationId::from_untyped(rts[0].into_untyped())),
        ];
        for object in cases {
            let mut tx = write(store).await;
            let result = tx.set_label(t, object, "env", &json!("x")).await;
            assert!(
                matches!(result, Err(StoreError::ForeignKey)),
                "set_label on {object:?}: expected ForeignKey, got {result:?}"
            );
        }
        let mut tx = read(store).await;
        assert!(
            tx.labels_with_key(t, "env")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
    }

    pub async fn label_definitions_crud(store: &Db) {
        let (t, other) = (tenant(), tenant());
        let schema = json!({"type": "string"});
        let mut tx = write(store).await;
        tx.insert_label_definition(t, &definition("zeta", Some(schema.clone())))
            .await
            .unwrap();
        tx.insert_label_definition(t, &definition("alpha", None))
            .await
            .unwrap();
        commit(tx).await;

        // A key twice in one tenant is refused; another tenant may define it.
        let mut tx = write(store).await;
        assert_not_unique(
            tx.insert_label_definition(t, &definition("zeta", None))
                .await,
        );
        drop(tx);
        let mut tx = write(store).await;
        tx.insert_label_definition(other, &definition("zeta", None))
            .await
            .unwrap();
        commit(tx).await;

        // ensure: inserts once, then leaves the existing definition alone.
        let scenarios = json!({"type": "array", "items": {"type": "string"}});
        let mut tx = write(store).await;
        assert!(
            tx.ensure_label_definition(t, &definition("scenarios", Some(scenarios.clone())))
                .await
                .unwrap()
        );
        assert!(
            !tx.ensure_label_definition(t, &definition("scenarios", None))
                .await
                .unwrap()
        );
        commit(tx).await;
        let mut tx = write(store).await;
        assert!(
            !tx.ensure_label_definition(t, &definition("scenarios", Some(json!({}))))
                .await
                .unwrap()
        );
        assert_eq!(
            tx.label_definition(t, "scenarios").await.unwrap(),
            Some(definition("scenarios", Some(scenarios.clone())))
        );
        commit(tx).await;

        // Listed ordered by key.
        let mut tx = write(store).await;
        assert_eq!(
            tx.label_definitions(t).await.unwrap(),
            vec![
                definition("alpha", None),
                definition("scenarios", Some(scenarios.clone())),
                definition("zeta", Some(schema.clone())),
            ]
        );
        assert_eq!(tx.label_definition(t, "missing").await.unwrap(), None);

        // Update replaces the schema (also with none); a missing key is not updated.
        let new_schema = json!({"type": "string", "enum": ["a", "b"]});
        assert!(
            tx.update_label_definition(t, &definition("alpha", Some(new_schema.clone())))
                .await
                .unwrap()
        );
        assert!(
            tx.update_label_definition(t, &definition("zeta", None))
                .await
                .unwrap()
        );
        assert!(
            !tx.update_label_definition(t, &definition("missing", None))
                .await
                .unwrap()
        );
        commit(tx).await;
        let mut tx = write(store).await;
        assert_eq!(
            tx.label_definition(t, "alpha").await.unwrap(),
            Some(definition("alpha", Some(new_schema.clone())))
        );
        assert_eq!(
            tx.label_definition(t, "zeta").await.unwrap(),
            Some(definition("zeta", None))
        );

        // Delete.
        let deleted = tx
            .delete_label_definition(t, "alpha")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deleted.key, "alpha");
        assert!(
            tx.delete_label_definition(t, "alpha")
                .await
                .unwrap()
                .is_none()
        );
        commit(tx).await;
        let mut tx = write(store).await;
        assert_eq!(
            tx.label_definitions(t).await.unwrap(),
            vec![
                definition("scenarios", Some(scenarios)),
                definition("zeta", None),
            ]
        );
        assert_eq!(
            tx.label_definitions(other).await.unwrap(),
            vec![definition("zeta", None)]
        );
    }

    /// `label_definition` is a read like any other: it must work in a read transaction.
    pub async fn label_definition_readable_in_read_transaction(store: &Db) {
        let t = tenant();
        let def = definition("env", Some(json!({"type": "string"})));
        let mut tx = write(store).await;
        tx.insert_label_definition(t, &def).await.unwrap();
        commit(tx).await;

        let mut tx = read(store).await;
        assert_eq!(tx.label_definitions(t).await.unwrap(), vec![def.clone()]);
        let got = tx.label_definition(t, "env").await;
        assert!(
            matches!(&got, Ok(Some(d)) if *d == def),
            "label_definition in a read transaction: {got:?}"
        );
    }

    pub async fn ensure_label_definition_concurrent_writers(store: &Db) {
        let t = tenant();
        let def = definition("scenarios", Some(json!({"type": "array"})));
        let mut first = write(store).await;
        assert!(first.ensure_label_definition(t, &def).await.unwrap());

        let second_store = store.clone();
        let second_def = def.clone();
        let second = tokio::spawn(async move {
            let mut tx = second_store.write().await?;
            let inserted = tx.ensure_label_definition(t, &second_def).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(inserted)
        });
        // Let the second writer reach its lock wait, then let it through.
        tokio::time::sleep(Duration::from_millis(200)).await;
        commit(first).await;
        let inserted = tokio::time::timeout(Duration::from_secs(20), second)
            .await
            .expect("the second writer finishes")
            .expect("the second writer does not panic");
        assert!(
            matches!(inserted, Ok(false)),
            "second concurrent ensure: expected Ok(false), got {inserted:?}"
        );
        let mut tx = read(store).await;
        assert_eq!(tx.label_definitions(t).await.unwrap(), vec![def]);
    }

    pub async fn dropped_write_transaction_rolls_back(store: &Db) {
        let t = tenant();
        let kept = insert_apps(store, t, "kept", 1).await;
        let kept_rt = insert_runtimes(store, t, "kept", 1).await;
        set_labels(store, t, &[(app_ref(kept[0]), "env", json!("prod"))]).await;

        let a = app(t, "ghost");
        let r = runtime(t, "ghost");
        let s = system("ghost");
        let tpl = template("ghost");
        {
            let mut tx = write(store).await;
            tx.insert_integration_system(&s).await.unwrap();
            tx.insert_application_template(&tpl).await.unwrap();
            tx.insert_application(&a).await.unwrap();
            tx.insert_runtime(&r).await.unwrap();
            tx.set_label(t, app_ref(a.id), "env", &json!("dev"))
                .await
                .unwrap();
            tx.set_label(t, app_ref(kept[0]), "env", &json!("changed"))
                .await
                .unwrap();
            tx.set_label(t, rt_ref(kept_rt[0]), "team", &json!("x"))
                .await
                .unwrap();
            tx.insert_label_definition(t, &definition("env", None))
                .await
                .unwrap();
            assert!(tx.delete_application(t, kept[0]).await.is_ok());
            // Dropped without commit.
        }

        let mut tx = read(store).await;
        assert_eq!(tx.application(t, a.id).await.unwrap(), None);
        assert!(tx.application(t, kept[0]).await.unwrap().is_some());
        assert_eq!(tx.runtime(t, r.id).await.unwrap(), None);
        assert_eq!(tx.integration_system(s.id).await.unwrap(), None);
        assert_eq!(tx.application_template(OWNER, tpl.id).await.unwrap(), None);
        assert_eq!(
            tx.application_template_by_name(OWNER, "ghost")
                .await
                .unwrap(),
            None
        );
        assert!(tx.label_definitions(t).await.unwrap().is_empty());
        assert_eq!(
            tx.labels_with_key(t, "env").await.unwrap().keyed(),
            vec![(app_ref(kept[0]), json!("prod"))]
        );
        assert!(
            tx.labels_with_key(t, "team")
                .await
                .unwrap()
                .keyed()
                .is_empty()
        );
        drop(tx);

        // The write lock is free again and the names are free.
        let mut tx = write(store).await;
        tx.insert_application(&app(t, "ghost")).await.unwrap();
        tx.insert_integration_system(&system("ghost"))
            .await
            .unwrap();
        commit(tx).await;
        assert_eq!(app_ids(store, t, &[]).await.len(), 2);
    }

    pub async fn applications_pagination_walks_every_id_once(store: &Db) {
        let (t, other) = (tenant(), tenant());
        let ids = insert_apps(store, t, "a", 25).await;
        insert_apps(store, other, "a", 7).await;
        let expected = sorted(ids);

        let mut tx = read(store).await;
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let p = tx.applications(t, &[], &page(10, after)).await.unwrap();
            pages += 1;
            assert_eq!(p.total_count, 25, "total_count on page {pages}");
            seen.extend(p.items.iter().map(|a| a.id));
            after = seen.last().copied();
            let last_page = pages == 3;
            assert_eq!(p.has_next_page, !last_page, "has_next_page on page {pages}");
            assert_eq!(p.items.len(), if last_page { 5 } else { 10 });
            if !p.has_next_page {
                break;
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(seen, expected, "every id once, ascending");

        // Exactly one full page: no next page.
        let p = tx
            .applications(t, &[], &page::<Uuid>(25, None))
            .await
            .unwrap();
        assert_eq!(p.items.len(), 25);
        assert!(!p.has_next_page);
        // After the last id: an empty page with the total.
        let p = tx
            .applications(t, &[], &page(10, expected.last().copied()))
            .await
            .unwrap();
        assert!(p.items.is_empty());
        assert!(!p.has_next_page);
        assert_eq!(p.total_count, 25);
    }

    pub async fn runtimes_pagination_walks_every_id_once(store: &Db) {
        let t = tenant();
        let expected = sorted(insert_runtimes(store, t, "r", 25).await);
        let mut tx = read(store).await;
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let p = tx.runtimes(t, &[], &page(10, after)).await.unwrap();
            pages += 1;
            assert_eq!(p.total_count, 25, "total_count on page {pages}");
            assert_eq!(p.has_next_page, pages < 3, "has_next_page on page {pages}");
            seen.extend(p.items.iter().map(|r| r.id));
            after = seen.last().copied();
            if !p.has_next_page {
                break;
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(seen, expected, "every id once, ascending");
    }

    pub async fn filter_exists(store: &Db) {
        let (t, other) = (tenant(), tenant());
        let apps = insert_apps(store, t, "a", 3).await;
        let rts = insert_runtimes(store, t, "r", 3).await;
        let other_apps = insert_apps(store, other, "a", 1).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "env", json!("prod")),
                (app_ref(apps[2]), "env", json!(null)),
                (app_ref(apps[1]), "team", json!("x")),
                (rt_ref(rts[1]), "env", json!(["a"])),
            ],
        )
        .await;
        set_labels(
            store,
            other,
            &[(app_ref(other_apps[0]), "env", json!("prod"))],
        )
        .await;

        assert_eq!(
            app_ids(store, t, &[filter("env", None)]).await,
            sorted(vec![apps[0], apps[2]])
        );
        assert_eq!(
            app_ids(store, t, &[filter("team", None)]).await,
            vec![apps[1]]
        );
        assert!(app_ids(store, t, &[filter("nope", None)]).await.is_empty());
        assert_eq!(
            runtime_ids(store, t, &[filter("env", None)]).await,
            vec![rts[1]]
        );
        assert!(
            runtime_ids(store, t, &[filter("team", None)])
                .await
                .is_empty()
        );
        assert_eq!(
            app_ids(store, other, &[filter("env", None)]).await,
            other_apps
        );
    }

    pub async fn filter_scenarios_any_of(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 5).await;
        let rts = insert_runtimes(store, t, "r", 3).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "scenarios", json!(["A"])),
                (app_ref(apps[1]), "scenarios", json!(["B", "C"])),
                (app_ref(apps[2]), "scenarios", json!(["C", "DEFAULT"])),
                (app_ref(apps[3]), "scenarios", json!(["DEFAULT"])),
                // apps[4]: no scenarios at all.
                (app_ref(apps[4]), "other", json!(["A"])),
                (rt_ref(rts[0]), "scenarios", json!(["A", "DEFAULT"])),
                (rt_ref(rts[1]), "scenarios", json!(["C"])),
            ],
        )
        .await;

        let q = |query: &str| vec![filter("scenarios", Some(query))];
        assert_eq!(
            app_ids(store, t, &q(r#"$[*] ? (@ == "A" || @ == "B")"#)).await,
            sorted(vec![apps[0], apps[1]])
        );
        assert_eq!(
            app_ids(store, t, &q(r#"$[*] ? (@ == "C")"#)).await,
            sorted(vec![apps[1], apps[2]])
        );
        assert_eq!(
            app_ids(store, t, &q(r#"$[*] ? (@ == "DEFAULT" || @ == "A")"#)).await,
            sorted(vec![apps[0], apps[2], apps[3]])
        );
        assert!(
            app_ids(store, t, &q(r#"$[*] ? (@ == "Z")"#))
                .await
                .is_empty()
        );
        // Values match whole: "B" does not match "B C" or "b".
        assert!(
            app_ids(store, t, &q(r#"$[*] ? (@ == "b")"#))
                .await
                .is_empty()
        );
        // The key is case-insensitive for scenarios.
        assert_eq!(
            app_ids(
                store,
                t,
                &[filter("SCENARIOS", Some(r#"$[*] ? (@ == "A")"#))]
            )
            .await,
            vec![apps[0]]
        );
        assert_eq!(
            runtime_ids(store, t, &q(r#"$[*] ? (@ == "A" || @ == "C")"#)).await,
            sorted(vec![rts[0], rts[1]])
        );
        assert!(
            runtime_ids(store, t, &q(r#"$[*] ? (@ == "B")"#))
                .await
                .is_empty()
        );
    }

    /// The scenarios filter matches arrays only, as documented on `LabelQuery::AnyOf` (and as
    /// PostgreSQL's `jsonb_typeof(...) = 'array'` enforces).
    pub async fn filter_scenarios_any_of_needs_an_array(store: &Db) {
        let t = tenant();
        let shapes = [
            json!("A"),
            json!({"k": "A"}),
            json!({"A": 1}),
            json!([["A"]]),
            json!(["A"]),
        ];
        let apps = insert_apps(store, t, "a", shapes.len()).await;
        let labels: Vec<(ObjectRef, &str, Value)> = apps
            .iter()
            .zip(&shapes)
            .map(|(id, v)| (app_ref(*id), "scenarios", v.clone()))
            .collect();
        set_labels(store, t, &labels).await;
        let got = app_ids(
            store,
            t,
            &[filter("scenarios", Some(r#"$[*] ? (@ == "A")"#))],
        )
        .await;
        let matched: Vec<&Value> = apps
            .iter()
            .zip(&shapes)
            .filter(|(id, _)| got.contains(id))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            matched,
            vec![&json!(["A"])],
            "scenarios values matched by $[*] ? (@ == \"A\")"
        );
    }

    pub async fn filter_json_containment(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 6).await;
        let rts = insert_runtimes(store, t, "r", 3).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "env", json!("prod")),
                (app_ref(apps[1]), "env", json!("dev")),
                (app_ref(apps[2]), "env", json!(["prod", "eu", "us"])),
                (
                    app_ref(apps[3]),
                    "env",
                    json!({"stage": "prod", "zones": ["a", "b"], "n": 1}),
                ),
                (app_ref(apps[4]), "env", json!(3)),
                (app_ref(apps[5]), "other", json!("prod")),
                (rt_ref(rts[0]), "env", json!({"stage": "prod"})),
                (rt_ref(rts[1]), "env", json!(["eu"])),
                (rt_ref(rts[2]), "env", json!("prod")),
            ],
        )
        .await;

        let env = |query: &str| vec![filter("env", Some(query))];
        // A string is matched by that string (and by arrays holding it, as `jsonb @>` does).
        assert_eq!(
            app_ids(store, t, &env(r#""prod""#)).await,
            sorted(vec![apps[0], apps[2]])
        );
        assert_eq!(app_ids(store, t, &env(r#""dev""#)).await, vec![apps[1]]);
        assert!(app_ids(store, t, &env(r#""staging""#)).await.is_empty());
        // Arrays by sub-arrays (order-free).
        assert_eq!(
            app_ids(store, t, &env(r#"["us", "prod"]"#)).await,
            vec![apps[2]]
        );
        assert_eq!(app_ids(store, t, &env("[]")).await, vec![apps[2]]);
        assert!(
            app_ids(store, t, &env(r#"["prod", "asia"]"#))
                .await
                .is_empty()
        );
        // Objects by sub-objects, nested.
        assert_eq!(
            app_ids(store, t, &env(r#"{"stage": "prod"}"#)).await,
            vec![apps[3]]
        );
        assert_eq!(
            app_ids(store, t, &env(r#"{"zones": ["b"], "n": 1}"#)).await,
            vec![apps[3]]
        );
        assert_eq!(app_ids(store, t, &env("{}")).await, vec![apps[3]]);
        // An array contains a lone scalar only at the top level, as in PostgreSQL.
        assert!(
            app_ids(store, t, &env(r#"{"zones": "b"}"#))
                .await
                .is_empty()
        );
        assert!(
            app_ids(store, t, &env(r#"{"stage": "dev"}"#))
                .await
                .is_empty()
        );
        assert!(
            app_ids(store, t, &env(r#"{"stage": "prod", "x": 1}"#))
                .await
                .is_empty()
        );
        // Numbers by value.
        assert_eq!(app_ids(store, t, &env("3")).await, vec![apps[4]]);
        assert_eq!(app_ids(store, t, &env("3.0")).await, vec![apps[4]]);
        assert!(app_ids(store, t, &env(r#""3""#)).await.is_empty());
        // A scalar does not contain an array; the key must match.
        assert!(app_ids(store, t, &env(r#"["dev"]"#)).await.is_empty());
        assert!(
            app_ids(store, t, &[filter("nope", Some(r#""prod""#))])
                .await
                .is_empty()
        );

        // Runtimes.
        assert_eq!(
            runtime_ids(store, t, &env(r#"{"stage": "prod"}"#)).await,
            vec![rts[0]]
        );
        assert_eq!(runtime_ids(store, t, &env(r#"["eu"]"#)).await, vec![rts[1]]);
        assert_eq!(runtime_ids(store, t, &env(r#""prod""#)).await, vec![rts[2]]);
        assert!(runtime_ids(store, t, &env(r#""dev""#)).await.is_empty());
    }

    pub async fn filter_scalar_containment_of_numbers_and_booleans(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "s", 5).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "v", json!(true)),
                (app_ref(apps[1]), "v", json!(false)),
                (app_ref(apps[2]), "v", json!([1, 2.5, true])),
                (app_ref(apps[3]), "v", json!("true")),
                (app_ref(apps[4]), "v", json!({"n": 2.5})),
            ],
        )
        .await;
        let v = |query: &str| vec![filter("v", Some(query))];
        assert_eq!(
            app_ids(store, t, &v("true")).await,
            sorted(vec![apps[0], apps[2]])
        );
        assert_eq!(app_ids(store, t, &v("false")).await, vec![apps[1]]);
        assert_eq!(app_ids(store, t, &v("2.5")).await, vec![apps[2]]);
        assert_eq!(app_ids(store, t, &v("1.0")).await, vec![apps[2]]);
        assert_eq!(app_ids(store, t, &v(r#""true""#)).await, vec![apps[3]]);
        assert!(app_ids(store, t, &v("7")).await.is_empty());
    }

    pub async fn filters_are_anded(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 4).await;
        let rts = insert_runtimes(store, t, "r", 2).await;
        set_labels(
            store,
            t,
            &[
                (app_ref(apps[0]), "scenarios", json!(["A"])),
                (app_ref(apps[0]), "env", json!("prod")),
                (app_ref(apps[0]), "team", json!("x")),
                (app_ref(apps[1]), "scenarios", json!(["A"])),
                (app_ref(apps[1]), "env", json!("dev")),
                (app_ref(apps[2]), "env", json!("prod")),
                (app_ref(apps[3]), "scenarios", json!(["B"])),
                (app_ref(apps[3]), "env", json!("prod")),
                (rt_ref(rts[0]), "scenarios", json!(["A"])),
                (rt_ref(rts[0]), "env", json!("prod")),
                (rt_ref(rts[1]), "env", json!("prod")),
            ],
        )
        .await;

        let scen_a = filter("scenarios", Some(r#"$[*] ? (@ == "A")"#));
        let prod = filter("env", Some(r#""prod""#));
        assert_eq!(
            app_ids(store, t, &[scen_a.clone(), prod.clone()]).await,
            vec![apps[0]]
        );
        assert_eq!(
            app_ids(store, t, &[filter("env", None), filter("scenarios", None)]).await,
            sorted(vec![apps[0], apps[1], apps[3]])
        );
        assert_eq!(
            app_ids(
                store,
                t,
                &[prod.clone(), filter("team", None), scen_a.clone()]
            )
            .await,
            vec![apps[0]]
        );
        assert!(
            app_ids(store, t, &[prod.clone(), filter("nope", None)])
                .await
                .is_empty()
        );
        assert_eq!(runtime_ids(store, t, &[scen_a, prod]).await, vec![rts[0]]);
    }

    pub async fn filters_with_pagination_count_the_filtered_list(store: &Db) {
        let t = tenant();
        let apps = insert_apps(store, t, "a", 30).await;
        // Every third application is in production: 10 of 30.
        let labels: Vec<(ObjectRef, &str, Value)> = apps
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let env = if i % 3 == 0 { "prod" } else { "dev" };
                (app_ref(*id), "env", json!(env))
            })
            .collect();
        set_labels(store, t, &labels).await;
        let expected: Vec<ApplicationId> = sorted(apps.iter().step_by(3).copied().collect());

        for filters in [
            vec![filter("env", Some(r#""prod""#))],
            vec![filter("env", Some(r#""prod""#)), filter("env", None)],
        ] {
            let mut tx = read(store).await;
            let mut seen = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let p = tx.applications(t, &filters, &page(4, after)).await.unwrap();
                pages += 1;
                assert_eq!(p.total_count, 10, "filtered total_count on page {pages}");
                assert_eq!(p.has_next_page, pages < 3, "has_next_page on page {pages}");
                seen.extend(p.items.iter().map(|a| a.id));
                after = seen.last().copied();
                if !p.has_next_page {
                    break;
                }
                assert!(pages < 10, "pagination does not end");
            }
            assert_eq!(seen, expected);
        }

        let mut tx = read(store).await;
        let p = tx
            .applications(t, &[filter("env", None)], &page::<Uuid>(5, None))
            .await
            .unwrap();
        assert_eq!(p.total_count, 30);
        assert_eq!(p.items.len(), 5);
        assert!(p.has_next_page);
    }

    pub async fn filtered_list_costs_constant_statements(store: &Db) {
        async fn cost(store: &Db, n: usize) -> (u64, u64) {
            let t = tenant();
            let apps = insert_apps(store, t, "a", n).await;
            let rts = insert_runtimes(store, t, "r", n).await;
            let mut labels = Vec::new();
            for id in &apps {
                labels.push((app_ref(*id), "scenarios", json!(["DEFAULT"])));
                labels.push((app_ref(*id), "env", json!({"stage": "prod"})));
            }
            for id in &rts {
                labels.push((rt_ref(*id), "scenarios", json!(["DEFAULT"])));
                labels.push((rt_ref(*id), "env", json!({"stage": "prod"})));
            }
            set_labels(store, t, &labels).await;
            let filters = [
                filter("scenarios", Some(r#"$[*] ? (@ == "DEFAULT")"#)),
                filter("env", Some(r#"{"stage": "prod"}"#)),
                filter("env", None),
            ];

            let mut tx = read(store).await;
            let before = store.statements().get();
            let p = tx
                .applications(t, &filters, &PageRequest::all())
                .await
                .unwrap();
            let apps_cost = store.statements().get() - before;
            assert_eq!(p.items.len(), n);
            assert_eq!(p.total_count, n as i64);

            let before = store.statements().get();
            let p = tx.runtimes(t, &filters, &PageRequest::all()).await.unwrap();
            let runtimes_cost = store.statements().get() - before;
            assert_eq!(p.items.len(), n);
            (apps_cost, runtimes_cost)
        }

        let small = cost(store, 5).await;
        let large = cost(store, 50).await;
        assert_eq!(small, large, "statements for 5 vs 50 labelled objects");
        assert!(
            (2..=4).contains(&small.0) && (2..=4).contains(&small.1),
            "a filtered list costs a small constant number of statements, got {small:?}"
        );
    }

    /// The attempt log keeps each attempt's measure and outcome, newest first, only the
    /// newest `ATTEMPTS_KEPT` of a delivery, and only for its tenant; an attempt without
    /// the lease writes nothing.
    pub async fn delivery_attempt_log_keeps_the_newest(store: &Db) {
        use sextant_domain::delivery::{Delivery, DeliveryState, WebhookEventType};
        use sextant_store::{ATTEMPTS_KEPT, AttemptMeasure, AttemptOutcome};
        let t = tenant();
        let id = sextant_domain::DeliveryId::new_v4();
        let delivery = Delivery {
            id,
            event_id: sextant_domain::WebhookEventId::new_v4(),
            tenant: t,
            webhook_id: sextant_domain::WebhookId::new_v4(),
            application_id: ApplicationId::new_v4(),
            event_type: WebhookEventType::Test,
            body: "{}".to_owned(),
            state: DeliveryState::Pending,
            attempts: 0,
            created_at: T0,
            next_attempt_at: T0,
            last_attempt_at: None,
            last_error: None,
            delivered_at: None,
        };
        let mut tx = write(store).await;
        tx.insert_delivery(&delivery).await.unwrap();
        commit(tx).await;
        let owner = Uuid::new_v4();
        let total = ATTEMPTS_KEPT + 5;
        for n in 1..=total {
            let mut tx = write(store).await;
            let claimed = tx.claim_deliveries(owner, T1, T1, 1).await.unwrap();
            assert_eq!(claimed.len(), 1, "attempt {n}");
            let outcome = if n == total {
                AttemptOutcome::Delivered { at: T1 }
            } else {
                AttemptOutcome::Retry {
                    at: T1,
                    error: format!("HTTP 500 ({n})"),
                    next: T0,
                }
            };
            let measure = AttemptMeasure {
                started_at: T0,
                duration_ms: u64::from(n),
                http_status: Some(if n == total { 204 } else { 500 }),
            };
            assert!(
                tx.finish_attempt(id, owner, &outcome, &measure)
                    .await
                    .unwrap()
            );
            commit(tx).await;
        }
        // Without the lease (it was released): nothing is written.
        let mut tx = write(store).await;
        let measure = AttemptMeasure {
            started_at: T0,
            duration_ms: 1,
            http_status: None,
        };
        let done = AttemptOutcome::Delivered { at: T1 };
        assert!(!tx.finish_attempt(id, owner, &done, &measure).await.unwrap());
        commit(tx).await;

        let mut tx = read(store).await;
        let log = tx.delivery_attempts(t, &[id]).await.unwrap();
        let numbers: Vec<u32> = log.iter().map(|a| a.number).collect();
        let expected: Vec<u32> = (total - ATTEMPTS_KEPT + 1..=total).rev().collect();
        assert_eq!(numbers, expected);
        assert_eq!(log[0].http_status, Some(204));
        assert_eq!(log[0].error, None);
        assert_eq!(log[0].duration_ms, u64::from(total));
        assert_eq!(log[0].started_at, T0);
        assert_eq!(log[1].http_status, Some(500));
        assert_eq!(
            log[1].error.as_deref(),
            Some(format!("HTTP 500 ({})", total - 1).as_str())
        );
        assert!(
            tx.delivery_attempts(tenant(), &[id])
                .await
                .unwrap()
                .is_empty()
        );
        let stored = tx.delivery(t, id).await.unwrap().unwrap();
        assert_eq!(stored.attempts, total);
        assert_eq!(stored.state, DeliveryState::Delivered);
    }
}

/// The SQLite database and its WAL and shared-memory files are the owner's only (0600), for
/// a new database and for one whose files were created more open before.
#[tokio::test]
async fn sqlite_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let db = TestDatabase::create(Backend::Sqlite).await;
    let file = db.dir.join("sextant.db");
    let files = |file: &std::path::Path| {
        ["", "-wal", "-shm"].map(|suffix| {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            std::path::PathBuf::from(name)
        })
    };
    {
        let store = sextant_store::connect(&db.url).await.unwrap();
        let mut tx = store.write().await.unwrap();
        tx.insert_application(&app(tenant(), "shop")).await.unwrap();
        tx.commit().await.unwrap();
        for path in files(&file) {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }

    // An older database whose files are world-readable is restricted when opened.
    let old = TestDatabase::create(Backend::Sqlite).await;
    let old_file = old.dir.join("sextant.db");
    {
        let store = sextant_store::connect(&old.url).await.unwrap();
        let mut tx = store.write().await.unwrap();
        tx.insert_application(&app(tenant(), "shop")).await.unwrap();
        tx.commit().await.unwrap();
        // Kept open, so the WAL and shared-memory files stay.
        for path in files(&old_file) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let reopened = sextant_store::connect(&old.url).await.unwrap();
        for path in files(&old_file) {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        drop(reopened);
        drop(store);
    }
}

// ------------------------------------------------------------------------------------------
// Upgrading: migration 0012 (tenants are walls) on data made before it
// ------------------------------------------------------------------------------------------

/// Rows as the schema before migration 0012 held them: a system used in one tenant, one used
/// in two, one unused, and a template.
macro_rules! seed_before_walls {
    ($pool:expr, $t1:expr, $t2:expr, $solo:expr, $shared:expr, $unused:expr, $tpl:expr) => {{
        for (id, name) in [($solo, "solo"), ($shared, "shared"), ($unused, "unused")] {
            sqlx::query(
                "INSERT INTO integration_systems (id, name, description, created_at) \
                 VALUES ($1, $2, NULL, 0)",
            )
            .bind(id)
            .bind(name)
            .execute($pool)
            .await
            .unwrap();
        }
        for (tenant, name, system) in [
            ($t1, "a", $solo),
            ($t1, "b", $shared),
            ($t2, "c", $shared),
            ($t2, "d", $shared),
        ] {
            sqlx::query(
                "INSERT INTO applications (id, tenant_id, name, provider_name, \
                 integration_system_id, status_condition, status_timestamp, created_at) \
                 VALUES ($1, $2, $3, 'p', $4, 'INITIAL', 0, 0)",
            )
            .bind(Uuid::new_v4())
            .bind(tenant)
            .bind(name)
            .bind(system)
            .execute($pool)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO app_templates (id, name, application_input, placeholders, created_at) \
             VALUES ($1, 'old', '{}', '[]', 0)",
        )
        .bind($tpl)
        .execute($pool)
        .await
        .unwrap();
    }};
}

async fn upgrade_keeps_what_worked(backend: Backend) {
    use std::str::FromStr;
    let db = TestDatabase::create(backend).await;
    let (t1, t2) = (tenant(), tenant());
    let (solo, shared, unused, tpl) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    // Everything before 0012 (numbers below it that other branches add included).
    match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::migrate!("./migrations/sqlite")
                .run_to(11, &pool)
                .await
                .unwrap();
            seed_before_walls!(&pool, t1.0, t2.0, solo, shared, unused, tpl);
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::migrate!("./migrations/postgres")
                .run_to(11, &pool)
                .await
                .unwrap();
            seed_before_walls!(&pool, t1.0, t2.0, solo, shared, unused, tpl);
            pool.close().await;
        }
    }
    let store = sextant_store::connect(&db.url).await.unwrap();
    let mut tx = store.read().await.unwrap();
    // Used in one tenant: owned and granted there.
    let s = tx
        .integration_system(IntegrationSystemId::from_untyped(solo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.owner, t1);
    assert!(
        tx.integration_system_granted(t1, IntegrationSystemId::from_untyped(solo))
            .await
            .unwrap()
    );
    assert!(
        !tx.integration_system_granted(t2, IntegrationSystemId::from_untyped(solo))
            .await
            .unwrap()
    );
    assert!(
        !tx.integration_system_granted(TenantId::DEFAULT, IntegrationSystemId::from_untyped(solo))
            .await
            .unwrap()
    );
    // Used in two: granted in both, owned by the default tenant.
    let s = tx
        .integration_system(IntegrationSystemId::from_untyped(shared))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.owner, TenantId::DEFAULT);
    assert!(
        tx.integration_system_granted(t1, IntegrationSystemId::from_untyped(shared))
            .await
            .unwrap()
    );
    assert!(
        tx.integration_system_granted(t2, IntegrationSystemId::from_untyped(shared))
            .await
            .unwrap()
    );
    assert!(
        !tx.integration_system_granted(
            TenantId::DEFAULT,
            IntegrationSystemId::from_untyped(shared)
        )
        .await
        .unwrap()
    );
    // Unused: the default tenant's, granted nowhere.
    let s = tx
        .integration_system(IntegrationSystemId::from_untyped(unused))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.owner, TenantId::DEFAULT);
    assert!(
        !tx.integration_system_granted(t1, IntegrationSystemId::from_untyped(unused))
            .await
            .unwrap()
    );
    let page = tx
        .integration_systems(t2, &PageRequest::all())
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![IntegrationSystemId::from_untyped(shared)]
    );
    // The template stays global: every tenant reads it.
    for t in [t1, t2, tenant()] {
        let template = tx
            .application_template(t, TemplateId::from_untyped(tpl))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(template.tenant, None);
        assert_eq!(template.name, "old");
    }
}

mod upgrade {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::upgrade_keeps_what_worked(super::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::upgrade_keeps_what_worked(super::Backend::Postgres).await
    }
}
