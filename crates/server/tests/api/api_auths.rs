//! Per-runtime API credentials (Compass's "API runtime auths"): `setAPIAuth`, `deleteAPIAuth`,
//! `APIDefinition.auth(runtimeID)` (the runtime's own credentials, else `defaultAuth`) and
//! `auths` (one entry per runtime of the tenant).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{AUTH_FRAGMENTS, Backend, TestApp, api_input, basic_auth, expected_auth};
use crate::on_both_backends;

fn default_auth() -> Value {
    json!({
        "credential": {"oauth": {"clientId": "default-id", "clientSecret": "default-secret",
                                 "url": "https://auth.example.com/token"}},
        "additionalHeaders": {"X-Api": ["1"]},
    })
}

fn x_men() -> Value {
    basic_auth("x-men", "secret")
}

fn set_mutation() -> String {
    format!(
        "mutation($api: ID!, $rt: ID!, $in: AuthInput!) {{ setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) {{ runtimeID auth {{ ...AuthFields }} }} }} {AUTH_FRAGMENTS}"
    )
}

fn delete_mutation() -> String {
    format!(
        "mutation($api: ID!, $rt: ID!) {{ deleteAPIAuth(apiID: $api, runtimeID: $rt) {{ runtimeID auth {{ ...AuthFields }} }} }} {AUTH_FRAGMENTS}"
    )
}

/// `auth(runtimeID)` of an API (the whole response body, so errors can be checked).
async fn auth_for(app: &TestApp, app_id: &str, api: &str, runtime: &str) -> Value {
    let query = format!(
        "query($id: ID!, $api: ID!, $rt: ID!) {{ application(id: $id) {{ apiDefinition(id: $api) {{
            auth(runtimeID: $rt) {{ runtimeID auth {{ ...AuthFields }} }} }} }} }} {AUTH_FRAGMENTS}"
    );
    app.gql_as(
        &app.admin_token,
        &query,
        json!({"id": app_id, "api": api, "rt": runtime}),
    )
    .await
}

/// `auth(runtimeID)` of an API that must succeed.
async fn auth_ok(app: &TestApp, app_id: &str, api: &str, runtime: &str) -> Value {
    let body = auth_for(app, app_id, api, runtime).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["application"]["apiDefinition"]["auth"].clone()
}

/// `auths` of an API, by runtime id.
async fn auths(app: &TestApp, app_id: &str, api: &str) -> BTreeMap<String, Value> {
    let query = format!(
        "query($id: ID!, $api: ID!) {{ application(id: $id) {{ apiDefinition(id: $api) {{
            auths {{ runtimeID auth {{ ...AuthFields }} }} }} }} }} {AUTH_FRAGMENTS}"
    );
    let data = app.gql(&query, json!({"id": app_id, "api": api})).await;
    let list = data["application"]["apiDefinition"]["auths"]
        .as_array()
        .unwrap()
        .clone();
    let map: BTreeMap<String, Value> = list
        .iter()
        .map(|a| {
            (
                a["runtimeID"].as_str().unwrap().to_owned(),
                a["auth"].clone(),
            )
        })
        .collect();
    assert_eq!(map.len(), list.len(), "one entry per runtime: {list:?}");
    map
}

struct Setup {
    app_id: String,
    rt: [String; 3],
    with_default: String,
    without_default: String,
}

async fn setup(app: &TestApp) -> Setup {
    let mut rt = Vec::new();
    for name in ["rt1", "rt2", "rt3"] {
        rt.push(app.register_runtime(name, json!({})).await);
    }
    let app_id = app.register_app("app", json!({})).await;
    let mut with = api_input("with-default");
    with["defaultAuth"] = default_auth();
    let with_default = app.add_api(&app_id, with).await;
    let without_default = app.add_api(&app_id, api_input("without-default")).await;
    Setup {
        app_id,
        rt: rt.try_into().unwrap(),
        with_default,
        without_default,
    }
}

async fn runtime_credentials_override_the_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let [rt1, rt2, rt3] = &s.rt;

    for api in [&s.with_default, &s.without_default] {
        let set = app
            .gql(
                &set_mutation(),
                json!({"api": api, "rt": rt2, "in": x_men()}),
            )
            .await;
        assert_eq!(
            set["setAPIAuth"],
            json!({"runtimeID": rt2, "auth": expected_auth(&x_men())})
        );
    }
    assert_eq!(
        expected_auth(&x_men())["credential"],
        json!({"username": "x-men", "password": "secret"})
    );

    // auth(runtimeID): rt2's own, else the default (or null).
    assert_eq!(
        auth_ok(&app, &s.app_id, &s.with_default, rt2).await,
        json!({"runtimeID": rt2, "auth": expected_auth(&x_men())})
    );
    assert_eq!(
        auth_ok(&app, &s.app_id, &s.without_default, rt2).await,
        json!({"runtimeID": rt2, "auth": expected_auth(&x_men())})
    );
    for rt in [rt1, rt3] {
        assert_eq!(
            auth_ok(&app, &s.app_id, &s.with_default, rt).await,
            json!({"runtimeID": rt, "auth": expected_auth(&default_auth())})
        );
        assert_eq!(
            auth_ok(&app, &s.app_id, &s.without_default, rt).await,
            json!({"runtimeID": rt, "auth": null})
        );
    }

    // auths: exactly one entry per runtime.
    assert_eq!(
        auths(&app, &s.app_id, &s.with_default).await,
        BTreeMap::from([
            (rt1.clone(), expected_auth(&default_auth())),
            (rt2.clone(), expected_auth(&x_men())),
            (rt3.clone(), expected_auth(&default_auth())),
        ])
    );
    assert_eq!(
        auths(&app, &s.app_id, &s.without_default).await,
        BTreeMap::from([
            (rt1.clone(), Value::Null),
            (rt2.clone(), expected_auth(&x_men())),
            (rt3.clone(), Value::Null),
        ])
    );

    // setAPIAuth replaces.
    let replacement = basic_auth("x-men", "new-secret");
    app.gql(
        &set_mutation(),
        json!({"api": s.with_default, "rt": rt2, "in": replacement}),
    )
    .await;
    assert_eq!(
        auth_ok(&app, &s.app_id, &s.with_default, rt2).await["auth"],
        expected_auth(&replacement)
    );
    assert_eq!(auths(&app, &s.app_id, &s.with_default).await.len(), 3);

    // Updating the API keeps the per-runtime credentials and changes the default.
    let mut updated = api_input("with-default");
    updated["defaultAuth"] = basic_auth("new-default", "pw");
    app.gql(
        "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
        json!({"id": s.with_default, "in": updated}),
    )
    .await;
    assert_eq!(
        auths(&app, &s.app_id, &s.with_default).await,
        BTreeMap::from([
            (rt1.clone(), expected_auth(&updated["defaultAuth"])),
            (rt2.clone(), expected_auth(&replacement)),
            (rt3.clone(), expected_auth(&updated["defaultAuth"])),
        ])
    );
}

async fn unknown_runtimes_and_apis_are_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let [rt1, rt2, rt3] = &s.rt;
    let random = uuid::Uuid::new_v4().to_string();

    for runtime in [random.as_str(), "not-a-uuid"] {
        let body = auth_for(&app, &s.app_id, &s.with_default, runtime).await;
        let message = crate::helpers::assert_error_code(&body, "NOT_FOUND");
        assert!(message.contains("does not exist"), "{runtime}: {message}");
    }

    // Setting for a missing runtime or API fails and stores nothing.
    let message = app
        .gql_error(
            "NOT_FOUND",
            &set_mutation(),
            json!({"api": s.with_default, "rt": random, "in": x_men()}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error(
            "NOT_FOUND",
            &set_mutation(),
            json!({"api": random, "rt": rt1, "in": x_men()}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error(
            "NOT_FOUND",
            &delete_mutation(),
            json!({"api": random, "rt": rt1}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error(
            "NOT_FOUND",
            &delete_mutation(),
            json!({"api": s.with_default, "rt": random}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let expected = BTreeMap::from([
        (rt1.clone(), expected_auth(&default_auth())),
        (rt2.clone(), expected_auth(&default_auth())),
        (rt3.clone(), expected_auth(&default_auth())),
    ]);
    assert_eq!(auths(&app, &s.app_id, &s.with_default).await, expected);

    // Another tenant's runtime is unknown here, and this tenant's API is unknown there.
    let (_, other) = app.other_tenant();
    let foreign_rt = app
        .gql_as(
            &other,
            "mutation { registerRuntime(in: {name: \"foreign\"}) { id } }",
            json!({}),
        )
        .await["data"]["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = app
        .gql_error(
            "NOT_FOUND",
            &set_mutation(),
            json!({"api": s.with_default, "rt": foreign_rt, "in": x_men()}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let body = auth_for(&app, &s.app_id, &s.with_default, &foreign_rt).await;
    assert!(
        crate::helpers::assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let message = app
        .gql_error_as(
            "NOT_FOUND",
            &other,
            &set_mutation(),
            json!({"api": s.with_default, "rt": foreign_rt, "in": x_men()}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    // The other tenant's runtime does not appear in `auths`.
    assert_eq!(auths(&app, &s.app_id, &s.with_default).await, expected);

    // An invalid AuthInput.
    for (input, expected_message) in [
        (
            json!({"credential": {}}),
            "validation error for type AuthInput: credential: (rule.ExactlyOneNotNil: exactly one credential input has to be specified.).",
        ),
        (
            json!({"credential": {"basic": {"username": "u", "password": "p"},
                                  "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://a.example.com"}}}),
            "validation error for type AuthInput: credential: (rule.ExactlyOneNotNil: exactly one credential input has to be specified.).",
        ),
        (
            json!({"credential": {"oauth": {"clientId": "c", "clientSecret": "s", "url": "nope"}}}),
            "validation error for type AuthInput: credential: (Oauth: (url: must be a valid URL.).).",
        ),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                &set_mutation(),
                json!({"api": s.with_default, "rt": rt1, "in": input}),
            )
            .await;
        assert_eq!(message, expected_message);
    }
    assert_eq!(auths(&app, &s.app_id, &s.with_default).await, expected);
}

async fn deleting_falls_back_to_the_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let [_, rt2, _] = &s.rt;
    app.gql(
        &set_mutation(),
        json!({"api": s.with_default, "rt": rt2, "in": x_men()}),
    )
    .await;
    let deleted = app
        .gql(
            &delete_mutation(),
            json!({"api": s.with_default, "rt": rt2}),
        )
        .await;
    assert_eq!(
        deleted["deleteAPIAuth"],
        json!({"runtimeID": rt2, "auth": expected_auth(&x_men())})
    );
    assert_eq!(
        auth_ok(&app, &s.app_id, &s.with_default, rt2).await,
        json!({"runtimeID": rt2, "auth": expected_auth(&default_auth())})
    );
    // Deleting credentials that were never set answers what applies: the default.
    let deleted = app
        .gql(
            &delete_mutation(),
            json!({"api": s.with_default, "rt": rt2}),
        )
        .await;
    assert_eq!(
        deleted["deleteAPIAuth"],
        json!({"runtimeID": rt2, "auth": expected_auth(&default_auth())})
    );
    let deleted = app
        .gql(
            &delete_mutation(),
            json!({"api": s.without_default, "rt": rt2}),
        )
        .await;
    assert_eq!(
        deleted["deleteAPIAuth"],
        json!({"runtimeID": rt2, "auth": null})
    );
}

async fn unregistering_a_runtime_or_api_removes_its_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let [rt1, rt2, rt3] = &s.rt;
    for rt in [rt1, rt3] {
        app.gql(
            &set_mutation(),
            json!({"api": s.without_default, "rt": rt, "in": x_men()}),
        )
        .await;
    }
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": rt3}),
    )
    .await;
    assert_eq!(
        auths(&app, &s.app_id, &s.without_default).await,
        BTreeMap::from([
            (rt1.clone(), expected_auth(&x_men())),
            (rt2.clone(), Value::Null),
        ])
    );
    let body = auth_for(&app, &s.app_id, &s.without_default, rt3).await;
    assert!(
        crate::helpers::assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    // A runtime registered later under the same name starts without credentials.
    let rt3_again = app.register_runtime("rt3", json!({})).await;
    assert_eq!(
        auth_ok(&app, &s.app_id, &s.without_default, &rt3_again).await,
        json!({"runtimeID": rt3_again, "auth": null})
    );
    assert_eq!(auths(&app, &s.app_id, &s.without_default).await.len(), 3);

    // Deleting the API removes its credentials: a new API sees none of them.
    app.gql(
        "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
        json!({"id": s.without_default}),
    )
    .await;
    let message = app
        .gql_error(
            "NOT_FOUND",
            &delete_mutation(),
            json!({"api": s.without_default, "rt": rt1}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let fresh = app.add_api(&s.app_id, api_input("fresh")).await;
    assert!(
        auths(&app, &s.app_id, &fresh)
            .await
            .values()
            .all(Value::is_null)
    );
}

async fn api_credentials_need_application_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let [rt1, rt2, rt3] = &s.rt;
    app.gql(
        &set_mutation(),
        json!({"api": s.with_default, "rt": rt1, "in": x_men()}),
    )
    .await;
    let runtime_token = app.token(
        &[sextant_domain::TenantId::DEFAULT],
        &["runtime:read", "runtime:write", "application:read"],
    );
    let message = app
        .gql_error_as(
            "INSUFFICIENT_SCOPES",
            &runtime_token,
            &set_mutation(),
            json!({"api": s.with_default, "rt": rt2, "in": x_men()}),
        )
        .await;
    assert!(
        message.starts_with("insufficient scopes provided, required: [application:write]"),
        "{message}"
    );
    let message = app
        .gql_error_as(
            "INSUFFICIENT_SCOPES",
            &runtime_token,
            &delete_mutation(),
            json!({"api": s.with_default, "rt": rt1}),
        )
        .await;
    assert!(
        message.starts_with("insufficient scopes provided, required: [application:write]"),
        "{message}"
    );
    assert_eq!(
        auths(&app, &s.app_id, &s.with_default).await,
        BTreeMap::from([
            (rt1.clone(), expected_auth(&x_men())),
            (rt2.clone(), expected_auth(&default_auth())),
            (rt3.clone(), expected_auth(&default_auth())),
        ])
    );
    // application:read is enough to read them (a runtime reads its credentials).
    let query = format!(
        "query($id: ID!, $api: ID!, $rt: ID!) {{ application(id: $id) {{ apiDefinition(id: $api) {{
            auth(runtimeID: $rt) {{ runtimeID auth {{ ...AuthFields }} }} }} }} }} {AUTH_FRAGMENTS}"
    );
    let body = app
        .gql_as(
            &runtime_token,
            &query,
            json!({"id": s.app_id, "api": s.with_default, "rt": rt1}),
        )
        .await;
    assert_eq!(
        body["data"]["application"]["apiDefinition"]["auth"],
        json!({"runtimeID": rt1, "auth": expected_auth(&x_men())}),
        "{body}"
    );
}

on_both_backends!(
    runtime_credentials_override_the_default,
    unknown_runtimes_and_apis_are_errors,
    deleting_falls_back_to_the_default,
    unregistering_a_runtime_or_api_removes_its_credentials,
    api_credentials_need_application_write,
);
