//! OAuth2 client credentials: `requestClientCredentialsFor*`, `/oauth2/token`, tokens acting
//! as applications, runtimes and integration systems, deletion invalidating tokens at once, and
//! the confinement of each consumer kind.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error_code};

const CREDENTIALS: &str = "
    fragment Creds on SystemAuth { id auth { credential { ... on OAuthCredentialData { clientId clientSecret url } } } }";

pub(crate) async fn credentials_for(app: &TestApp, kind: &str, id: &str) -> (String, String) {
    let query = format!(
        "mutation($id: ID!) {{ r: requestClientCredentialsFor{kind}(id: $id) {{ ...Creds }} }} {CREDENTIALS}"
    );
    let data = app.gql(&query, json!({"id": id})).await;
    let auth = &data["r"];
    let credential = &auth["auth"]["credential"];
    assert_eq!(
        auth["id"], credential["clientId"],
        "SystemAuth.id is the client id"
    );
    let secret = credential["clientSecret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 40, "a long random secret: {secret}");
    assert_eq!(
        credential["url"].as_str().unwrap(),
        format!("{}/oauth2/token", app.base),
    );
    (auth["id"].as_str().unwrap().to_owned(), secret)
}

/// POSTs a token request; returns status and body.
async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn access_token(app: &TestApp, id: &str, secret: &str) -> String {
    let (status, body) = token_request(
        app,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    body["access_token"].as_str().unwrap().to_owned()
}

async fn gql_with(
    app: &TestApp,
    token: &str,
    tenant: Option<&str>,
    query: &str,
    vars: Value,
) -> (u16, Value) {
    let response = app.post(Some(token), tenant, query, vars).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register_system(app: &TestApp, name: &str) -> String {
    let data = app
        .gql(
            "mutation($n: String!) { registerIntegrationSystem(in: {name: $n}) { id } }",
            json!({"n": name}),
        )
        .await;
    data["registerIntegrationSystem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn credentials_are_made_once_and_listed_without_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let runtime_id = app.register_runtime("rt", json!({})).await;
    let system_id = register_system(&app, "system").await;

    let (app_client, _) = credentials_for(&app, "Application", &app_id).await;
    let (rt_client, _) = credentials_for(&app, "Runtime", &runtime_id).await;
    let (is_client, _) = credentials_for(&app, "IntegrationSystem", &system_id).await;

    let data = app
        .gql(
            &format!(
                "query($a: ID!, $r: ID!, $s: ID!) {{
                   application(id: $a) {{ auths {{ ...Creds }} }}
                   runtime(id: $r) {{ auths {{ ...Creds }} }}
                   integrationSystem(id: $s) {{ auths {{ ...Creds }} }} }} {CREDENTIALS}"
            ),
            json!({"a": app_id, "r": runtime_id, "s": system_id}),
        )
        .await;
    for (path, client) in [
        ("application", &app_client),
        ("runtime", &rt_client),
        ("integrationSystem", &is_client),
    ] {
        let auths = data[path]["auths"].as_array().unwrap();
        assert_eq!(auths.len(), 1, "{path}: {data}");
        assert_eq!(auths[0]["id"], json!(client));
        let credential = &auths[0]["auth"]["credential"];
        assert_eq!(credential["clientId"], json!(client));
        assert_eq!(
            credential["clientSecret"], "",
            "the secret is shown only when it is made"
        );
    }

    // Missing objects.
    let missing = uuid::Uuid::new_v4().to_string();
    for kind in ["Application", "Runtime", "IntegrationSystem"] {
        let err = app
            .gql_err(
                &format!(
                    "mutation($id: ID!) {{ requestClientCredentialsFor{kind}(id: $id) {{ id }} }}"
                ),
                json!({"id": missing}),
            )
            .await;
        assert!(err.contains("does not exist"), "{kind}: {err}");
    }
}

async fn token_endpoint_follows_the_client_credentials_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (id, secret) = credentials_for(&app, "Application", &app_id).await;

    // Basic and form authentication both work.
    access_token(&app, &id, &secret).await;
    let (status, body) = token_request(
        &app,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "application:read application:write");

    // Narrowing the scope.
    let (status, body) = token_request(
        &app,
        Some((&id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "application:read"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "application:read");
    let read_only = body["access_token"].as_str().unwrap().to_owned();
    let (_, body) = gql_with(
        &app,
        &read_only,
        None,
        "mutation($a: ID!) { setApplicationLabel(applicationID: $a, key: \"k\", value: 1) { key } }",
        json!({"a": app_id}),
    )
    .await;
    assert!(
        assert_error_code(&body, "INSUFFICIENT_SCOPES").contains("insufficient scopes"),
        "{body}"
    );

    // Refusals.
    let (status, body) = token_request(
        &app,
        Some((&id, "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, _) = token_request(
        &app,
        Some((&unknown, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = token_request(&app, None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 401, "no client authentication");
    let (status, body) =
        token_request(&app, Some((&id, &secret)), &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_request(
        &app,
        Some((&id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "runtime:write"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // A client token is not accepted where a user token is minted: it cannot be used with
    // a forged tenant claim either (signature), and another tenant in the header is refused.
    let token = access_token(&app, &id, &secret).await;
    let (other_tenant, _) = app.other_tenant();
    let (status, _) = gql_with(
        &app,
        &token,
        Some(&other_tenant.0.to_string()),
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "an application is pinned to its tenant");
}

async fn application_consumer_is_confined_to_itself(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let own = app.register_app("own", json!({})).await;
    let other = app.register_app("other", json!({})).await;
    let (id, secret) = credentials_for(&app, "Application", &own).await;
    let token = access_token(&app, &id, &secret).await;

    let (status, body) = gql_with(
        &app,
        &token,
        None,
        "query($o: ID!, $x: ID!) { applications { totalCount data { id } } own: application(id: $o) { id } other: application(id: $x) { id } }",
        json!({"o": own, "x": other}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["applications"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["applications"]["data"][0]["id"], json!(own));
    assert_eq!(body["data"]["own"]["id"], json!(own));
    assert!(body["data"]["other"].is_null(), "{body}");

    // Its own children: yes. Another application's: as if it did not exist.
    let add_api = "mutation($a: ID!) { addAPIDefinition(applicationID: $a, in: {name: \"api\", targetURL: \"https://a.example.com\"}) { id } }";
    let (_, body) = gql_with(&app, &token, None, add_api, json!({"a": own})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = gql_with(&app, &token, None, add_api, json!({"a": other})).await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let data = app
        .gql(
            "query($x: ID!) { application(id: $x) { apiDefinitions { totalCount } } }",
            json!({"x": other}),
        )
        .await;
    assert_eq!(data["application"]["apiDefinitions"]["totalCount"], 0);

    // Another application's API, by its id.
    let other_api = app
        .gql(
            "mutation($a: ID!) { addAPIDefinition(applicationID: $a, in: {name: \"theirs\", targetURL: \"https://b.example.com\"}) { id } }",
            json!({"a": other}),
        )
        .await["addAPIDefinition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
        json!({"id": other_api}),
    )
    .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );

    // No new applications, no changes to others.
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation { registerApplication(in: {name: \"new\", providerName: \"p\"}) { id } }",
        json!({}),
    )
    .await;
    assert!(
        assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
        "{body}"
    );
    for mutation in [
        "mutation($x: ID!) { updateApplication(id: $x, in: {name: \"renamed\", providerName: \"p\"}) { id } }",
        "mutation($x: ID!) { unregisterApplication(id: $x) { id } }",
        "mutation($x: ID!) { setApplicationLabel(applicationID: $x, key: \"k\", value: 1) { key } }",
    ] {
        let (_, body) = gql_with(&app, &token, None, mutation, json!({"x": other})).await;
        assert!(
            assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
            "{mutation}: {body}"
        );
    }
    // No credentials for anything (see the `credentials` tests).
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation($x: ID!) { requestClientCredentialsForApplication(id: $x) { id } }",
        json!({"x": other}),
    )
    .await;
    assert!(
        assert_error_code(&body, "FORBIDDEN").contains("cannot create credentials"),
        "{body}"
    );
    let data = app
        .gql(
            "query($x: ID!) { application(id: $x) { name labels } }",
            json!({"x": other}),
        )
        .await;
    assert_eq!(data["application"]["name"], "other");
    assert!(data["application"]["labels"].get("k").is_none());

    // Updating itself works.
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation($x: ID!) { setApplicationLabel(applicationID: $x, key: \"k\", value: 1) { key } }",
        json!({"x": own}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
}

async fn runtime_consumer_sees_its_scenarios_and_changes_only_its_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["DEFAULT", "SA", "SB"]).await;
    let in_a = app.register_app("in-a", json!({"scenarios": ["SA"]})).await;
    let in_b = app.register_app("in-b", json!({"scenarios": ["SB"]})).await;
    let runtime = app
        .register_runtime("rt-a", json!({"scenarios": ["SA"]}))
        .await;
    let other_runtime = app
        .register_runtime("rt-b", json!({"scenarios": ["SB"]}))
        .await;
    let (id, secret) = credentials_for(&app, "Runtime", &runtime).await;
    let token = access_token(&app, &id, &secret).await;

    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "query($a: ID!, $b: ID!, $r: ID!, $o: ID!) {
           applications { data { id } }
           a: application(id: $a) { id } b: application(id: $b) { id }
           runtimes { data { id } }
           own: runtime(id: $r) { id } other: runtime(id: $o) { id }
           applicationsForRuntime(runtimeID: $r) { data { id } } }",
        json!({"a": in_a, "b": in_b, "r": runtime, "o": other_runtime}),
    )
    .await;
    let data = &body["data"];
    assert_eq!(
        data["applications"]["data"],
        json!([{"id": in_a}]),
        "{body}"
    );
    assert_eq!(data["a"]["id"], json!(in_a));
    assert!(data["b"].is_null());
    assert_eq!(data["runtimes"]["data"], json!([{"id": runtime}]));
    assert!(data["other"].is_null());
    assert_eq!(
        data["applicationsForRuntime"]["data"],
        json!([{"id": in_a}])
    );

    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "query($o: ID!) { applicationsForRuntime(runtimeID: $o) { totalCount } }",
        json!({"o": other_runtime}),
    )
    .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );

    // Its own labels only; no runtime management.
    let label = "mutation($r: ID!) { setRuntimeLabel(runtimeID: $r, key: \"runtime/event_service_url\", value: \"https://events.example.com\") { key } }";
    let (_, body) = gql_with(&app, &token, None, label, json!({"r": runtime})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = gql_with(&app, &token, None, label, json!({"r": other_runtime})).await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    for mutation in [
        "mutation { registerRuntime(in: {name: \"new\"}) { id } }",
        "mutation($r: ID!) { unregisterRuntime(id: $r) { id } }",
        "mutation($r: ID!) { updateRuntime(id: $r, in: {name: \"renamed\"}) { id } }",
    ] {
        let (_, body) = gql_with(&app, &token, None, mutation, json!({"r": runtime})).await;
        assert!(
            assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
            "{mutation}: {body}"
        );
    }

    // Per-runtime credentials: its own only.
    let api = app
        .gql(
            "mutation($a: ID!) { addAPIDefinition(applicationID: $a, in: {name: \"api\", targetURL: \"https://a.example.com\"}) { id } }",
            json!({"a": in_a}),
        )
        .await["addAPIDefinition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for rt in [&runtime, &other_runtime] {
        app.gql(
            "mutation($api: ID!, $rt: ID!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: {credential: {basic: {username: \"u\", password: \"p\"}}}) { runtimeID } }",
            json!({"api": api, "rt": rt}),
        )
        .await;
    }
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "query($a: ID!, $api: ID!, $r: ID!) { application(id: $a) { apiDefinition(id: $api) { auth(runtimeID: $r) { runtimeID } auths { runtimeID } } } }",
        json!({"a": in_a, "api": api, "r": runtime}),
    )
    .await;
    let definition = &body["data"]["application"]["apiDefinition"];
    assert_eq!(definition["auth"]["runtimeID"], json!(runtime), "{body}");
    assert_eq!(definition["auths"], json!([{"runtimeID": runtime}]));
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "query($a: ID!, $api: ID!, $r: ID!) { application(id: $a) { apiDefinition(id: $api) { auth(runtimeID: $r) { runtimeID } } } }",
        json!({"a": in_a, "api": api, "r": other_runtime}),
    )
    .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );

    // The application's own credentials (webhook auth, fetch-request auth) stay hidden.
    app.gql(
        "mutation($a: ID!) {
           addWebhook(applicationID: $a, in: {type: CONFIGURATION_CHANGED, url: \"https://hooks.example.com\", auth: {credential: {basic: {username: \"hook\", password: \"secret\"}}}}) { id }
           addDocument(applicationID: $a, in: {title: \"t\", displayName: \"d\", description: \"x\", format: MARKDOWN, fetchRequest: {url: \"http://127.0.0.1:9/doc.md\", auth: {credential: {basic: {username: \"fetch\", password: \"secret\"}}}}}) { id } }",
        json!({"a": in_a}),
    )
    .await;
    let query = "query($a: ID!) { application(id: $a) { webhooks { id } documents { data { fetchRequest { url auth { credential { ... on BasicCredentialData { username } } } } } } } }";
    let admin_view = app.gql(query, json!({"a": in_a})).await;
    assert_eq!(
        admin_view["application"]["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin_view["application"]["documents"]["data"][0]["fetchRequest"]["auth"]["credential"]["username"],
        "fetch"
    );
    let (_, body) = gql_with(&app, &token, None, query, json!({"a": in_a})).await;
    let runtime_view = &body["data"]["application"];
    assert_eq!(runtime_view["webhooks"], json!([]), "{body}");
    let fetch = &runtime_view["documents"]["data"][0]["fetchRequest"];
    assert_eq!(fetch["url"], "http://127.0.0.1:9/doc.md");
    assert!(fetch["auth"].is_null(), "{body}");
}

async fn integration_system_manages_only_its_applications(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = register_system(&app, "system").await;
    let (id, secret) = credentials_for(&app, "IntegrationSystem", &system).await;
    let token = access_token(&app, &id, &secret).await;
    let tenant = sextant_domain::TenantId::DEFAULT.to_string();
    let foreign = app.register_app("foreign", json!({})).await;

    // It must name its tenant.
    let (status, _) = gql_with(
        &app,
        &token,
        None,
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    // Registering without integrationSystemID makes the application its own.
    let (_, body) = gql_with(
        &app,
        &token,
        Some(&tenant),
        "mutation { registerApplication(in: {name: \"managed\", providerName: \"p\"}) { id integrationSystemID } }",
        json!({}),
    )
    .await;
    let managed = body["data"]["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body["data"]["registerApplication"]["integrationSystemID"],
        json!(system)
    );
    let other_system = register_system(&app, "other-system").await;
    let (_, body) = gql_with(
        &app,
        &token,
        Some(&tenant),
        "mutation($s: ID!) { registerApplication(in: {name: \"stolen\", providerName: \"p\", integrationSystemID: $s}) { id } }",
        json!({"s": other_system}),
    )
    .await;
    assert!(
        assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
        "{body}"
    );

    let (_, body) = gql_with(
        &app,
        &token,
        Some(&tenant),
        "{ applications { data { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["applications"]["data"],
        json!([{"id": managed}])
    );
    let (_, body) = gql_with(
        &app,
        &token,
        Some(&tenant),
        "mutation($x: ID!) { unregisterApplication(id: $x) { id } }",
        json!({"x": foreign}),
    )
    .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );

    // The Compass e2e check: unregistering the system while an application references it
    // fails, and its credentials stay.
    let err = app
        .gql_err(
            "mutation($s: ID!) { unregisterIntegrationSystem(id: $s) { id } }",
            json!({"s": system}),
        )
        .await;
    assert!(!err.is_empty());
    let data = app
        .gql(
            "query($s: ID!) { integrationSystem(id: $s) { auths { id } } }",
            json!({"s": system}),
        )
        .await;
    assert_eq!(data["integrationSystem"]["auths"], json!([{"id": id}]));

    // After the application and then the system are gone, the old token no longer works and
    // no new one can be had.
    app.gql(
        "mutation($x: ID!) { unregisterApplication(id: $x) { id } }",
        json!({"x": managed}),
    )
    .await;
    app.gql(
        "mutation($s: ID!) { unregisterIntegrationSystem(id: $s) { id } }",
        json!({"s": system}),
    )
    .await;
    let (status, _) = gql_with(
        &app,
        &token,
        Some(&tenant),
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = token_request(
        &app,
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401);
}

async fn deleting_credentials_or_their_owner_invalidates_tokens_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (first, first_secret) = credentials_for(&app, "Application", &app_id).await;
    let (second, second_secret) = credentials_for(&app, "Application", &app_id).await;
    let first_token = access_token(&app, &first, &first_secret).await;
    let second_token = access_token(&app, &second, &second_secret).await;
    let probe = "{ applications { totalCount } }";
    assert_eq!(
        gql_with(&app, &first_token, None, probe, json!({})).await.0,
        200
    );

    let data = app
        .gql(
            "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(data["deleteSystemAuthForApplication"]["id"], json!(first));
    assert_eq!(
        gql_with(&app, &first_token, None, probe, json!({})).await.0,
        401
    );
    assert_eq!(
        gql_with(&app, &second_token, None, probe, json!({}))
            .await
            .0,
        200
    );

    app.gql(
        "mutation($x: ID!) { unregisterApplication(id: $x) { id } }",
        json!({"x": app_id}),
    )
    .await;
    assert_eq!(
        gql_with(&app, &second_token, None, probe, json!({}))
            .await
            .0,
        401
    );
}

async fn system_auths_are_deleted_only_through_their_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let runtime_id = app.register_runtime("rt", json!({})).await;
    let system_id = register_system(&app, "system").await;
    let auths = [
        (
            "Application",
            credentials_for(&app, "Application", &app_id).await.0,
        ),
        (
            "Runtime",
            credentials_for(&app, "Runtime", &runtime_id).await.0,
        ),
        (
            "IntegrationSystem",
            credentials_for(&app, "IntegrationSystem", &system_id)
                .await
                .0,
        ),
    ];
    // The six wrong combinations fail and delete nothing.
    for (owner_kind, auth_id) in &auths {
        for kind in ["Application", "Runtime", "IntegrationSystem"] {
            if kind == *owner_kind {
                continue;
            }
            let err = app
                .gql_err(
                    &format!(
                        "mutation($id: ID!) {{ deleteSystemAuthFor{kind}(authID: $id) {{ id }} }}"
                    ),
                    json!({"id": auth_id}),
                )
                .await;
            assert!(err.contains("belongs to"), "{owner_kind} via {kind}: {err}");
        }
    }
    let data = app
        .gql(
            "query($a: ID!, $r: ID!, $s: ID!) { application(id: $a) { auths { id } } runtime(id: $r) { auths { id } } integrationSystem(id: $s) { auths { id } } }",
            json!({"a": app_id, "r": runtime_id, "s": system_id}),
        )
        .await;
    assert_eq!(data["application"]["auths"].as_array().unwrap().len(), 1);
    assert_eq!(data["runtime"]["auths"].as_array().unwrap().len(), 1);
    assert_eq!(
        data["integrationSystem"]["auths"].as_array().unwrap().len(),
        1
    );
    // The right ones work.
    for (kind, auth_id) in &auths {
        let data = app
            .gql(
                &format!(
                    "mutation($id: ID!) {{ r: deleteSystemAuthFor{kind}(authID: $id) {{ id }} }}"
                ),
                json!({"id": auth_id}),
            )
            .await;
        assert_eq!(data["r"]["id"], json!(auth_id));
    }
    // Another tenant cannot delete (or see) this tenant's credentials.
    let fresh = credentials_for(&app, "Application", &app_id).await.0;
    let (_, other_token) = app.other_tenant();
    let body = app
        .gql_as(
            &other_token,
            "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
            json!({"id": fresh}),
        )
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
}

/// Scenarios decide what a runtime sees, and `integrationSystemID` who manages an
/// application: a system consumer cannot change them for itself.
async fn systems_cannot_widen_their_own_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["DEFAULT", "SA", "SB"]).await;
    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SA"]}))
        .await;
    let own = app.register_app("own", json!({"scenarios": ["SA"]})).await;
    let other = app
        .register_app("other", json!({"scenarios": ["SB"]}))
        .await;
    let system = register_system(&app, "system").await;
    let (id, secret) = credentials_for(&app, "Runtime", &runtime).await;
    let runtime_token = access_token(&app, &id, &secret).await;
    let (id, secret) = credentials_for(&app, "Application", &own).await;
    let app_token = access_token(&app, &id, &secret).await;

    for key in ["scenarios", "integration-system-id"] {
        let (_, body) = gql_with(
            &app,
            &runtime_token,
            None,
            "mutation($r: ID!, $k: String!) { setRuntimeLabel(runtimeID: $r, key: $k, value: [\"SA\", \"SB\"]) { key } }",
            json!({"r": runtime, "k": key}),
        )
        .await;
        assert!(
            assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
            "{key}: {body}"
        );
        let (_, body) = gql_with(
            &app,
            &runtime_token,
            None,
            "mutation($r: ID!, $k: String!) { deleteRuntimeLabel(runtimeID: $r, key: $k) { key } }",
            json!({"r": runtime, "k": key}),
        )
        .await;
        assert!(
            assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
            "{key}: {body}"
        );
        let (_, body) = gql_with(
            &app,
            &app_token,
            None,
            "mutation($a: ID!, $k: String!) { setApplicationLabel(applicationID: $a, key: $k, value: [\"SA\", \"SB\"]) { key } }",
            json!({"a": own, "k": key}),
        )
        .await;
        assert!(
            assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
            "{key}: {body}"
        );
    }
    let (_, body) = gql_with(
        &app,
        &runtime_token,
        None,
        "{ applications { data { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["applications"]["data"],
        json!([{"id": own}]),
        "{body}"
    );
    let _ = other;

    // An application cannot hand itself to an integration system.
    let (_, body) = gql_with(
        &app,
        &app_token,
        None,
        "mutation($a: ID!, $s: ID!) { updateApplication(id: $a, in: {name: \"own\", providerName: \"p\", integrationSystemID: $s}) { id } }",
        json!({"a": own, "s": system}),
    )
    .await;
    assert!(
        assert_error_code(&body, "FORBIDDEN").contains("forbidden"),
        "{body}"
    );

    // An integration system's reach is the column, not a label a user may set.
    let (id, secret) = credentials_for(&app, "IntegrationSystem", &system).await;
    let system_token = access_token(&app, &id, &secret).await;
    app.gql(
        "mutation($a: ID!, $s: Any!) { setApplicationLabel(applicationID: $a, key: \"integration-system-id\", value: $s) { key } }",
        json!({"a": other, "s": system}),
    )
    .await;
    let tenant = sextant_domain::TenantId::DEFAULT.to_string();
    let (_, body) = gql_with(
        &app,
        &system_token,
        Some(&tenant),
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["applications"]["totalCount"], 0, "{body}");
}

/// The token endpoint reads at most a small form; deleting another consumer's credentials
/// reveals nothing about their owner.
async fn token_endpoint_and_deletion_reveal_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&pad={}",
            "x".repeat(64 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let own = app.register_app("own", json!({})).await;
    let other = app.register_app("other", json!({})).await;
    let (id, secret) = credentials_for(&app, "Application", &own).await;
    let token = access_token(&app, &id, &secret).await;
    let (foreign, _) = credentials_for(&app, "Application", &other).await;
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation($id: ID!) { deleteSystemAuthForRuntime(authID: $id) { id } }",
        json!({"id": foreign}),
    )
    .await;
    let message = assert_error_code(&body, "INSUFFICIENT_SCOPES");
    assert!(message.contains("insufficient scopes"), "{message}");
    let (_, body) = gql_with(
        &app,
        &token,
        None,
        "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
        json!({"id": foreign}),
    )
    .await;
    let message = assert_error_code(&body, "NOT_FOUND");
    assert_eq!(
        message,
        format!("system auth with ID \"{foreign}\" does not exist"),
        "nothing about the owner shows"
    );
    assert!(!message.contains(&other));
}

crate::on_both_backends!(
    systems_cannot_widen_their_own_reach,
    token_endpoint_and_deletion_reveal_nothing,
    credentials_are_made_once_and_listed_without_secret,
    token_endpoint_follows_the_client_credentials_grant,
    application_consumer_is_confined_to_itself,
    runtime_consumer_sees_its_scenarios_and_changes_only_its_labels,
    integration_system_manages_only_its_applications,
    deleting_credentials_or_their_owner_invalidates_tokens_at_once,
    system_auths_are_deleted_only_through_their_kind,
);
