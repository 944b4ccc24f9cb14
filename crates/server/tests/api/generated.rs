//! Generated input through the real API: specs in every declared format and `AuthInput`s
//! built from random pieces. Whatever arrives, the server answers (200 with data or a clear
//! error), a rejected registration leaves nothing behind, and the server keeps serving.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

fn spec_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        // YAML-looking text with anchors and aliases.
        "(a: &x \\[\\*x, \\*x\\]\n|openapi: 3\\.0\\.0\n|info: \\{title: t, version: v\\}\n|paths: \\{\\}\n|- \\*x\n|  - \\[\n){0,12}",
        // Nesting of every kind.
        (
            1usize..3000,
            prop_oneof![Just("["), Just("{\"a\":"), Just("<a>"), Just("- ")]
        )
            .prop_map(|(n, open)| open.repeat(n)),
        // XML-looking text.
        "(<\\?xml version=\"1\\.0\"\\?>|<!DOCTYPE x \\[<!ENTITY a \"b\">\\]>|<edmx:Edmx>|<DataServices/>|</edmx:Edmx>|&a;|&lt;){0,10}",
        // JSON-looking text.
        "(\\{|\\}|\\[|\\]|\"openapi\"|:|,|\"3\\.0\"|\"info\"|null|1e999|\"\\\\u0000\"){0,40}",
    ]
}

fn piece() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::from),
        "https?://[a-z]{1,6}\\.[a-z]{2}/[a-z]{0,5}".prop_map(Value::from),
        proptest::collection::vec("\\PC{0,10}", 0..3).prop_map(Value::from),
    ]
}

fn auth_input() -> impl Strategy<Value = Value> {
    (
        piece(),
        piece(),
        piece(),
        piece(),
        proptest::collection::btree_map("\\PC{0,10}", piece(), 0..3),
        any::<u8>(),
    )
        .prop_map(|(a, b, c, d, headers, shape)| {
            let credential = match shape % 4 {
                0 => json!({"basic": {"username": a, "password": b}}),
                1 => json!({"oauth": {"clientId": a, "clientSecret": b, "url": c}}),
                2 => json!({"basic": {"username": a, "password": b}, "oauth": {"clientId": a, "clientSecret": b, "url": c}}),
                _ => json!({}),
            };
            json!({
                "credential": credential,
                "additionalHeaders": headers,
                "additionalQueryParams": {"q": d},
                "requestAuth": if shape % 3 == 0 { json!({"csrf": {"tokenEndpointURL": c, "credential": credential}}) } else { Value::Null },
            })
        })
}

fn api_case() -> impl Strategy<Value = (String, &'static str, &'static str, Value)> {
    (
        spec_text(),
        prop_oneof![Just("OPEN_API"), Just("ODATA")],
        prop_oneof![Just("YAML"), Just("JSON"), Just("XML")],
        auth_input(),
    )
}

async fn generated_registrations_never_break_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut runner = TestRunner::deterministic();
    let strategy = api_case();
    let mut accepted = 0;
    for case in 0..48 {
        let (data, spec_type, format, auth) = strategy.new_tree(&mut runner).unwrap().current();
        let name = format!("gen-{case}");
        let input = json!({
            "name": name,
            "providerName": "p",
            "apiDefinitions": [{
                "name": "api",
                "targetURL": "https://api.example.com",
                "spec": {"data": data, "type": spec_type, "format": format},
                "defaultAuth": auth,
            }],
        });
        let response = app
            .post(
                Some(&app.admin_token),
                None,
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": input}),
            )
            .await;
        assert_eq!(response.status(), 200, "case {case}");
        let body: Value = response.json().await.unwrap();
        let registered = body["data"]["registerApplication"]["id"].is_string();
        if registered {
            accepted += 1;
        } else {
            let message = crate::helpers::error_of(&body);
            assert!(
                !message.is_empty() && message.len() < 2_000,
                "case {case}: {body}"
            );
        }
        // A refused registration leaves nothing behind.
        let data = app
            .gql(
                "query($f: [LabelFilter!]) { applications(filter: $f) { data { name } } }",
                json!({"f": [{"key": "scenarios"}]}),
            )
            .await;
        let names: Vec<&str> = data["applications"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert_eq!(names.contains(&name.as_str()), registered, "case {case}");
    }
    // Random text is almost never a valid spec with valid credentials; the count only shows
    // that the loop ran. The server still answers.
    assert!(accepted < 48);
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
}

crate::on_both_backends!(generated_registrations_never_break_the_server);
