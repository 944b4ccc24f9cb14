//! No N+1: a page of applications with their labels costs a bounded number of statements.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn statements_for(app: &TestApp, first: i64) -> u64 {
    let before = app.statements();
    let data = app
        .gql(
            "query($first: Int) { applications(first: $first) { data { id name labels } totalCount } }",
            json!({"first": first}),
        )
        .await;
    assert_eq!(
        data["applications"]["data"].as_array().unwrap().len() as i64,
        first
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

on_both_backends!(page_of_applications_with_labels_costs_constant_statements);
