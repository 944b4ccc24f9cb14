//! Label filters over the indexed label values (migration 0022), on SQLite and PostgreSQL:
//! after any mix of label writes (sets, overwrites, batch sets, deletes, deleted objects,
//! labels removed by key as a definition change does), every filter answers exactly what the
//! filter semantics say (`json_contains`, PostgreSQL's `@>`; an array holding one of the
//! strings; the key alone), page by page and in its total; labels written before the
//! migration are found as well; and a filtered page costs the same statements whatever its
//! size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sextant_domain::label::{LabelFilter, LabelQuery, json_contains};
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, Cursor, ObjectKind, ObjectRef,
    PageRequest, Runtime, RuntimeId, RuntimeStatusCondition, TenantId,
};
use sextant_store::{Store, Tx};
use sextant_test_support::{Backend, TestDatabase, on_both_backends};
use time::OffsetDateTime;
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

/// A small deterministic generator (xorshift64*): the same mix on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: [&str; 4] = ["env", "scenarios", "flag", "size"];

fn long_string() -> String {
    "x".repeat(1500)
}

/// Label values: scalars of every type (numbers equal by value across integer and real,
/// strings that look like numbers and booleans), arrays of them, nested arrays, objects,
/// empty containers, null, and strings too long for the index.
fn values() -> Vec<Value> {
    vec![
        json!("prod"),
        json!("dev"),
        json!("1"),
        json!("true"),
        json!("é ü"),
        json!(""),
        json!(1),
        json!(1.0),
        json!(2.5),
        json!(-3),
        json!(true),
        json!(false),
        json!(null),
        json!(["A"]),
        json!(["A", "B"]),
        json!(["prod", "dev", "prod"]),
        json!(["B", 1, true, null, 2.5]),
        json!([1.0, "1", false]),
        json!([["prod"], {"a": "A"}]),
        json!([]),
        json!({"a": "prod"}),
        json!({}),
        json!(long_string()),
        json!([long_string(), "A"]),
    ]
}

/// Filters: the key alone, containment of every kind of value, scenarios queries (over any
/// key: the store does not care), and pairs of them.
fn filters() -> Vec<Vec<LabelFilter>> {
    let contains = |key: &str, value: Value| LabelFilter {
        key: key.to_owned(),
        query: LabelQuery::Contains(value),
    };
    let any_of = |key: &str, values: &[&str]| LabelFilter {
        key: key.to_owned(),
        query: LabelQuery::AnyOf(values.iter().map(|v| (*v).to_owned()).collect()),
    };
    let mut singles = Vec::new();
    for key in KEYS {
        singles.push(LabelFilter {
            key: key.to_owned(),
            query: LabelQuery::Exists,
        });
        for value in [
            json!("prod"),
            json!("1"),
            json!("true"),
            json!("é ü"),
            json!(""),
            json!(1),
            json!(1.0),
            json!(2.5),
            json!(-3),
            json!(true),
            json!(false),
            json!(null),
            json!(["prod"]),
            json!(["A", "B"]),
            json!({"a": "prod"}),
            json!([]),
            json!(long_string()),
        ] {
            singles.push(contains(key, value));
        }
        singles.push(any_of(key, &["A"]));
        singles.push(any_of(key, &["B", "prod"]));
        singles.push(any_of(key, &["1"]));
        singles.push(any_of(key, &[long_string().as_str()]));
    }
    let mut all: Vec<Vec<LabelFilter>> = singles.iter().cloned().map(|f| vec![f]).collect();
    all.push(vec![
        contains("env", json!("prod")),
        any_of("scenarios", &["A"]),
    ]);
    all.push(vec![
        any_of("scenarios", &["A", "B"]),
        LabelFilter {
            key: "flag".to_owned(),
            query: LabelQuery::Exists,
        },
    ]);
    all.push(vec![
        contains("env", json!({"a": "prod"})),
        contains("size", json!(1)),
    ]);
    all
}

/// What a filter selects, by its definition.
fn matches(labels: &BTreeMap<String, Value>, filter: &LabelFilter) -> bool {
    let Some(value) = labels.get(&filter.key) else {
        return false;
    };
    match &filter.query {
        LabelQuery::Exists => true,
        LabelQuery::AnyOf(wanted) => value.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| i.as_str().is_some_and(|s| wanted.iter().any(|w| w == s)))
        }),
        LabelQuery::Contains(wanted) => json_contains(value, wanted),
    }
}

/// The objects and labels as the writes left them, by tenant and object id.
#[derive(Default)]
struct Model {
    objects: BTreeMap<(TenantId, Uuid), (ObjectRef, BTreeMap<String, Value>)>,
}

impl Model {
    fn expected(&self, tenant: TenantId, kind: ObjectKind, filters: &[LabelFilter]) -> Vec<Uuid> {
        // Ids in the lists' order: a UUID's bytes, which both backends compare.
        self.objects
            .iter()
            .filter(|((t, _), (o, labels))| {
                *t == tenant && o.kind() == kind && filters.iter().all(|f| matches(labels, f))
            })
            .map(|((_, id), _)| *id)
            .collect()
    }

    fn labels(&mut self, tenant: TenantId, object: ObjectRef) -> &mut BTreeMap<String, Value> {
        &mut self
            .objects
            .get_mut(&(tenant, object.id()))
            .expect("a known object")
            .1
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

async fn insert_object(
    tx: &mut Box<dyn Tx>,
    tenant: TenantId,
    kind: ObjectKind,
    n: usize,
) -> ObjectRef {
    match kind {
        ObjectKind::Application => {
            let app = Application {
                id: ApplicationId::new_v4(),
                tenant,
                name: sextant_domain::Name::parse(format!("app-{n}")).unwrap(),
                provider_name: "acme".to_owned(),
                description: None,
                health_check_url: None,
                integration_system_id: None,
                status_condition: ApplicationStatusCondition::Initial,
                status_timestamp: now(),
                created_at: now(),
            };
            tx.insert_application(&app).await.unwrap();
            ObjectRef::Application(app.id)
        }
        ObjectKind::Runtime => {
            let rt = Runtime {
                id: RuntimeId::new_v4(),
                tenant,
                name: sextant_domain::Name::parse(format!("rt-{n}")).unwrap(),
                description: None,
                status_condition: RuntimeStatusCondition::Initial,
                status_timestamp: now(),
                status_message: None,
                created_at: now(),
            };
            tx.insert_runtime(&rt).await.unwrap();
            ObjectRef::Runtime(rt.id)
        }
    }
}

/// Walks the filtered list in pages of `first` and answers the ids and each page's total.
async fn listed(
    tx: &mut Box<dyn Tx>,
    tenant: TenantId,
    kind: ObjectKind,
    filters: &[LabelFilter],
    first: u32,
) -> (Vec<Uuid>, Vec<i64>) {
    let mut ids = Vec::new();
    let mut totals = Vec::new();
    let mut after = None;
    loop {
        let request = PageRequest { first, after };
        let (page_ids, total, next) = match kind {
            ObjectKind::Application => {
                let page = tx.applications(tenant, filters, &request).await.unwrap();
                let ids: Vec<Uuid> = page.items.iter().map(|a| a.id.into()).collect();
                (ids, page.total_count, page.has_next_page)
            }
            ObjectKind::Runtime => {
                let page = tx.runtimes(tenant, filters, &request).await.unwrap();
                let ids: Vec<Uuid> = page.items.iter().map(|r| r.id.into()).collect();
                (ids, page.total_count, page.has_next_page)
            }
        };
        totals.push(total);
        after = page_ids.last().copied().map(Cursor);
        ids.extend(page_ids);
        if !next {
            return (ids, totals);
        }
    }
}

/// Every filter on both kinds in both tenants answers what the model says.
async fn check(store: &Arc<dyn Store>, model: &Model, tenants: &[TenantId], round: usize) {
    let mut tx = store.read().await.unwrap();
    for tenant in tenants {
        for kind in [ObjectKind::Application, ObjectKind::Runtime] {
            for filters in filters() {
                let expected = model.expected(*tenant, kind, &filters);
                let (ids, totals) = listed(&mut tx, *tenant, kind, &filters, 7).await;
                assert_eq!(ids, expected, "round {round}, {kind:?}, {filters:?}");
                assert!(
                    totals.iter().all(|t| *t == expected.len() as i64),
                    "round {round}, {kind:?}, {filters:?}: totals {totals:?}, {} expected",
                    expected.len()
                );
            }
        }
    }
}

async fn filters_match_the_labels_after_every_kind_of_write(backend: Backend) {
    let fixture = fixture(backend).await;
    let store = &fixture.store;
    let tenants = [TenantId(Uuid::new_v4()), TenantId(Uuid::new_v4())];
    let mut model = Model::default();
    let mut rng = Rng(0x0005_eed1_abe1_u64);
    let values = values();
    let mut made = 0;

    for round in 0..12 {
        let mut tx = store.write().await.unwrap();
        for _ in 0..40 {
            let tenant = *rng.pick(&tenants);
            let kind = *rng.pick(&[ObjectKind::Application, ObjectKind::Runtime]);
            let existing: Vec<ObjectRef> = model
                .objects
                .iter()
                .filter(|((t, _), (o, _))| *t == tenant && o.kind() == kind)
                .map(|(_, (o, _))| *o)
                .collect();
            if existing.len() < 4 || rng.below(6) == 0 {
                made += 1;
                let object = insert_object(&mut tx, tenant, kind, made).await;
                model
                    .objects
                    .insert((tenant, object.id()), (object, BTreeMap::new()));
                continue;
            }
            let object = *rng.pick(&existing);
            let labels = model.labels(tenant, object);
            match rng.below(10) {
                // One label, new or overwritten.
                0..=3 => {
                    let key = *rng.pick(&KEYS);
                    let value = rng.pick(&values).clone();
                    tx.set_label(tenant, object, key, &value).await.unwrap();
                    labels.insert(key.to_owned(), value);
                }
                // Several labels at once, as a registration or an update writes them.
                4..=5 => {
                    let mut batch: BTreeMap<&str, Value> = BTreeMap::new();
                    for _ in 0..3 {
                        batch.insert(*rng.pick(&KEYS), rng.pick(&values).clone());
                    }
                    let pairs: Vec<(&str, &Value)> = batch.iter().map(|(k, v)| (*k, v)).collect();
                    tx.set_labels(tenant, object, &pairs).await.unwrap();
                    for (key, value) in batch {
                        labels.insert(key.to_owned(), value);
                    }
                }
                6 => {
                    let key = *rng.pick(&KEYS);
                    tx.delete_label(tenant, object, key).await.unwrap();
                    labels.remove(key);
                }
                7 => {
                    tx.delete_all_labels(tenant, object).await.unwrap();
                    labels.clear();
                }
                // The object goes, and its labels with it.
                8 => {
                    match object {
                        ObjectRef::Application(id) => {
                            assert!(tx.delete_application(tenant, id).await.unwrap());
                        }
                        ObjectRef::Runtime(id) => {
                            assert!(tx.delete_runtime(tenant, id).await.unwrap());
                        }
                    }
                    model.objects.remove(&(tenant, object.id()));
                }
                // A label definition removed with its labels; rarely, so labels build up.
                _ if rng.below(4) == 0 => {
                    let key = *rng.pick(&KEYS);
                    tx.delete_labels_with_key(tenant, key).await.unwrap();
                    for ((t, _), (_, labels)) in model.objects.iter_mut() {
                        if *t == tenant {
                            labels.remove(key);
                        }
                    }
                }
                _ => {}
            }
        }
        tx.commit().await.unwrap();
        // Every few rounds, a transaction that changes labels and is rolled back.
        if round % 4 == 3 {
            let mut tx = store.write().await.unwrap();
            for ((tenant, _), (object, _)) in model.objects.iter().take(10) {
                tx.set_label(*tenant, *object, "env", &json!("prod"))
                    .await
                    .unwrap();
                tx.delete_label(*tenant, *object, "scenarios")
                    .await
                    .unwrap();
            }
            drop(tx);
        }
        check(store, &model, &tenants, round).await;
    }
}

/// Labels stored before migration 0022 are found by the filters after it.
async fn labels_written_before_the_index_are_found(backend: Backend) {
    use std::str::FromStr;
    let db = TestDatabase::create(backend).await;
    let tenant = TenantId(Uuid::new_v4());
    let values = values();
    let mut model = Model::default();
    let mut rows: Vec<(ObjectRef, &str, Value)> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let app = ObjectRef::Application(ApplicationId::new_v4());
        let rt = ObjectRef::Runtime(RuntimeId::new_v4());
        for (j, object) in [app, rt].into_iter().enumerate() {
            let key = KEYS[(i + j) % KEYS.len()];
            let other = values[(i * 7 + j) % values.len()].clone();
            rows.push((object, key, value.clone()));
            rows.push((object, "env", other.clone()));
            let mut labels = BTreeMap::new();
            labels.insert("env".to_owned(), other);
            labels.insert(key.to_owned(), value.clone());
            model
                .objects
                .insert((tenant, object.id()), (object, labels));
        }
    }
    // Objects and labels as an older version wrote them: labels as serde_json's text.
    macro_rules! seed {
        ($pool:expr) => {{
            for (n, (object, _)) in model.objects.values().enumerate() {
                let (table, name) = match object.kind() {
                    ObjectKind::Application => ("applications", format!("app-{n}")),
                    ObjectKind::Runtime => ("runtimes", format!("rt-{n}")),
                };
                let extra = match object.kind() {
                    ObjectKind::Application => (", provider_name", ", 'acme'"),
                    ObjectKind::Runtime => ("", ""),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (id, tenant_id, name, status_condition, \
                     status_timestamp, created_at{}) VALUES ($1, $2, $3, 'INITIAL', 0, 0{})",
                    extra.0, extra.1
                )))
                .bind(object.id())
                .bind(tenant.0)
                .bind(name)
                .execute($pool)
                .await
                .unwrap();
            }
            for (object, key, value) in &rows {
                let (table, column) = match object.kind() {
                    ObjectKind::Application => ("application_labels", "app_id"),
                    ObjectKind::Runtime => ("runtime_labels", "runtime_id"),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (tenant_id, {column}, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .bind(*key)
                .bind(sqlx::types::Json(value))
                .execute($pool)
                .await
                .unwrap();
            }
        }};
    }
    match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::migrate!("./migrations/sqlite")
                .run_to(21, &pool)
                .await
                .unwrap();
            seed!(&pool);
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::migrate!("./migrations/postgres")
                .run_to(21, &pool)
                .await
                .unwrap();
            seed!(&pool);
            pool.close().await;
        }
    }
    // The last writer of a key wins, in the model as in the table.
    for (object, key, value) in &rows {
        model
            .labels(tenant, *object)
            .insert((*key).to_owned(), value.clone());
    }
    let store: Arc<dyn Store> = sextant_store::connect(&db.url).await.unwrap();
    check(&store, &model, &[tenant], 0).await;
    // And the values stay exact when those labels change.
    let mut tx = store.write().await.unwrap();
    for ((t, _), (object, labels)) in model.objects.iter_mut() {
        tx.set_label(*t, *object, "env", &json!(["prod", 1]))
            .await
            .unwrap();
        labels.insert("env".to_owned(), json!(["prod", 1]));
    }
    tx.commit().await.unwrap();
    check(&store, &model, &[tenant], 1).await;
    drop(store);
}

/// A filtered page costs the same statements with 1 object as with 100, whichever filter
/// drives it.
async fn a_filtered_page_costs_the_same_statements_whatever_its_size(backend: Backend) {
    let fixture = fixture(backend).await;
    let store = &fixture.store;
    let tenant = TenantId(Uuid::new_v4());
    let mut tx = store.write().await.unwrap();
    for n in 0..120 {
        for kind in [ObjectKind::Application, ObjectKind::Runtime] {
            let object = insert_object(&mut tx, tenant, kind, n).await;
            let env = json!(["prod", "dev", "test"][n % 3]);
            let scenarios = json!(["DEFAULT", "A"]);
            tx.set_labels(tenant, object, &[("env", &env), ("scenarios", &scenarios)])
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let cases = [
        vec![],
        vec![LabelFilter::parse("env", Some(r#""prod""#)).unwrap()],
        vec![LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "A")"#)).unwrap()],
        vec![LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "A" || @ == "B")"#)).unwrap()],
        vec![LabelFilter::parse("env", None).unwrap()],
        vec![
            LabelFilter::parse("env", Some(r#""prod""#)).unwrap(),
            LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "DEFAULT")"#)).unwrap(),
        ],
    ];
    let mut tx = store.read().await.unwrap();
    for filters in &cases {
        let mut costs = Vec::new();
        for first in [1, 100] {
            let request = PageRequest { first, after: None };
            let before = store.statements().get();
            let apps = tx.applications(tenant, filters, &request).await.unwrap();
            let runtimes = tx.runtimes(tenant, filters, &request).await.unwrap();
            costs.push(store.statements().get() - before);
            assert_eq!(
                apps.items.len(),
                (first as usize).min(apps.total_count as usize)
            );
            assert_eq!(runtimes.items.len(), apps.items.len());
        }
        assert_eq!(
            costs[0], costs[1],
            "{filters:?}: statements for 1 vs 100 rows"
        );
        assert_eq!(costs[0], 4, "{filters:?}: a page and its count, per kind");
    }
}

on_both_backends!(
    filters_match_the_labels_after_every_kind_of_write,
    labels_written_before_the_index_are_found,
    a_filtered_page_costs_the_same_statements_whatever_its_size,
);
