//! No N+1: a page of applications with their labels costs a bounded number of statements.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn statements_for(app: &TestApp, first: i64) -> u64 {
    statements_filtered(app, "applications", first, json!(null)).await
}

/// The statements of a page of `first` objects of `list` (`applications` or `runtimes`)
/// that pass `filter`, with their labels.
async fn statements_filtered(app: &TestApp, list: &str, first: i64, filter: Value) -> u64 {
    let before = app.statements();
    let data = app
        .gql(
            &format!(
                "query($first: Int, $filter: [LabelFilter!]) {{ {list}(first: $first, filter: $filter) \
                 {{ data {{ id name labels }} totalCount }} }}"
            ),
            json!({"first": first, "filter": filter}),
        )
        .await;
    assert_eq!(
        data[list]["data"].as_array().unwrap().len() as i64,
        first,
        "{data}"
    );
    app.statements() - before
}

async fn page_of_applications_with_labels_costs_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..100 {
        app.register_app(&format!("app-{i}"), json!({"env": "prod", "team": i}))
            .await;
    }
    let small = statements_for(&app, 2).await;
    let large = statements_for(&app, 100).await;
    assert_eq!(small, large, "statements must not grow with the page size");
    assert!(large <= 4, "a page with labels costs {large} statements");
    // The same for runtimes.
    for i in 0..30 {
        app.register_runtime(&format!("rt-{i}"), json!({"region": "eu"}))
            .await;
    }
    let before = app.statements();
    app.gql("{ runtimes { data { id labels } } }", json!({}))
        .await;
    let runtimes = app.statements() - before;
    let before = app.statements();
    app.gql("{ runtimes(first: 1) { data { id labels } } }", json!({}))
        .await;
    assert_eq!(runtimes, app.statements() - before);
}

/// A list filtered by a label (a value, a scenario, the key alone) costs the same statements
/// for a page of 2 as for a page of 100: the filter is an index range, the labels one
/// statement.
async fn filtered_pages_cost_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["BLUE"]).await;
    for i in 0..100 {
        app.register_app(
            &format!("app-{i}"),
            json!({"env": "prod", "size": i % 3, "scenarios": ["DEFAULT", "BLUE"]}),
        )
        .await;
        app.register_runtime(
            &format!("rt-{i}"),
            json!({"env": "prod", "size": i % 3, "scenarios": ["BLUE"]}),
        )
        .await;
    }
    for list in ["applications", "runtimes"] {
        for filter in [
            json!([{"key": "env", "query": "\"prod\""}]),
            json!([{"key": "scenarios", "query": "$[*] ? (@ == \"BLUE\")"}]),
            json!([{"key": "size"}]),
            json!([{"key": "env", "query": "\"prod\""}, {"key": "scenarios", "query": "$[*] ? (@ == \"BLUE\")"}]),
        ] {
            let small = statements_filtered(&app, list, 2, filter.clone()).await;
            let large = statements_filtered(&app, list, 100, filter.clone()).await;
            assert_eq!(
                small, large,
                "{list} {filter}: statements grow with the page size"
            );
            assert!(
                large <= 4,
                "{list} {filter}: a page costs {large} statements"
            );
        }
    }
}

/// The Sextant search arguments of `applications` and `runtimes`: a name prefix (any letter
/// case) and a status, with a label filter and the cursor, cost the same statements for a
/// page of 2 as for a page of 100; a prefix longer than a name is a validation error.
async fn searched_pages_cost_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..120 {
        let name = if i < 110 {
            format!("shop-{i}")
        } else {
            format!("other-{i}")
        };
        app.register_app(&name, json!({"env": "prod"})).await;
        app.register_runtime(&name, json!({"env": "prod"})).await;
    }
    for (list, status_type) in [
        ("applications", "ApplicationStatusCondition"),
        ("runtimes", "RuntimeStatusCondition"),
    ] {
        searched_list_costs_constant_statements(&app, list, status_type).await;
    }
}

async fn searched_list_costs_constant_statements(app: &TestApp, list: &str, status_type: &str) {
    let search = |first: i64, after: Value| {
        json!({"first": first, "after": after, "prefix": "SHOP-", "status": "INITIAL",
               "filter": [{"key": "env", "query": "\"prod\""}]})
    };
    let query = format!(
        "query($first: Int, $after: PageCursor, $prefix: String, \
         $status: {status_type}, $filter: [LabelFilter!]) {{ \
         {list}(first: $first, after: $after, namePrefix: $prefix, status: $status, \
         filter: $filter) {{ data {{ id name labels }} totalCount pageInfo {{ endCursor }} }} }}"
    );
    let mut counts = Vec::new();
    for first in [2, 100] {
        let before = app.statements();
        let data = app.gql(&query, search(first, Value::Null)).await;
        counts.push(app.statements() - before);
        assert_eq!(data[list]["totalCount"], 110, "{list}: {data}");
        let names = data[list]["data"].as_array().unwrap();
        assert_eq!(names.len() as i64, first, "{list}");
        assert!(
            names
                .iter()
                .all(|a| a["name"].as_str().unwrap().starts_with("shop-")),
            "{list}: {data}"
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "{list}: statements must not grow with the page size"
    );
    // The rest after a cursor: the 10 beyond the first 100.
    let first = app.gql(&query, search(100, Value::Null)).await;
    let cursor = first[list]["pageInfo"]["endCursor"].clone();
    let rest = app.gql(&query, search(100, cursor)).await;
    assert_eq!(rest[list]["data"].as_array().unwrap().len(), 10, "{list}");
    let none = app
        .gql(
            &format!("{{ {list}(status: READY) {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(none[list]["totalCount"], 0, "{list}");
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            &format!("query($p: String) {{ {list}(namePrefix: $p) {{ totalCount }} }}"),
            json!({"p": "x".repeat(37)}),
        )
        .await;
    assert!(message.contains("namePrefix"), "{list}: {message}");
}

on_both_backends!(
    searched_pages_cost_constant_statements,
    page_of_applications_with_labels_costs_constant_statements,
    filtered_pages_cost_constant_statements,
);
