//! Fetch requests that really fetch: a fake spec server on 127.0.0.1 serves specs, errors, a
//! slow and a large answer, and a Basic-protected spec, and counts every hit. Failed fetches
//! do not fail the mutation; they are recorded in the fetch request's status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{
    ASYNCAPI_YAML, AUTH_FRAGMENTS, Backend, OPENAPI_YAML, TestApp, assert_error_code, basic_auth,
    expected_auth,
};
use crate::on_both_backends;

/// `user:pass` in Basic encoding.
const USER_PASS: &str = "Basic dXNlcjpwYXNz";
/// The body `/big` answers: 17 MiB, more than a fetched spec may be.
const BIG_BYTES: usize = 17 * 1024 * 1024;
/// An OpenAPI document the spec validation refuses (no `info`).
const BAD_OPENAPI: &str = "openapi: 3.0.0\npaths: {}\n";
const MARKDOWN: &str = "# Guide\n\nFetched from the spec server.\n";

#[derive(Default)]
struct Served {
    /// Path -> (status, body) for the plain paths; anything else is 404.
    bodies: Mutex<HashMap<String, (u16, String)>>,
    hits: Mutex<HashMap<String, usize>>,
}

/// The fake peer: an HTTP server on 127.0.0.1 the Director fetches from.
struct SpecServer {
    base: String,
    served: Arc<Served>,
}

async fn serve(State(served): State<Arc<Served>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    *served.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(15)).await;
            OPENAPI_YAML.into_response()
        }
        "/delay" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let body = served.bodies.lock().unwrap().get("/spec.yaml").cloned();
            body.map(|(_, b)| b).unwrap_or_default().into_response()
        }
        "/big" => "#".repeat(BIG_BYTES).into_response(),
        "/binary" => vec![0xffu8, 0xfe, 0x00, 0x80].into_response(),
        "/basic" => {
            if headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some(USER_PASS)
            {
                OPENAPI_YAML.into_response()
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Basic realm=\"specs\"")],
                    "who are you?",
                )
                    .into_response()
            }
        }
        _ => match served.bodies.lock().unwrap().get(&path) {
            Some((status, body)) => {
                (StatusCode::from_u16(*status).unwrap(), body.clone()).into_response()
            }
            None => (StatusCode::NOT_FOUND, "no such spec").into_response(),
        },
    }
}

impl SpecServer {
    async fn start() -> SpecServer {
        let served = Arc::new(Served::default());
        for (path, body) in [
            ("/spec.yaml", OPENAPI_YAML),
            ("/async.yaml", ASYNCAPI_YAML),
            ("/bad.yaml", BAD_OPENAPI),
            ("/doc.md", MARKDOWN),
            ("/package", OPENAPI_YAML),
        ] {
            served
                .bodies
                .lock()
                .unwrap()
                .insert(path.to_owned(), (200, body.to_owned()));
        }
        let router = axum::Router::new()
            .fallback(serve)
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        SpecServer { base, served }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> usize {
        self.served
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, path: &str, status: u16, body: &str) {
        self.served
            .bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.to_owned()));
    }
}

const FETCH_FIELDS: &str = "url mode filter auth { ...AuthFields } \
                            status { condition timestamp message }";

fn spec_fields() -> String {
    format!("data format type fetchRequest {{ {FETCH_FIELDS} }}")
}

fn api_fetching(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "targetURL": "https://api.example.com",
        "spec": {"type": "OPEN_API", "format": "YAML", "fetchRequest": {"url": url}},
    })
}

/// Checks that a Timestamp is RFC 3339 and within a minute of now; returns it parsed.
fn recent(timestamp: &Value) -> time::OffsetDateTime {
    let text = timestamp
        .as_str()
        .unwrap_or_else(|| panic!("timestamp {timestamp}"));
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("timestamp {text:?} is not RFC 3339: {e}"));
    let age = time::OffsetDateTime::now_utc() - parsed;
    assert!(
        age.abs() < time::Duration::minutes(1),
        "{text} is not recent"
    );
    parsed
}

/// Asserts a fetch request's fields and returns its status message.
fn check_fetch(fetch: &Value, url: &str, condition: &str) -> String {
    assert_eq!(fetch["url"], url, "{fetch}");
    assert_eq!(fetch["mode"], "SINGLE", "{fetch}");
    assert_eq!(fetch["filter"], Value::Null, "{fetch}");
    assert_eq!(fetch["status"]["condition"], condition, "{fetch}");
    recent(&fetch["status"]["timestamp"]);
    fetch["status"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a message: {fetch}"))
        .to_owned()
}

async fn read_app(app: &TestApp, id: &str) -> Value {
    let query = format!(
        "query($id: ID!) {{ application(id: $id) {{
            apiDefinitions(first: 20) {{ data {{ name spec {{ {specs} }} }} }}
            eventDefinitions(first: 20) {{ data {{ name spec {{ {specs} }} }} }}
            documents(first: 20) {{ data {{ title data fetchRequest {{ {FETCH_FIELDS} }} }} }} }} }}
         {AUTH_FRAGMENTS}",
        specs = spec_fields()
    );
    app.gql(&query, json!({"id": id})).await["application"].clone()
}

fn by_name<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v[key] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

async fn specs_and_documents_are_fetched_on_registration(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let input = json!({
        "name": "fetched",
        "providerName": "acme",
        "apiDefinitions": [api_fetching("pets", &specs.url("/spec.yaml"))],
        "eventDefinitions": [{"name": "orders", "spec": {"type": "ASYNC_API", "format": "YAML",
                              "fetchRequest": {"url": specs.url("/async.yaml")}}}],
        "documents": [{"title": "Guide", "displayName": "Guide", "description": "d",
                       "format": "MARKDOWN", "fetchRequest": {"url": specs.url("/doc.md")}}],
    });
    let registered = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": input}),
        )
        .await;
    let app_id = registered["registerApplication"]["id"].as_str().unwrap();
    let catalog = read_app(&app, app_id).await;

    let api = by_name(&catalog["apiDefinitions"], "name", "pets");
    assert_eq!(api["spec"]["data"], OPENAPI_YAML);
    assert_eq!(api["spec"]["type"], "OPEN_API");
    assert_eq!(api["spec"]["format"], "YAML");
    let message = check_fetch(
        &api["spec"]["fetchRequest"],
        &specs.url("/spec.yaml"),
        "SUCCEEDED",
    );
    assert_eq!(message, format!("fetched {} bytes", OPENAPI_YAML.len()));
    assert_eq!(api["spec"]["fetchRequest"]["auth"], Value::Null);

    let event = by_name(&catalog["eventDefinitions"], "name", "orders");
    assert_eq!(event["spec"]["data"], ASYNCAPI_YAML);
    check_fetch(
        &event["spec"]["fetchRequest"],
        &specs.url("/async.yaml"),
        "SUCCEEDED",
    );

    let document = by_name(&catalog["documents"], "title", "Guide");
    assert_eq!(document["data"], MARKDOWN);
    check_fetch(
        &document["fetchRequest"],
        &specs.url("/doc.md"),
        "SUCCEEDED",
    );

    assert_eq!(specs.hits("/spec.yaml"), 1);
    assert_eq!(specs.hits("/async.yaml"), 1);
    assert_eq!(specs.hits("/doc.md"), 1);

    // addAPIDefinition and addDocument fetch too.
    let added = app
        .gql(
            &format!(
                "mutation($app: ID!, $in: APIDefinitionInput!) {{ addAPIDefinition(applicationID: $app, in: $in) {{ spec {{ {} }} }} }} {AUTH_FRAGMENTS}",
                spec_fields()
            ),
            json!({"app": app_id, "in": api_fetching("added", &specs.url("/spec.yaml"))}),
        )
        .await["addAPIDefinition"]["spec"]
        .clone();
    assert_eq!(added["data"], OPENAPI_YAML);
    check_fetch(
        &added["fetchRequest"],
        &specs.url("/spec.yaml"),
        "SUCCEEDED",
    );
    let added = app
        .gql(
            &format!(
                "mutation($app: ID!, $in: DocumentInput!) {{ addDocument(applicationID: $app, in: $in) {{ data fetchRequest {{ {FETCH_FIELDS} }} }} }} {AUTH_FRAGMENTS}"
            ),
            json!({"app": app_id, "in": {"title": "Missing", "displayName": "d", "description": "d",
                   "format": "MARKDOWN", "fetchRequest": {"url": specs.url("/missing.md")}}}),
        )
        .await["addDocument"]
        .clone();
    assert_eq!(added["data"], Value::Null);
    let message = check_fetch(&added["fetchRequest"], &specs.url("/missing.md"), "FAILED");
    assert_eq!(
        message,
        format!("GET {} answered 404 Not Found", specs.url("/missing.md"))
    );
    assert_eq!(specs.hits("/spec.yaml"), 2);
    assert_eq!(specs.hits("/missing.md"), 1);
}

async fn failed_fetches_are_recorded_and_the_mutation_succeeds(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let mut right = api_fetching("basic-right", &specs.url("/basic"));
    right["spec"]["fetchRequest"]["auth"] = basic_auth("user", "pass");
    let mut wrong = api_fetching("basic-wrong", &specs.url("/basic"));
    wrong["spec"]["fetchRequest"]["auth"] = basic_auth("user", "wrong");
    let mut package = api_fetching("package", &specs.url("/package"));
    package["spec"]["fetchRequest"]["mode"] = json!("PACKAGE");
    let input = json!({
        "name": "failing",
        "providerName": "acme",
        "apiDefinitions": [
            api_fetching("missing", &specs.url("/missing")),
            api_fetching("big", &specs.url("/big")),
            api_fetching("bad", &specs.url("/bad.yaml")),
            right.clone(),
            wrong.clone(),
            package,
        ],
        "documents": [{"title": "Binary", "displayName": "d", "description": "d",
                       "format": "MARKDOWN", "fetchRequest": {"url": specs.url("/binary")}}],
    });
    let registered = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": input}),
        )
        .await;
    let app_id = registered["registerApplication"]["id"].as_str().unwrap();
    let apis = read_app(&app, app_id).await["apiDefinitions"].clone();
    assert_eq!(apis["data"].as_array().unwrap().len(), 6);
    let failed = |name: &str, path: &str| -> String {
        let spec = &by_name(&apis, "name", name)["spec"];
        assert_eq!(spec["data"], Value::Null, "{name}: {spec}");
        let mut fetch = spec["fetchRequest"].clone();
        if name == "package" {
            assert_eq!(fetch["mode"], "PACKAGE");
            fetch["mode"] = json!("SINGLE");
        }
        check_fetch(&fetch, &specs.url(path), "FAILED")
    };

    assert_eq!(
        failed("missing", "/missing"),
        format!("GET {} answered 404 Not Found", specs.url("/missing"))
    );
    assert_eq!(
        failed("big", "/big"),
        "the response is larger than 16777216 bytes"
    );
    let message = failed("bad", "/bad.yaml");
    assert!(
        message.starts_with(
            "the fetched document was refused: data is not a valid OpenAPI document: "
        ) && message.contains("info"),
        "{message}"
    );
    assert_eq!(
        failed("basic-wrong", "/basic"),
        format!("GET {} answered 401 Unauthorized", specs.url("/basic"))
    );
    assert_eq!(
        failed("package", "/package"),
        "fetch mode PACKAGE is not supported: only SINGLE is"
    );

    let ok = &by_name(&apis, "name", "basic-right")["spec"];
    assert_eq!(ok["data"], OPENAPI_YAML);
    assert_eq!(ok["fetchRequest"]["status"]["condition"], "SUCCEEDED");
    // The fetch request keeps its credentials.
    assert_eq!(
        ok["fetchRequest"]["auth"],
        expected_auth(&right["spec"]["fetchRequest"]["auth"])
    );
    assert_eq!(
        by_name(&apis, "name", "basic-wrong")["spec"]["fetchRequest"]["auth"],
        expected_auth(&wrong["spec"]["fetchRequest"]["auth"])
    );

    let document = by_name(
        &read_app(&app, app_id).await["documents"],
        "title",
        "Binary",
    )
    .clone();
    assert_eq!(document["data"], Value::Null);
    assert_eq!(
        check_fetch(&document["fetchRequest"], &specs.url("/binary"), "FAILED"),
        "the response is not valid UTF-8 text"
    );

    assert_eq!(specs.hits("/missing"), 1);
    assert_eq!(specs.hits("/bad.yaml"), 1);
    assert_eq!(specs.hits("/basic"), 2);
    assert_eq!(specs.hits("/package"), 0, "PACKAGE mode fetches nothing");
}

async fn a_slow_endpoint_times_out(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let started = Instant::now();
    let spec = app
        .gql(
            &format!(
                "mutation($app: ID!, $in: APIDefinitionInput!) {{ addAPIDefinition(applicationID: $app, in: $in) {{ spec {{ {} }} }} }} {AUTH_FRAGMENTS}",
                spec_fields()
            ),
            json!({"app": app_id, "in": api_fetching("slow", &specs.url("/slow"))}),
        )
        .await["addAPIDefinition"]["spec"]
        .clone();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(14), "took {took:?}");
    assert!(took >= Duration::from_secs(9), "took {took:?}");
    assert_eq!(spec["data"], Value::Null);
    let message = check_fetch(&spec["fetchRequest"], &specs.url("/slow"), "FAILED");
    assert_eq!(message, "timed out after 10s");
    assert_eq!(specs.hits("/slow"), 1);
}

async fn refetch_reads_the_changed_spec(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let api_id = app
        .add_api(&app_id, api_fetching("pets", &specs.url("/spec.yaml")))
        .await;
    let first = read_app(&app, &app_id).await["apiDefinitions"]["data"][0]["spec"].clone();
    assert_eq!(first["data"], OPENAPI_YAML);
    let first_time = recent(&first["fetchRequest"]["status"]["timestamp"]);

    let v2 = OPENAPI_YAML.replace("version: 1.0.0", "version: 2.0.0");
    specs.set("/spec.yaml", 200, &v2);
    let refetch = format!(
        "mutation($id: ID!) {{ refetchAPISpec(apiID: $id) {{ {} }} }} {AUTH_FRAGMENTS}",
        spec_fields()
    );
    let refetched = app.gql(&refetch, json!({"id": api_id})).await["refetchAPISpec"].clone();
    assert_eq!(refetched["data"], v2.as_str());
    let message = check_fetch(
        &refetched["fetchRequest"],
        &specs.url("/spec.yaml"),
        "SUCCEEDED",
    );
    assert_eq!(message, format!("fetched {} bytes", v2.len()));
    assert!(recent(&refetched["fetchRequest"]["status"]["timestamp"]) >= first_time);
    assert_eq!(
        read_app(&app, &app_id).await["apiDefinitions"]["data"][0]["spec"],
        refetched
    );
    assert_eq!(specs.hits("/spec.yaml"), 2);

    // A failed refetch records FAILED and keeps the last good data.
    specs.set("/spec.yaml", 500, "broken");
    let failed = app.gql(&refetch, json!({"id": api_id})).await["refetchAPISpec"].clone();
    assert_eq!(failed["data"], v2.as_str());
    let message = check_fetch(&failed["fetchRequest"], &specs.url("/spec.yaml"), "FAILED");
    assert_eq!(
        message,
        format!(
            "GET {} answered 500 Internal Server Error",
            specs.url("/spec.yaml")
        )
    );
    assert_eq!(
        read_app(&app, &app_id).await["apiDefinitions"]["data"][0]["spec"],
        failed
    );

    // An inline spec is answered as stored; an API without a spec is an error.
    let inline_id = app
        .add_api(&app_id, crate::helpers::api_input("inline"))
        .await;
    let inline = app.gql(&refetch, json!({"id": inline_id})).await["refetchAPISpec"].clone();
    assert_eq!(inline["data"], OPENAPI_YAML);
    assert_eq!(inline["fetchRequest"], Value::Null);
    let bare = app
        .add_api(
            &app_id,
            json!({"name": "bare", "targetURL": "https://api.example.com"}),
        )
        .await;
    let message = app
        .gql_error("INVALID_DATA", &refetch, json!({"id": bare}))
        .await;
    assert!(message.contains("has no spec"), "{message}");
    let message = app
        .gql_error(
            "NOT_FOUND",
            &refetch,
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
}

/// A refetch fetches outside any transaction; an update committed meanwhile must not be
/// undone by the refetch's write.
async fn refetch_does_not_undo_a_concurrent_update(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let api_id = app
        .add_api(&app_id, api_fetching("pets", &specs.url("/delay")))
        .await;
    let v2 = OPENAPI_YAML.replace("version: 1.0.0", "version: 2.0.0");
    specs.set("/spec.yaml", 200, &v2);
    let refetch = "mutation($id: ID!) { refetchAPISpec(apiID: $id) { data } }";
    let update = "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }";
    let inline = crate::helpers::api_input("pets");
    let (_, updated) = tokio::join!(
        app.gql_as(&app.admin_token, refetch, json!({"id": api_id})),
        async {
            // While the refetch waits for the slow endpoint.
            tokio::time::sleep(Duration::from_millis(700)).await;
            app.gql(update, json!({"id": api_id, "in": inline})).await
        }
    );
    assert_eq!(updated["updateAPIDefinition"]["id"], api_id.as_str());
    assert_eq!(specs.hits("/delay"), 2);
    let spec = read_app(&app, &app_id).await["apiDefinitions"]["data"][0]["spec"].clone();
    assert_eq!(
        spec,
        json!({"data": OPENAPI_YAML, "format": "YAML", "type": "OPEN_API", "fetchRequest": null}),
        "the update (inline spec, no fetch request) must stand"
    );
}

async fn refetch_event_spec_works_with_application_write(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let event_id = app
        .add_event(
            &app_id,
            json!({"name": "orders", "spec": {"type": "ASYNC_API", "format": "YAML",
                   "fetchRequest": {"url": specs.url("/async.yaml")}}}),
        )
        .await;
    let v2 = ASYNCAPI_YAML.replace("version: 1.0.0", "version: 2.0.0");
    specs.set("/async.yaml", 200, &v2);
    let refetch = format!(
        "mutation($id: ID!) {{ refetchEventDefinitionSpec(eventID: $id) {{ {} }} }} {AUTH_FRAGMENTS}",
        spec_fields()
    );

    // Without application:write: refused, nothing fetched.
    let reader = app.token(&[TenantId::DEFAULT], &["application:read"]);
    let message = assert_error_code(
        &app.gql_as(&reader, &refetch, json!({"id": event_id})).await,
        "INSUFFICIENT_SCOPES",
    );
    assert!(
        message.starts_with("insufficient scopes provided, required: [application:write]"),
        "{message}"
    );
    assert_eq!(specs.hits("/async.yaml"), 1);

    let writer = app.token(&[TenantId::DEFAULT], &["application:write"]);
    let body = app.gql_as(&writer, &refetch, json!({"id": event_id})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let spec = &body["data"]["refetchEventDefinitionSpec"];
    assert_eq!(spec["data"], v2.as_str());
    assert_eq!(spec["type"], "ASYNC_API");
    check_fetch(
        &spec["fetchRequest"],
        &specs.url("/async.yaml"),
        "SUCCEEDED",
    );
    assert_eq!(specs.hits("/async.yaml"), 2);
    let stored = read_app(&app, &app_id).await["eventDefinitions"]["data"][0]["spec"].clone();
    assert_eq!(&stored, spec);

    // An invalid document is refused on refetch: FAILED, the data stays.
    specs.set("/async.yaml", 200, "asyncapi: 2.0.0\n");
    let spec =
        app.gql(&refetch, json!({"id": event_id})).await["refetchEventDefinitionSpec"].clone();
    assert_eq!(spec["data"], v2.as_str());
    let message = check_fetch(&spec["fetchRequest"], &specs.url("/async.yaml"), "FAILED");
    assert!(
        message.starts_with("the fetched document was refused: "),
        "{message}"
    );
}

/// Nothing is fetched for an application that does not exist or is out of the caller's
/// reach: the server is not anyone's proxy.
async fn nothing_is_fetched_for_a_missing_or_foreign_target(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let missing = uuid::Uuid::new_v4().to_string();
    let message = assert_error_code(
        &app.gql_as(
            &app.admin_token,
            "mutation($a: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $a, in: $in) { id } }",
            json!({"a": missing, "in": api_fetching("pets", &specs.url("/spec.yaml"))}),
        )
        .await, "NOT_FOUND");
    assert_eq!(message, "Cannot add API to not existing Application");
    let message = assert_error_code(
        &app.gql_as(
            &app.admin_token,
            "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
            json!({"id": missing, "in": api_fetching("pets", &specs.url("/spec.yaml"))}),
        )
        .await, "NOT_FOUND");
    assert!(message.contains("does not exist"), "{message}");
    // Another tenant's application.
    let app_id = app.register_app("app", json!({})).await;
    let (_, other) = app.other_tenant();
    let message = assert_error_code(
        &app.gql_as(
            &other,
            "mutation($a: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $a, in: $in) { id } }",
            json!({"a": app_id, "in": api_fetching("pets", &specs.url("/spec.yaml"))}),
        )
        .await, "NOT_FOUND");
    assert_eq!(message, "Cannot add API to not existing Application");
    assert_eq!(specs.hits("/spec.yaml"), 0, "nothing was fetched");
}

async fn fetch_urls_must_be_http(backend: Backend) {
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let ftp = "ftp://127.0.0.1/spec.yaml";
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": api_fetching("ftp", ftp)}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type APIDefinitionInput: spec: (Rule.FetchRequest: (url: must be a valid URL.).)."
    );
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"name": "ftp", "spec": {"type": "ASYNC_API", "format": "YAML",
                   "fetchRequest": {"url": ftp}}}}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type EventDefinitionInput: spec: (Rule.FetchRequest: (url: must be a valid URL.).)."
    );
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation($app: ID!, $in: DocumentInput!) { addDocument(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"title": "t", "displayName": "d", "description": "d",
                   "format": "MARKDOWN", "fetchRequest": {"url": ftp}}}),
        )
        .await;
    assert!(
        message
            == "validation error for type DocumentInput: fetchRequest: (url: must be a valid URL.).",
        "{message}"
    );
    let data = app
        .gql(
            "query($id: ID!) { application(id: $id) { apiDefinitions { totalCount } eventDefinitions { totalCount } documents { totalCount } } }",
            json!({"id": app_id}),
        )
        .await;
    assert_eq!(
        data["application"],
        json!({"apiDefinitions": {"totalCount": 0}, "eventDefinitions": {"totalCount": 0},
               "documents": {"totalCount": 0}})
    );
    assert_eq!(
        specs.served.hits.lock().unwrap().len(),
        0,
        "nothing was fetched"
    );
}

/// The test servers run with the egress allow-list `localhost,127.0.0.1,::1` (as
/// `--fetch-allow-hosts` sets it): a fetch request (or its OAuth token endpoint) on another
/// host fails at once with the reason, before any DNS lookup, and changes nothing else: the
/// mutation succeeds, fetches from allowed hosts go on, and the spec server sees no request.
async fn a_host_off_the_allow_list_is_refused_before_any_lookup(backend: Backend) {
    const REFUSED: &str =
        "is not allowed: outbound calls may reach only the hosts on the server's allow-list";
    let specs = SpecServer::start().await;
    let app = TestApp::spawn(backend).await;
    let mut token_off_list = api_fetching("token-off-list", &specs.url("/spec.yaml"));
    token_off_list["spec"]["fetchRequest"]["auth"] = json!({"credential": {"oauth": {
        "clientId": "id", "clientSecret": "secret", "url": "https://auth.foo.bar/oauth/token"}}});
    let input = json!({
        "name": "egress",
        "providerName": "acme",
        "apiDefinitions": [
            api_fetching("inside", &specs.url("/spec.yaml")),
            api_fetching("outside", "https://foo.bar/spec.yaml"),
            token_off_list,
        ],
        "eventDefinitions": [{"name": "events", "spec": {"type": "ASYNC_API", "format": "YAML",
                              "fetchRequest": {"url": "specs.kyma-project.io/api.yaml"}}}],
        "documents": [{"title": "Readme", "displayName": "d", "description": "d",
                       "format": "MARKDOWN", "fetchRequest": {"url": "kyma-project.io"}}],
    });
    let started = Instant::now();
    let registered = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": input}),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let app_id = registered["registerApplication"]["id"].as_str().unwrap();
    let read = read_app(&app, app_id).await;
    let apis = &read["apiDefinitions"];
    assert_eq!(apis["data"].as_array().unwrap().len(), 3, "{apis}");

    // The allowed host was fetched as always.
    let inside = &by_name(apis, "name", "inside")["spec"];
    assert_eq!(inside["data"], OPENAPI_YAML);
    check_fetch(
        &inside["fetchRequest"],
        &specs.url("/spec.yaml"),
        "SUCCEEDED",
    );
    assert_eq!(specs.hits("/spec.yaml"), 1);

    // The others failed with the reason.
    let outside = &by_name(apis, "name", "outside")["spec"];
    assert_eq!(outside["data"], Value::Null);
    let message = check_fetch(
        &outside["fetchRequest"],
        "https://foo.bar/spec.yaml",
        "FAILED",
    );
    assert_eq!(message, format!("host foo.bar {REFUSED}"));
    let token = &by_name(apis, "name", "token-off-list")["spec"];
    assert_eq!(token["data"], Value::Null);
    let message = check_fetch(&token["fetchRequest"], &specs.url("/spec.yaml"), "FAILED");
    assert_eq!(
        message,
        format!(
            "authentication failed: the OAuth token endpoint cannot be used: host auth.foo.bar {REFUSED}"
        )
    );
    let event = &read["eventDefinitions"]["data"][0]["spec"];
    assert_eq!(event["data"], Value::Null);
    let message = check_fetch(
        &event["fetchRequest"],
        "specs.kyma-project.io/api.yaml",
        "FAILED",
    );
    assert_eq!(message, format!("host specs.kyma-project.io {REFUSED}"));
    let document = &read["documents"]["data"][0];
    assert_eq!(document["title"], "Readme");
    assert_eq!(document["data"], Value::Null);
    let message = check_fetch(&document["fetchRequest"], "kyma-project.io", "FAILED");
    assert_eq!(message, format!("host kyma-project.io {REFUSED}"));
    // The token step never reached the spec server either.
    assert_eq!(specs.hits("/spec.yaml"), 1);

    // A refetch is refused the same way and keeps what is stored; the allowed one refetches.
    let refetch = format!(
        "mutation($id: ID!) {{ refetchAPISpec(apiID: $id) {{ {} }} }} {AUTH_FRAGMENTS}",
        spec_fields()
    );
    let ids = app
        .gql(
            "query($id: ID!) { application(id: $id) { apiDefinitions { data { id name } } } }",
            json!({"id": app_id}),
        )
        .await;
    let id_of = |name: &str| {
        by_name(&ids["application"]["apiDefinitions"], "name", name)["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let refetched =
        app.gql(&refetch, json!({"id": id_of("outside")})).await["refetchAPISpec"].clone();
    assert_eq!(refetched["data"], Value::Null);
    let message = check_fetch(
        &refetched["fetchRequest"],
        "https://foo.bar/spec.yaml",
        "FAILED",
    );
    assert_eq!(message, format!("host foo.bar {REFUSED}"));
    let refetched =
        app.gql(&refetch, json!({"id": id_of("inside")})).await["refetchAPISpec"].clone();
    assert_eq!(refetched["data"], OPENAPI_YAML);
    assert_eq!(specs.hits("/spec.yaml"), 2);
    let after = read_app(&app, app_id).await;
    assert_eq!(
        by_name(&after["apiDefinitions"], "name", "inside")["spec"],
        refetched
    );
    assert_eq!(
        by_name(&after["apiDefinitions"], "name", "token-off-list")["spec"],
        *token
    );
    assert_eq!(after["documents"], read["documents"]);
    assert_eq!(after["eventDefinitions"], read["eventDefinitions"]);
}

on_both_backends!(
    a_host_off_the_allow_list_is_refused_before_any_lookup,
    specs_and_documents_are_fetched_on_registration,
    failed_fetches_are_recorded_and_the_mutation_succeeds,
    a_slow_endpoint_times_out,
    refetch_reads_the_changed_spec,
    refetch_event_spec_works_with_application_write,
    fetch_urls_must_be_http,
    refetch_does_not_undo_a_concurrent_update,
    nothing_is_fetched_for_a_missing_or_foreign_target,
);
