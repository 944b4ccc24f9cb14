//! A registration writes its children set-wise: one with a single API, event, document and
//! webhook costs the same number of statements as one with 20 of each (their specs written in
//! one statement, each kind of child in one), and what it stores is exact: every spec text
//! once, shared texts included, and the tenant's spec usage counter equal to the sum of its
//! definitions' spec sizes.

use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const REGISTER: &str =
    "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";

/// A spec text unique to `marker`, valid as an OpenAPI and as an AsyncAPI document (so that
/// an API and an event may name the same text).
fn spec_text(marker: &str) -> String {
    format!(
        "openapi: 3.0.0\nasyncapi: 2.0.0\ninfo:\n  title: {marker}\n  version: 1.0.0\npaths: {{}}\nchannels: {{}}\n"
    )
}

/// A registration named `name` with `n` APIs, events, documents and webhooks and three
/// labels. API `i` has text `i / 2` (pairs share a text) and event `i` text `i` (so events
/// repeat the APIs' texts): one registration names some specs several times. With more than
/// one API, the last has no spec.
fn registration(name: &str, n: usize) -> Value {
    let apis: Vec<Value> = (0..n)
        .map(|i| {
            let mut api =
                json!({"name": format!("api-{i}"), "targetURL": "https://api.example.com"});
            if n == 1 || i + 1 < n {
                api["spec"] = json!({"data": spec_text(&format!("{name}-{}", i / 2)),
                                     "type": "OPEN_API", "format": "YAML"});
            }
            api
        })
        .collect();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": format!("event-{i}"), "spec": {"data": spec_text(&format!("{name}-{i}")),
                   "type": "ASYNC_API", "format": "YAML"}})
        })
        .collect();
    let documents: Vec<Value> = (0..n)
        .map(|i| {
            json!({"title": format!("doc {i}"), "displayName": "Doc", "description": "d",
                   "format": "MARKDOWN", "data": format!("# {name} {i}\n")})
        })
        .collect();
    let webhooks: Vec<Value> = (0..n)
        .map(|i| {
            json!({"type": "CONFIGURATION_CHANGED", "url": format!("http://127.0.0.1:9/hook/{i}")})
        })
        .collect();
    json!({"in": {
        "name": name,
        "providerName": "acme",
        "description": "set-wise",
        "labels": {"scenarios": ["DEFAULT"], "team": "shop", "tier": ["gold"]},
        "apiDefinitions": apis,
        "eventDefinitions": events,
        "documents": documents,
        "webhooks": webhooks,
    }})
}

/// Registers `input` and answers the application's id and the statements it cost.
async fn register(app: &TestApp, input: Value) -> (String, u64) {
    let before = app.statements();
    let data = app.gql(REGISTER, input).await;
    let cost = app.statements() - before;
    let id = data["registerApplication"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{data}"))
        .to_owned();
    (id, cost)
}

/// The children of an application as the Director answers them.
async fn children(app: &TestApp, id: &str) -> Value {
    app.gql(
        "query($id: ID!) { application(id: $id) {
            apiDefinitions(first: 100) { totalCount data { name spec { data } } }
            eventDefinitions(first: 100) { totalCount data { name spec { data } } }
            documents(first: 100) { totalCount data { title data } }
            webhooks { url } } }",
        json!({"id": id}),
    )
    .await["application"]
        .clone()
}

/// The spec texts of an input, in its order (APIs, then events).
fn spec_texts(input: &Value) -> Vec<Option<String>> {
    let apis = input["in"]["apiDefinitions"].as_array().unwrap().iter();
    let events = input["in"]["eventDefinitions"].as_array().unwrap().iter();
    apis.chain(events)
        .map(|d| d["spec"]["data"].as_str().map(str::to_owned))
        .collect()
}

/// Checks that the application stored exactly what `input` asked for.
async fn stored_as_asked(app: &TestApp, id: &str, input: &Value) {
    let read = children(app, id).await;
    let n = input["in"]["apiDefinitions"].as_array().unwrap().len();
    for kind in ["apiDefinitions", "eventDefinitions", "documents"] {
        assert_eq!(read[kind]["totalCount"], n, "{kind}: {read}");
    }
    assert_eq!(read["webhooks"].as_array().unwrap().len(), n);
    let by_name = |kind: &str| -> Vec<(String, Option<String>)> {
        let mut items: Vec<(String, Option<String>)> = read[kind]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_owned(),
                    d["spec"]["data"].as_str().map(str::to_owned),
                )
            })
            .collect();
        items.sort_by_key(|(name, _)| {
            name.rsplit('-')
                .next()
                .and_then(|i| i.parse::<usize>().ok())
        });
        items
    };
    let stored: Vec<Option<String>> = by_name("apiDefinitions")
        .into_iter()
        .chain(by_name("eventDefinitions"))
        .map(|(_, data)| data)
        .collect();
    assert_eq!(stored, spec_texts(input));
    let mut documents: Vec<String> = read["documents"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["data"].as_str().unwrap().to_owned())
        .collect();
    let mut asked: Vec<String> = input["in"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["data"].as_str().unwrap().to_owned())
        .collect();
    documents.sort();
    asked.sort();
    assert_eq!(documents, asked);
}

async fn a_registration_costs_the_same_statements_whatever_its_children(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The first registration of a tenant makes its label definitions.
    register(&app, registration("warm-up", 1)).await;

    let small_input = registration("small", 1);
    let large_input = registration("large", 20);
    let (small, one) = register(&app, small_input.clone()).await;
    let (large, twenty) = register(&app, large_input.clone()).await;
    // What P6 registers: 10 APIs and 10 events with specs, three labels, no webhook.
    let mut bench_like = registration("bench-like", 10);
    bench_like["in"]["documents"] = json!([]);
    bench_like["in"]["webhooks"] = json!([]);
    let (_, p6) = register(&app, bench_like).await;
    eprintln!(
        "registerApplication: {one} statements with 1 child of each kind, {twenty} with 20, \
         {p6} for 10 APIs + 10 events without webhooks"
    );
    assert_eq!(one, twenty, "statements must not grow with the children");
    // SQLite: with webhooks, the waiting webhook fan-outs it would change; the application,
    // the labels' definitions and the labels (three statements: the labels, then their
    // indexed values deleted and written again), the specs, APIs, events, documents and
    // webhooks, the fan-out to record, the quota and the epoch; PostgreSQL adds the quota's
    // lock and the epoch's notification.
    assert!(twenty <= 16, "a registration costs {twenty} statements");
    assert!(p6 <= 12, "a registration like P6's costs {p6} statements");
    // The same texts again (stored already): the counter counts them once more.
    let mut again_input = registration("small", 1);
    again_input["in"]["name"] = json!("small-again");
    let (again, repeated) = register(&app, again_input.clone()).await;
    assert_eq!(repeated, one);

    stored_as_asked(&app, &small, &small_input).await;
    stored_as_asked(&app, &again, &again_input).await;
    stored_as_asked(&app, &large, &large_input).await;

    // The usage counter is the sum of the definitions' spec sizes, shared texts counted per
    // definition; every distinct text is stored once.
    let sizes = |input: &Value| -> u64 {
        spec_texts(input)
            .iter()
            .flatten()
            .map(|t| t.len() as u64)
            .sum()
    };
    let mut tx = app.server().store.read().await.unwrap();
    let tenant = TenantId::DEFAULT;
    let large_id = large.parse().unwrap();
    let usage = tx.spec_usage(tenant, large_id).await.unwrap();
    assert_eq!(usage.application, sizes(&large_input));
    let everything = sizes(&registration("warm-up", 1))
        + 2 * sizes(&small_input)
        + sizes(&large_input)
        + sizes(&registration("bench-like", 10));
    assert_eq!(usage.tenant, everything);
    for text in spec_texts(&large_input).into_iter().flatten() {
        let sha256 = sextant_store::spec_sha256(&text);
        assert_eq!(tx.spec(&sha256).await.unwrap(), Some(text));
    }
    drop(tx);

    // Unregistering gives the bytes back and takes the texts no one else names.
    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": large}),
    )
    .await;
    let mut tx = app.server().store.read().await.unwrap();
    let usage = tx.spec_usage(tenant, large_id).await.unwrap();
    assert_eq!(usage.application, 0);
    assert_eq!(usage.tenant, everything - sizes(&large_input));
    for text in spec_texts(&large_input).into_iter().flatten() {
        let sha256 = sextant_store::spec_sha256(&text);
        assert_eq!(tx.spec(&sha256).await.unwrap(), None);
    }
    drop(tx);
    // A text two applications name stays until the second goes.
    let shared = spec_texts(&small_input)[0].clone().unwrap();
    let sha256 = sextant_store::spec_sha256(&shared);
    for (id, left) in [(&small, true), (&again, false)] {
        app.gql(
            "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        let mut tx = app.server().store.read().await.unwrap();
        assert_eq!(tx.spec(&sha256).await.unwrap().is_some(), left);
    }
}

on_both_backends!(a_registration_costs_the_same_statements_whatever_its_children);
