//! What a GraphQL request may cost. Compass's own operations (its e2e tests' full field sets
//! at the default page sizes, its examples) execute; documents that expand to millions of
//! fields are refused before validation, quickly and without memory growth, on every GraphQL
//! endpoint; and requests over the execution budgets (values resolved, response size, time)
//! get one clear error while the server keeps answering.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::connector::{CONFIGURATION, connector, paired};
use crate::helpers::{Backend, TestApp, api_input, basic_auth, event_input};
use crate::on_both_backends;

// --- Compass's field sets, as its e2e tests' fields provider builds them ---

const PAGE_INFO: &str = "pageInfo { startCursor endCursor hasNextPage } totalCount";

const AUTH: &str = "credential {
    ... on BasicCredentialData { username password }
    ... on OAuthCredentialData { clientId clientSecret url }
  }
  additionalHeaders
  additionalQueryParams
  requestAuth { csrf { tokenEndpointURL
    credential {
      ... on BasicCredentialData { username password }
      ... on OAuthCredentialData { clientId clientSecret url }
    }
    additionalHeaders additionalQueryParams } }";

fn fetch_request() -> String {
    format!("url auth {{ {AUTH} }} mode filter status {{ condition timestamp }}")
}

fn version() -> &'static str {
    "value deprecated deprecatedSince forRemoval"
}

/// An API definition with every field, `auth(runtimeID:)` included when asked for.
fn api_definition(with_runtime_auth: bool) -> String {
    let runtime_auth = if with_runtime_auth {
        format!("auth(runtimeID: $runtime) {{ runtimeID auth {{ {AUTH} }} }}")
    } else {
        String::new()
    };
    format!(
        "id name description spec {{ data format type fetchRequest {{ {fr} }} }} targetURL group
         auths {{ runtimeID auth {{ {AUTH} }} }} defaultAuth {{ {AUTH} }} version {{ {v} }} {runtime_auth}",
        fr = fetch_request(),
        v = version()
    )
}

fn event_definition() -> String {
    format!(
        "id applicationID name description group
         spec {{ data type format fetchRequest {{ {fr} }} }} version {{ {v} }}",
        fr = fetch_request(),
        v = version()
    )
}

fn document() -> String {
    format!(
        "id applicationID title displayName description format kind data fetchRequest {{ {fr} }}",
        fr = fetch_request()
    )
}

fn system_auth() -> String {
    format!("id auth {{ {AUTH} }}")
}

/// Compass's full application: webhooks, API and event definitions, documents and auths, at
/// their default page sizes.
fn application(with_runtime_auth: bool) -> String {
    format!(
        "id name description labels eventingConfiguration {{ defaultURL }}
         status {{ condition timestamp }}
         webhooks {{ id applicationID type url auth {{ {AUTH} }} }}
         healthCheckURL
         apiDefinitions {{ data {{ {api} }} {PAGE_INFO} }}
         eventDefinitions {{ data {{ {event} }} {PAGE_INFO} }}
         documents {{ data {{ {doc} }} {PAGE_INFO} }}
         auths {{ {sa} }}",
        api = api_definition(with_runtime_auth),
        event = event_definition(),
        doc = document(),
        sa = system_auth(),
    )
}

fn runtime() -> String {
    format!(
        "id name description labels status {{ condition timestamp }}
         metadata {{ creationTimestamp }} auths {{ {sa} }} eventingConfiguration {{ defaultURL }}",
        sa = system_auth()
    )
}

fn integration_system() -> String {
    format!("id name description auths {{ {sa} }}", sa = system_auth())
}

fn application_template() -> String {
    "id name description applicationInput placeholders { name description } accessLevel".into()
}

/// GraphiQL's introspection query (what Compass's playground sends).
const INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}";

/// Registers what Compass's e2e tests register: an application with API and event
/// definitions, a document and a webhook (and a client), a runtime in its scenario with its
/// own credentials, an integration system and an application template.
async fn compass_world(app: &TestApp) -> (String, String) {
    let mut api = api_input("api");
    api["defaultAuth"] = basic_auth("user", "pw");
    let input = json!({
        "name": "compass-app",
        "providerName": "compass",
        "description": "an application as the e2e tests register it",
        "healthCheckURL": "https://kyma-project.io",
        "labels": {"scenarios": ["DEFAULT"], "group": ["production", "experimental"]},
        "apiDefinitions": [api, api_input("second")],
        "eventDefinitions": [event_input("events")],
        "documents": [{"title": "README", "displayName": "readme", "description": "d",
                       "format": "MARKDOWN", "kind": "kind", "data": "# readme"}],
        "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com",
                      "auth": basic_auth("hook", "pw")}],
    });
    // The mutation answers the full application, as the e2e tests ask for it.
    let data = app
        .gql(
            &format!(
                "mutation($in: ApplicationRegisterInput!) {{ registerApplication(in: $in) {{ {} }} }}",
                application(false)
            ),
            json!({"in": input}),
        )
        .await;
    let app_id = data["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_id = data["registerApplication"]["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "api")
        .unwrap()["id"]
        .clone();
    app.gql(
        "mutation($id: ID!) { requestClientCredentialsForApplication(id: $id) { id } }",
        json!({"id": app_id}),
    )
    .await;
    let runtime_id = app
        .register_runtime("compass-runtime", json!({"scenarios": ["DEFAULT"]}))
        .await;
    app.gql(
        "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
        json!({"api": api_id, "rt": runtime_id, "in": basic_auth("rt", "pw")}),
    )
    .await;
    app.gql(
        &format!(
            "mutation($in: IntegrationSystemInput!) {{ registerIntegrationSystem(in: $in) {{ {} }} }}",
            integration_system()
        ),
        json!({"in": {"name": "compass-system", "description": "d"}}),
    )
    .await;
    app.gql(
        &format!(
            "mutation($in: ApplicationTemplateInput!) {{ createApplicationTemplate(in: $in) {{ {} }} }}",
            application_template()
        ),
        json!({"in": {
            "name": "compass-template",
            "description": "d",
            "applicationInput": {"name": "{{name}}", "providerName": "compass"},
            "placeholders": [{"name": "name", "description": "the name"}],
            "accessLevel": "GLOBAL",
        }}),
    )
    .await;
    (app_id, runtime_id)
}

async fn compass_operations_execute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (app_id, runtime_id) = compass_world(&app).await;
    let page = |item: String| format!("data {{ {item} }} {PAGE_INFO}");
    let queries: Vec<(String, Value)> = vec![
        (
            format!(
                "{{ result: applications {{ {} }} }}",
                page(application(false))
            ),
            json!({}),
        ),
        (
            format!(
                "query($f: [LabelFilter!]) {{ result: applications(filter: $f) {{ {} }} }}",
                page(application(false))
            ),
            json!({"f": [{"key": "group"}]}),
        ),
        (
            format!(
                "query($id: ID!) {{ result: application(id: $id) {{ {} }} }}",
                application(false)
            ),
            json!({"id": app_id}),
        ),
        (
            format!(
                "query($runtime: ID!) {{ result: applicationsForRuntime(runtimeID: $runtime) {{ {} }} }}",
                page(application(true))
            ),
            json!({"runtime": runtime_id}),
        ),
        // The e2e tests' paginated shapes (an empty `after` is the first page).
        (
            format!(
                "query($runtime: ID!) {{ result: applicationsForRuntime(runtimeID: $runtime, first: 4, after: \"\") {{ {} }} }}",
                page(application(true))
            ),
            json!({"runtime": runtime_id}),
        ),
        (
            format!("{{ result: runtimes {{ {} }} }}", page(runtime())),
            json!({}),
        ),
        (
            format!(
                "{{ result: runtimes(first: 4, after: \"\") {{ {} }} }}",
                page(runtime())
            ),
            json!({}),
        ),
        (
            format!(
                "query($id: ID!) {{ result: runtime(id: $id) {{ {} }} }}",
                runtime()
            ),
            json!({"id": runtime_id}),
        ),
        (
            format!(
                "{{ result: integrationSystems {{ {} }} }}",
                page(integration_system())
            ),
            json!({}),
        ),
        (
            format!(
                "{{ result: applicationTemplates {{ {} }} }}",
                page(application_template())
            ),
            json!({}),
        ),
        (
            "{ result: labelDefinitions { key schema } }".into(),
            json!({}),
        ),
        (
            r#"{ result: labelDefinition(key: "scenarios") { key schema } }"#.into(),
            json!({}),
        ),
        (INTROSPECTION.into(), json!({})),
    ];
    for (query, variables) in queries {
        let body = app.gql_as(&app.admin_token, &query, variables).await;
        assert!(body.get("errors").is_none(), "{query}\n{body}");
        assert!(!body["data"].is_null(), "{body}");
    }
    // Mutations answer the same full field sets.
    let mutations: Vec<(String, Value)> = vec![
        (
            format!(
                "mutation($id: ID!, $in: ApplicationUpdateInput!) {{ result: updateApplication(id: $id, in: $in) {{ {} }} }}",
                application(false)
            ),
            json!({"id": app_id, "in": {"name": "compass-app", "providerName": "compass", "description": "updated"}}),
        ),
        (
            format!(
                "mutation($id: ID!, $in: APIDefinitionInput!) {{ result: addAPIDefinition(applicationID: $id, in: $in) {{ {} }} }}",
                api_definition(false)
            ),
            json!({"id": app_id, "in": api_input("third")}),
        ),
        (
            format!(
                "mutation($id: ID!, $in: EventDefinitionInput!) {{ result: addEventDefinition(applicationID: $id, in: $in) {{ {} }} }}",
                event_definition()
            ),
            json!({"id": app_id, "in": event_input("more-events")}),
        ),
        (
            format!(
                "mutation($id: ID!, $in: DocumentInput!) {{ result: addDocument(applicationID: $id, in: $in) {{ {} }} }}",
                document()
            ),
            json!({"id": app_id, "in": {"title": "t", "displayName": "d", "description": "d",
                                        "format": "MARKDOWN", "data": "# t"}}),
        ),
        (
            format!(
                "mutation($id: ID!, $in: WebhookInput!) {{ result: addWebhook(applicationID: $id, in: $in) {{ id applicationID type url auth {{ {AUTH} }} }} }}"
            ),
            json!({"id": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "https://other.example.com"}}),
        ),
        (
            "mutation($id: ID!) { result: setApplicationLabel(applicationID: $id, key: \"team\", value: \"a\") { key value } }".into(),
            json!({"id": app_id}),
        ),
        (
            "mutation($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { token connectorURL raw rawEncoded } }".into(),
            json!({"id": app_id}),
        ),
        (
            format!(
                "mutation($id: ID!, $in: RuntimeInput!) {{ result: updateRuntime(id: $id, in: $in) {{ {} }} }}",
                runtime()
            ),
            json!({"id": runtime_id, "in": {"name": "compass-runtime", "labels": {"scenarios": ["DEFAULT"]}}}),
        ),
    ];
    for (mutation, variables) in mutations {
        let body = app.gql_as(&app.admin_token, &mutation, variables).await;
        assert!(body.get("errors").is_none(), "{mutation}\n{body}");
        assert!(!body["data"]["result"].is_null(), "{body}");
    }
    // The answers hold what was registered, down to the nested credentials.
    let body = app
        .gql(
            &format!(
                "query($runtime: ID!) {{ result: applicationsForRuntime(runtimeID: $runtime) {{ {} }} }}",
                page(application(true))
            ),
            json!({"runtime": runtime_id}),
        )
        .await;
    let listed = &body["result"]["data"][0];
    assert_eq!(listed["id"], app_id.as_str());
    assert_eq!(listed["apiDefinitions"]["totalCount"], 3);
    assert_eq!(listed["eventDefinitions"]["totalCount"], 2);
    assert_eq!(listed["documents"]["totalCount"], 2);
    let hook = listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["url"] == "https://hooks.example.com")
        .expect("the registered webhook");
    assert_eq!(hook["auth"]["credential"]["username"], "hook");
    // The OAuth2 client, and the pairing auth of the one-time token.
    assert_eq!(listed["auths"].as_array().unwrap().len(), 2);
    let apis = listed["apiDefinitions"]["data"].as_array().unwrap();
    let own = apis
        .iter()
        .find(|a| a["name"] == "api")
        .expect("the API with credentials");
    assert_eq!(own["auth"]["auth"]["credential"]["username"], "rt");
    assert_eq!(own["defaultAuth"]["credential"]["username"], "user");
}

// --- bombs ---

/// One fragment of 3,000 `__typename` fields spread 3,000 times (48 KB, 9 million fields).
fn typename_bomb() -> String {
    let fields = "__typename ".repeat(3_000);
    let spreads = "...F ".repeat(3_000);
    format!("query {{ {spreads} }} fragment F on Query {{ {fields} }}")
}

/// Fragments of ten spreads of the next, six levels deep: a million fields in a few hundred
/// bytes.
fn nested_bomb(root: &str) -> String {
    let mut doc = "query { ...F0 }".to_owned();
    for level in 0..6 {
        let spreads = format!("...F{} ", level + 1).repeat(10);
        doc.push_str(&format!(" fragment F{level} on {root} {{ {spreads} }}"));
    }
    doc.push_str(&format!(
        " fragment F6 on {root} {{ {} }}",
        "__typename ".repeat(10)
    ));
    doc
}

/// The same through aliases.
fn alias_bomb() -> String {
    let fields: String = (0..3_000).map(|i| format!("a{i}: __typename ")).collect();
    let spreads = "...F ".repeat(1_000);
    format!("query {{ {spreads} }} fragment F on Query {{ {fields} }}")
}

/// Inline fragments nested in spread fragments.
fn inline_bomb(root: &str) -> String {
    let mut doc = "query { ...F0 }".to_owned();
    for level in 0..6 {
        let inline = format!("... on {root} {{ ...F{} }} ", level + 1).repeat(10);
        doc.push_str(&format!(" fragment F{level} on {root} {{ {inline} }}"));
    }
    doc.push_str(&format!(" fragment F6 on {root} {{ __typename }}"));
    doc
}

/// Directives on every field of a spread fragment.
fn directive_bomb() -> String {
    let fields = "__typename @include(if: true) ".repeat(1_000);
    let spreads = "...F @skip(if: false) ".repeat(1_000);
    format!("query {{ {spreads} }} fragment F on Query {{ {fields} }}")
}

fn bombs(root: &str) -> Vec<(&'static str, String)> {
    vec![
        ("typename", typename_bomb()),
        ("nested", nested_bomb(root)),
        ("alias", alias_bomb()),
        ("inline", inline_bomb(root)),
        ("directive", directive_bomb()),
    ]
}

/// The resident set of this process (the server runs in it), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .to_owned();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Sends a document and checks it is refused as too large, before anything runs; answers how
/// long the refusal took.
async fn refused(what: &str, send: impl AsyncFnOnce() -> (u16, Value)) -> Duration {
    let started = Instant::now();
    let (status, body) = send().await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{what}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_LARGE",
        "{what}: {body}"
    );
    assert!(body["data"].is_null(), "{what}: {body}");
    // Expanded, any of these takes seconds and gigabytes.
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    took
}

/// Refusals take well under 100 ms; on a shared test machine one attempt may be delayed by
/// other work, so the fastest of the rounds counts.
fn within_100_ms(times: &std::collections::BTreeMap<String, Duration>) {
    for (what, fastest) in times {
        eprintln!("{what}: refused in {fastest:?}");
        assert!(
            *fastest < Duration::from_millis(100),
            "{what} took {fastest:?} to refuse"
        );
    }
}

fn record(times: &mut std::collections::BTreeMap<String, Duration>, what: String, took: Duration) {
    let fastest = times.entry(what).or_insert(took);
    *fastest = (*fastest).min(took);
}

/// Sends a document and checks it is refused within 100 ms.
async fn refused_quickly(what: &str, send: impl AsyncFnOnce() -> (u16, Value)) {
    let took = refused(what, send).await;
    let mut times = std::collections::BTreeMap::new();
    times.insert(what.to_owned(), took);
    within_100_ms(&times);
}

async fn post_json(
    client: &reqwest::Client,
    url: String,
    headers: &[(&str, &str)],
    query: &str,
) -> (u16, Value) {
    let mut request = client.post(url).json(&json!({"query": query}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn bombs_are_refused_quickly_on_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("victim", json!({})).await;
    let (mtls_client, _) = paired(&app, "Application", &app_id).await;
    let mtls = format!("https://localhost:{}", app.server().mtls_addr.port());
    let bearer = format!("Bearer {}", app.admin_token);
    // Warm up connections and allocations, then measure.
    app.gql("{ __typename }", json!({})).await;
    let before = rss();
    let mut times = std::collections::BTreeMap::new();
    for _round in 0..5 {
        for (name, doc) in bombs("Query") {
            let what = format!("director {name}");
            let took = refused(&what, async || {
                post_json(
                    &app.client,
                    format!("{}/director/graphql", app.base),
                    &[("Authorization", &bearer)],
                    &doc,
                )
                .await
            })
            .await;
            record(&mut times, what, took);
            let what = format!("mTLS director {name}");
            let took = refused(&what, async || {
                post_json(&mtls_client, format!("{mtls}/director/graphql"), &[], &doc).await
            })
            .await;
            record(&mut times, what, took);
            let what = format!("provisioner {name}");
            let took = refused(&what, async || {
                post_json(
                    &app.client,
                    format!("{}/provisioner/graphql", app.base),
                    &[("Authorization", &bearer)],
                    &doc,
                )
                .await
            })
            .await;
            record(&mut times, what, took);
        }
        // The certificate-secured Connector takes its small documents only; the small bombs
        // are counted.
        for (name, doc) in [
            ("nested", nested_bomb("Query")),
            ("inline", inline_bomb("Query")),
        ] {
            let what = format!("mTLS connector {name}");
            let took = refused(&what, async || {
                post_json(&mtls_client, format!("{mtls}/connector/graphql"), &[], &doc).await
            })
            .await;
            record(&mut times, what, took);
        }
    }
    within_100_ms(&times);
    let grown = rss().saturating_sub(before);
    eprintln!(
        "after the refusals the resident set grew by {} KiB",
        grown / 1024
    );
    assert!(
        grown < 20 * 1024 * 1024,
        "the server grew by {} MiB",
        grown / 1024 / 1024
    );
    // And keeps answering.
    let data = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(data["applications"]["totalCount"], 1);
    let data = app
        .gql(
            "mutation { r: registerApplication(in: {name: \"after\", providerName: \"p\"}) { id } }",
            json!({}),
        )
        .await;
    assert!(data["r"]["id"].is_string());
}

async fn the_connector_checks_its_token_before_reading_the_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let url = format!("{}/connector/graphql", app.base);
    let bomb = typename_bomb();
    let introspection = "{ __schema { types { name fields { name } } } }";
    // Any made-up token: refused before the body is read, whatever it holds (a bomb, an
    // introspection query, not even JSON).
    for query in [bomb.as_str(), nested_bomb("Query").as_str(), introspection] {
        let started = Instant::now();
        let (status, body) = post_json(
            &app.client,
            url.clone(),
            &[("Connector-Token", "made-up")],
            query,
        )
        .await;
        assert!(started.elapsed() < Duration::from_millis(100));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_TOKEN");
        assert!(body["data"].is_null(), "{body}");
    }
    let response = app
        .client
        .post(&url)
        .header("Connector-Token", "made-up")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_TOKEN");

    // A real token: introspection works; a body over the Connector's limit is 413; a bomb
    // small enough to arrive is counted and refused; none of them uses the token up.
    let token = app
        .gql(
            "mutation($id: ID!) { t: requestOneTimeTokenForApplication(id: $id) { token } }",
            json!({"id": app_id}),
        )
        .await["t"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let headers = [("Connector-Token", token.as_str())];
    let (_, body) = post_json(&app.client, url.clone(), &headers, introspection).await;
    assert!(body["data"]["__schema"]["types"].is_array(), "{body}");
    let (status, _) = post_json(&app.client, url.clone(), &headers, &bomb).await;
    assert_eq!(status, 413);
    refused_quickly("connector nested", async || {
        post_json(&app.client, url.clone(), &headers, &nested_bomb("Query")).await
    })
    .await;
    refused_quickly("connector alias", async || {
        let fields: String = (0..1_000).map(|i| format!("a{i}: __typename ")).collect();
        let doc = format!(
            "query {{ {} }} fragment F on Query {{ {fields} }}",
            "...F ".repeat(100)
        );
        post_json(&app.client, url.clone(), &headers, &doc).await
    })
    .await;
    let (status, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    assert_eq!(status, 200);
    assert!(
        body["data"]["configuration"]["token"]["token"].is_string(),
        "the token still pairs: {body}"
    );
    // Used up now: refused before parsing, as an unknown one.
    let (_, body) = post_json(&app.client, url, &headers, introspection).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_TOKEN");
}

// --- execution budgets ---

async fn spawn_limited(backend: Backend, limits: sextant_server::GraphqlLimits) -> TestApp {
    TestApp::spawn_with(
        backend,
        sextant_server::ServerOptions {
            graphql_limits: Some(limits),
            ..sextant_server::ServerOptions::default()
        },
    )
    .await
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error code: {body}"))
}

async fn too_many_resolved_values_are_refused(backend: Backend) {
    let app = spawn_limited(
        backend,
        sextant_server::GraphqlLimits {
            max_resolved: 100,
            ..sextant_server::GraphqlLimits::DEFAULT
        },
    )
    .await;
    for i in 0..30 {
        app.register_app(&format!("app-{i}"), json!({"n": i})).await;
    }
    // 30 applications of 4 fields each, and the list's items: over 100.
    let body = app
        .gql_as(
            &app.admin_token,
            "{ applications { data { id name labels description } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "TOO_MANY_VALUES", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    // Smaller pages fit, and the server answers them.
    let data = app
        .gql(
            "{ applications(first: 10) { data { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["applications"]["data"].as_array().unwrap().len(), 10);
}

async fn oversized_responses_are_refused(backend: Backend) {
    let app = spawn_limited(
        backend,
        sextant_server::GraphqlLimits {
            max_response_bytes: 4_096,
            ..sextant_server::GraphqlLimits::DEFAULT
        },
    )
    .await;
    let description = "d".repeat(120);
    for i in 0..40 {
        app.gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": format!("app-{i}"), "providerName": "p", "description": description}}),
        )
        .await;
    }
    // 40 descriptions of 120 bytes: about 5 KB.
    let body = app
        .gql_as(
            &app.admin_token,
            "{ applications { data { description } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "RESPONSE_TOO_LARGE", "{body}");
    assert!(body["data"].is_null(), "{body}");
    let data = app
        .gql(
            "{ applications(first: 5) { data { description } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["applications"]["data"].as_array().unwrap().len(), 5);
}

async fn slow_requests_are_stopped_and_change_nothing(backend: Backend) {
    let app = spawn_limited(
        backend,
        sextant_server::GraphqlLimits {
            timeout: Duration::from_secs(1),
            ..sextant_server::GraphqlLimits::DEFAULT
        },
    )
    .await;
    // A spec endpoint that accepts connections and never answers: the fetch waits for it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let input = json!({
        "name": "slow",
        "providerName": "p",
        "apiDefinitions": [{
            "name": "api",
            "targetURL": "https://api.example.com",
            "spec": {"type": "OPEN_API", "format": "YAML",
                     "fetchRequest": {"url": format!("http://127.0.0.1:{port}/spec.yaml")}},
        }],
    });
    let started = Instant::now();
    let body = app
        .gql_as(
            &app.admin_token,
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": input}),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(code(&body), "TIMEOUT", "{body}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Nothing was registered, and the server answers others.
    let data = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(data["applications"]["totalCount"], 0);
    held.abort();
}

on_both_backends!(
    compass_operations_execute,
    bombs_are_refused_quickly_on_every_endpoint,
    the_connector_checks_its_token_before_reading_the_request,
    too_many_resolved_values_are_refused,
    oversized_responses_are_refused,
    slow_requests_are_stopped_and_change_nothing,
);
