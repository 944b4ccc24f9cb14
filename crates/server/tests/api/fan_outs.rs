//! Webhook fan-outs are recorded by the change and expanded by the notifier afterwards, in
//! batches; the deliveries must still be exactly those of the state the change left. A
//! change that alters the set of a fan-out still being expanded (applications joining or
//! leaving its scenario) expands the rest of it first.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_domain::ApplicationId;
use sextant_domain::TenantId;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

/// Applications of the scenario a runtime joins.
const MEMBERS: usize = 300;
/// Applications that join (and that leave) the scenario while its fan-out is expanded.
const MOVERS: usize = 20;

/// Registers `count` applications in `scenario`, each with one API without a default auth
/// and a webhook; answers their ids.
async fn register(app: &TestApp, prefix: &str, scenario: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for from in (0..count).step_by(50) {
        let to = (from + 50).min(count);
        let fields: String = (from..to)
            .map(|i| {
                format!(
                    r#" a{i}: registerApplication(in: {{name: "{prefix}-{i}", providerName: "acme",
                        labels: {{scenarios: ["{scenario}"]}},
                        apiDefinitions: [{{name: "api", targetURL: "https://api.example.com"}}],
                        webhooks: [{{type: CONFIGURATION_CHANGED, url: "http://127.0.0.1:9/hook"}}]}}) {{ id }}"#
                )
            })
            .collect();
        let data = app.gql(&format!("mutation {{{fields} }}"), json!({})).await;
        for i in from..to {
            ids.push(data[format!("a{i}")]["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

/// Per application: how many deliveries of each event type about `runtime` it has.
async fn told(app: &TestApp, apps: &[String], runtime: &str) -> BTreeMap<String, (usize, usize)> {
    app.expanded_outbox().await;
    let mut tx = app.server().store.read().await.unwrap();
    let mut out = BTreeMap::new();
    for id in apps {
        let app_id: uuid::Uuid = id.parse().unwrap();
        let webhook = tx
            .webhooks(TenantId::DEFAULT, &[ApplicationId::from_untyped(app_id)])
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
            .id;
        let deliveries = tx
            .deliveries_of_webhooks(TenantId::DEFAULT, &[webhook], 100_000)
            .await
            .unwrap();
        let mut counts = (0, 0);
        for d in deliveries {
            let body: Value = serde_json::from_str(&d.body).unwrap();
            if body["runtimeID"] != runtime {
                continue;
            }
            match d.event_type.as_str() {
                "CONFIGURATION_CHANGED" => counts.0 += 1,
                "CREDENTIALS_REQUESTED" => counts.1 += 1,
                other => panic!("unexpected event {other}"),
            }
        }
        out.insert(id.clone(), counts);
    }
    out
}

async fn changes_during_an_expansion_leave_the_events_exact(backend: Backend) {
    // One application per transaction: the runtime's fan-outs take hundreds of batches.
    let options = sextant_server::ServerOptions {
        notifier: Some(sextant_server::notifier::NotifierSettings {
            fan_out_batch: 1,
            retry_base: Duration::from_secs(3600),
            retry_max: Duration::from_secs(3600),
            ..sextant_server::notifier::NotifierSettings::default()
        }),
        ..sextant_server::ServerOptions::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.define_scenarios(&["SHOP", "ELSEWHERE"]).await;
    let members = register(&app, "member", "SHOP", MEMBERS).await;
    let joiners = register(&app, "joiner", "ELSEWHERE", MOVERS).await;
    app.expanded_outbox().await;

    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    // The runtime's events are recorded, not yet all expanded, when the applications move.
    assert!(
        app.server()
            .store
            .read()
            .await
            .unwrap()
            .has_pending_fan_outs()
            .await
            .unwrap(),
        "the fan-outs were expanded before the test could change their sets"
    );
    let set = |id: &str, scenario: &str, i: usize| {
        format!(
            r#" m{i}: setApplicationLabel(applicationID: "{id}", key: "scenarios", value: ["{scenario}"]) {{ key }}"#
        )
    };
    let moves: String = joiners
        .iter()
        .enumerate()
        .map(|(i, id)| set(id, "SHOP", i))
        .chain(
            members[..MOVERS]
                .iter()
                .enumerate()
                .map(|(i, id)| set(id, "ELSEWHERE", MOVERS + i)),
        )
        .collect();
    app.gql(&format!("mutation {{{moves} }}"), json!({})).await;

    // Every member when the runtime joined heard of it and was asked for credentials, once,
    // whether it left afterwards or not.
    for (id, counts) in told(&app, &members, &runtime).await {
        assert_eq!(counts, (1, 1), "member {id}");
    }
    // The joiners were not members then: no CONFIGURATION_CHANGED about the runtime; one
    // credentials request, from their own joining.
    for (id, counts) in told(&app, &joiners, &runtime).await {
        assert_eq!(counts, (0, 1), "joiner {id}");
    }
}

on_both_backends!(changes_during_an_expansion_leave_the_events_exact);
