//! Specs stored once and served by hash: an application's large specs cost the server no
//! memory per runtime (a runtime's document names specs by hash, the texts live in the store
//! and one bounded cache), spec quotas per application and per tenant refuse a write with
//! `QUOTA_EXCEEDED` and change nothing, a 13 MB spec is registrable through a fetch request,
//! and specs are served gzip-compressed to clients that accept it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_domain::SpecLimits;

use crate::helpers::{Backend, TestApp};
use crate::rotation::pair_as;

/// What the fake spec server serves: path → body.
type Bodies = Arc<Mutex<HashMap<String, Arc<String>>>>;

/// A fake spec server on 127.0.0.1.
struct SpecServer {
    base: String,
    bodies: Bodies,
}

async fn serve(State(bodies): State<Bodies>, uri: Uri) -> Response {
    match bodies.lock().unwrap().get(uri.path()) {
        Some(body) => body.as_ref().clone().into_response(),
        None => (StatusCode::NOT_FOUND, "no such spec").into_response(),
    }
}

impl SpecServer {
    async fn start() -> SpecServer {
        let bodies: Bodies = Arc::default();
        let router = axum::Router::new()
            .fallback(serve)
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        SpecServer { base, bodies }
    }

    /// Serves `body` at `path`; answers its URL.
    fn put(&self, path: &str, body: String) -> String {
        self.bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), Arc::new(body));
        format!("{}{path}", self.base)
    }
}

/// An OpenAPI document in JSON of about `bytes` bytes, shaped like a real one: many paths,
/// each with an operation.
fn big_openapi(bytes: usize, marker: &str) -> String {
    let mut out = format!(
        "{{\"openapi\":\"3.0.0\",\"info\":{{\"title\":\"{marker}\",\"version\":\"1.0.0\"}},\"paths\":{{"
    );
    let mut i = 0;
    while out.len() + 200 < bytes {
        if i > 0 {
            out.push(',');
        }
        write!(
            out,
            "\"/items/{i}\":{{\"get\":{{\"summary\":\"Reads item {i} of the {marker} catalog\",\
             \"operationId\":\"get{i}\",\"responses\":{{\"200\":{{\"description\":\"the item\"}}}}}}}}"
        )
        .unwrap();
        i += 1;
    }
    out.push_str("}}");
    out
}

/// A valid OpenAPI document in YAML of exactly `bytes` bytes (padded in its description).
fn inline_openapi(bytes: usize, marker: &str) -> String {
    let head =
        format!("openapi: 3.0.0\ninfo:\n  title: {marker}\n  version: 1.0.0\n  description: ");
    let tail = "\npaths: {}\n";
    format!(
        "{head}{}{tail}",
        "a".repeat(bytes - head.len() - tail.len())
    )
}

fn inline_asyncapi(bytes: usize, marker: &str) -> String {
    let head =
        format!("asyncapi: 2.0.0\ninfo:\n  title: {marker}\n  version: 1.0.0\n  description: ");
    let tail = "\nchannels: {}\n";
    format!(
        "{head}{}{tail}",
        "a".repeat(bytes - head.len() - tail.len())
    )
}

fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mtls_url(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{path}", app.server().mtls_addr.port())
}

/// A GraphQL request to the Director with a client certificate (as an application calls it).
async fn director_as(client: &reqwest::Client, app: &TestApp, query: &str, vars: Value) -> Value {
    client
        .post(mtls_url(app, "/director/graphql"))
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const ADD_API: &str = "mutation($app: ID!, $in: APIDefinitionInput!) { \
    addAPIDefinition(applicationID: $app, in: $in) { id \
    spec { fetchRequest { status { condition message } } } } }";

fn fetched_api(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "targetURL": "https://api.example.com",
        "spec": {"type": "OPEN_API", "format": "JSON", "fetchRequest": {"url": url}},
    })
}

fn inline_api(name: &str, data: &str) -> Value {
    json!({
        "name": name,
        "targetURL": "https://api.example.com",
        "spec": {"type": "OPEN_API", "format": "YAML", "data": data},
    })
}

/// The specs a configuration document names: hash → size.
fn named_specs(doc: &Value) -> HashMap<String, u64> {
    doc["applications"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|app| {
            app["apis"]
                .as_array()
                .unwrap()
                .iter()
                .chain(app["events"].as_array().unwrap())
                .filter_map(|d| d["spec"].as_object().cloned())
                .collect::<Vec<_>>()
        })
        .map(|spec| {
            (
                spec["sha256"].as_str().unwrap().to_owned(),
                spec["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn configuration(client: &reqwest::Client, app: &TestApp) -> Value {
    let response = client
        .get(mtls_url(app, "/runtime/configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// GETs a spec; answers its text (decoded) and whether it came gzip-encoded.
async fn spec(
    client: &reqwest::Client,
    app: &TestApp,
    sha256: &str,
    gzip: bool,
) -> (Vec<u8>, bool) {
    let mut request = client.get(mtls_url(app, &format!("/runtime/specs/{sha256}")));
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let encoded = response
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = response.bytes().await.unwrap().to_vec();
    if !encoded {
        return (body, false);
    }
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    assert!(
        body.len() < decoded.len() / 2,
        "compressed: {} bytes",
        body.len()
    );
    (decoded, true)
}

/// The attack of issue 13: an application, with only its own certificate, stores large specs
/// (here 4 × 4 MB through fetch requests); every runtime in its scenario reads its
/// configuration and every spec, then a label change makes all documents rebuild. What the
/// server keeps per runtime stays a few kilobytes, and the spec texts it keeps are bounded
/// by one shared cache.
async fn large_specs_of_an_application_cost_no_memory_per_runtime(backend: Backend) {
    const SPECS: usize = 4;
    const SPEC_BYTES: usize = 4_000_000;
    const RUNTIMES: usize = 5;
    /// What one runtime's document may keep: its JSON and the hashes, far below one spec.
    const PER_RUNTIME: usize = 16 * 1024;
    let app = TestApp::spawn(backend).await;
    let specs = SpecServer::start().await;
    app.define_scenarios(&["BIG"]).await;
    let big = app.register_app("big", json!({"scenarios": ["BIG"]})).await;
    let own = pair_as(&app, "Application", &big).await;
    let own = own.client(&own.trusted_pem);
    for i in 0..SPECS {
        let url = specs.put(
            &format!("/s{i}.json"),
            big_openapi(SPEC_BYTES, &format!("s{i}")),
        );
        let added = director_as(
            &own,
            &app,
            ADD_API,
            json!({"app": big, "in": fetched_api(&format!("api{i}"), &url)}),
        )
        .await;
        assert_eq!(
            added["data"]["addAPIDefinition"]["spec"]["fetchRequest"]["status"]["condition"],
            "SUCCEEDED",
            "{added}"
        );
    }

    let mut runtimes = Vec::new();
    for r in 0..RUNTIMES {
        let id = app
            .register_runtime(&format!("rt{r}"), json!({"scenarios": ["BIG"]}))
            .await;
        let paired = pair_as(&app, "Runtime", &id).await;
        runtimes.push(paired.client(&paired.trusted_pem));
    }
    let mut named = HashMap::new();
    for client in &runtimes {
        named = named_specs(&configuration(client, &app).await);
        assert_eq!(named.len(), SPECS);
    }
    let (documents, held) = app.server().runtime_documents_held();
    assert_eq!(documents, RUNTIMES);
    assert!(
        held < RUNTIMES * PER_RUNTIME,
        "{RUNTIMES} documents hold {held} bytes"
    );

    // Every runtime reads every spec, half of them compressed.
    for (r, client) in runtimes.iter().enumerate() {
        for (sha256, size) in &named {
            let (text, gzipped) = spec(client, &app, sha256, r % 2 == 0).await;
            assert_eq!(gzipped, r % 2 == 0);
            assert_eq!(text.len() as u64, *size);
            assert_eq!(&sha256_hex(&text), sha256);
        }
    }
    let (_, held) = app.server().runtime_documents_held();
    assert!(held < RUNTIMES * PER_RUNTIME, "after reading specs: {held}");
    assert!(app.server().specs_held() <= sextant_server::SPEC_CACHE_BYTES);

    // A label change rebuilds every document.
    app.gql(
        "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"tier\", value: \"gold\") { key } }",
        json!({"id": big}),
    )
    .await;
    for client in &runtimes {
        let doc = configuration(client, &app).await;
        assert_eq!(doc["applications"][0]["labels"]["tier"], "gold");
    }
    let (documents, held) = app.server().runtime_documents_held();
    assert_eq!(documents, RUNTIMES);
    assert!(held < RUNTIMES * PER_RUNTIME, "after the rebuild: {held}");
}

/// Quotas: 1.5 MB of specs per application, 2 MB per tenant, specs of 600 kB.
fn quota_options() -> sextant_server::ServerOptions {
    sextant_server::ServerOptions {
        spec_limits: Some(SpecLimits {
            per_application: 1_500_000,
            per_tenant: 2_000_000,
            ..SpecLimits::default()
        }),
        ..sextant_server::ServerOptions::default()
    }
}

const SPEC: usize = 600_000;

fn quota_error(body: &Value) -> String {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "QUOTA_EXCEEDED", "{body}");
    error["message"].as_str().unwrap().to_owned()
}

async fn api_count(app: &TestApp, id: &str) -> usize {
    app.gql(
        "query($id: ID!) { application(id: $id) { apiDefinitions { totalCount } eventDefinitions { totalCount } } }",
        json!({"id": id}),
    )
    .await["application"]["apiDefinitions"]["totalCount"]
        .as_u64()
        .unwrap() as usize
}

async fn an_application_over_its_spec_quota_is_refused_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn_with(backend, quota_options()).await;
    let shop = app.register_app("shop", json!({})).await;
    let first = app
        .add_api(&shop, inline_api("one", &inline_openapi(SPEC, "one")))
        .await;
    app.add_api(&shop, inline_api("two", &inline_openapi(SPEC, "two")))
        .await;

    // A third spec would make 1.8 MB.
    let refused = app
        .gql_as(
            &app.admin_token,
            ADD_API,
            json!({"app": shop, "in": inline_api("three", &inline_openapi(SPEC, "three"))}),
        )
        .await;
    let message = quota_error(&refused);
    assert!(
        message.contains("an application may store at most 1500000 bytes"),
        "{message}"
    );
    assert_eq!(api_count(&app, &shop).await, 2);
    // Event definitions count too.
    let refused = app
        .gql_as(&app.admin_token, "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": shop, "in": {"name": "events",
                "spec": {"type": "ASYNC_API", "format": "YAML", "data": inline_asyncapi(SPEC, "ev")}}}),
        )
        .await;
    quota_error(&refused);
    // Growing a spec through an update is refused; the old spec stays.
    let refused = app
        .gql_as(&app.admin_token, "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
            json!({"id": first, "in": inline_api("one", &inline_openapi(1_000_000, "bigger"))}),
        )
        .await;
    quota_error(&refused);
    let spec = app
        .gql(
            "query($id: ID!) { application(id: $id) { apiDefinitions { data { id spec { data } } } } }",
            json!({"id": shop}),
        )
        .await;
    let kept = spec["application"]["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == first)
        .unwrap()["spec"]["data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kept, inline_openapi(SPEC, "one"));
    // Shrinking is allowed, and then there is room again.
    app.gql(
        "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
        json!({"id": first, "in": inline_api("one", &inline_openapi(100_000, "small"))}),
    )
    .await;
    app.add_api(&shop, inline_api("three", &inline_openapi(SPEC, "three")))
        .await;
    assert_eq!(api_count(&app, &shop).await, 3);
}

async fn a_tenant_over_its_spec_quota_is_refused_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn_with(backend, quota_options()).await;
    let shop = app.register_app("shop", json!({})).await;
    app.add_api(&shop, inline_api("one", &inline_openapi(SPEC, "one")))
        .await;
    app.add_api(&shop, inline_api("two", &inline_openapi(SPEC, "two")))
        .await;
    const REGISTER: &str =
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
    let register = |name: &str, specs: usize| {
        json!({"in": {"name": name, "providerName": "p", "apiDefinitions": (0..specs)
            .map(|i| inline_api(&format!("api{i}"), &inline_openapi(SPEC, &format!("{name}{i}"))))
            .collect::<Vec<_>>()}})
    };
    // Two more specs would make the tenant's 2.4 MB: the whole registration is refused.
    let refused = app
        .gql_as(&app.admin_token, REGISTER, register("second", 2))
        .await;
    let message = quota_error(&refused);
    assert!(
        message.contains("a tenant may store at most 2000000 bytes"),
        "{message}"
    );
    let names: Vec<Value> = app
        .gql("{ applications { data { name } } }", json!({}))
        .await["applications"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("shop")],
        "nothing of the refused registration stays"
    );
    // One more fits.
    let ok = app
        .gql_as(&app.admin_token, REGISTER, register("second", 1))
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    // Another tenant has a quota of its own.
    let (_, other) = app.other_tenant();
    let ok = app.gql_as(&other, REGISTER, register("elsewhere", 2)).await;
    assert!(ok["errors"].is_null(), "{ok}");
}

/// Concurrent registrations share the tenant's quota exactly: of eight registrations of one
/// 600 kB spec each, racing for a 2 MB quota, three are stored and five refused, whatever
/// the order (on PostgreSQL each writer counts its bytes in a shard of its own, and the
/// quota check is serialized per tenant).
async fn concurrent_registrations_never_exceed_the_tenant_quota(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn_with(backend, quota_options()).await);
    const REGISTER: &str =
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..8 {
        let app = app.clone();
        racing.spawn(async move {
            let name = format!("racer{i}");
            let input = json!({"in": {"name": name, "providerName": "p", "apiDefinitions": [
                inline_api("api", &inline_openapi(SPEC, &name))]}});
            app.gql_as(&app.admin_token, REGISTER, input).await
        });
    }
    let (mut stored, mut refused) = (0, 0);
    while let Some(body) = racing.join_next().await {
        let body = body.unwrap();
        if body["errors"].is_null() {
            stored += 1;
        } else {
            quota_error(&body);
            refused += 1;
        }
    }
    assert_eq!((stored, refused), (3, 5));
    let apps =
        app.gql("{ applications { totalCount } }", json!({})).await["applications"]["totalCount"]
            .as_u64()
            .unwrap();
    assert_eq!(apps, 3, "nothing of a refused registration stays");
}

/// A 13 MB spec (GitHub's OpenAPI document is about that size) is fetched, validated and
/// stored; a runtime reads it plain or gzip-compressed; a spec over the 16 MiB limit is
/// refused with the limit in the fetch status.
async fn a_13_mb_spec_is_fetched_stored_and_served_compressed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let specs = SpecServer::start().await;
    app.define_scenarios(&["GH"]).await;
    let gh = app
        .register_app("github", json!({"scenarios": ["GH"]}))
        .await;
    let text = big_openapi(13_000_000, "github");
    let url = specs.put("/api.github.com.json", text.clone());
    let added = app
        .gql(ADD_API, json!({"app": gh, "in": fetched_api("rest", &url)}))
        .await;
    let status = &added["addAPIDefinition"]["spec"]["fetchRequest"]["status"];
    assert_eq!(status["condition"], "SUCCEEDED", "{added}");
    assert_eq!(status["message"], format!("fetched {} bytes", text.len()));

    let too_large = specs.put("/huge.json", big_openapi(17 * 1024 * 1024, "huge"));
    let refused = app
        .gql(
            ADD_API,
            json!({"app": gh, "in": fetched_api("huge", &too_large)}),
        )
        .await;
    let status = &refused["addAPIDefinition"]["spec"]["fetchRequest"]["status"];
    assert_eq!(status["condition"], "FAILED");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16777216 bytes"),
        "{status}"
    );

    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["GH"]}))
        .await;
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let client = paired.client(&paired.trusted_pem);
    let named = named_specs(&configuration(&client, &app).await);
    let sha256 = sha256_hex(text.as_bytes());
    assert_eq!(named.get(&sha256), Some(&(text.len() as u64)));
    let (plain, gzipped) = spec(&client, &app, &sha256, false).await;
    assert!(!gzipped);
    assert_eq!(plain, text.as_bytes());
    let (decoded, gzipped) = spec(&client, &app, &sha256, true).await;
    assert!(gzipped);
    assert_eq!(decoded, text.as_bytes());
    // `q=0` refuses gzip.
    let response = client
        .get(mtls_url(&app, &format!("/runtime/specs/{sha256}")))
        .header("Accept-Encoding", "gzip;q=0, identity")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(response.bytes().await.unwrap().len(), text.len());
}

crate::on_both_backends!(
    large_specs_of_an_application_cost_no_memory_per_runtime,
    an_application_over_its_spec_quota_is_refused_and_nothing_changes,
    a_tenant_over_its_spec_quota_is_refused_and_nothing_changes,
    concurrent_registrations_never_exceed_the_tenant_quota,
    a_13_mb_spec_is_fetched_stored_and_served_compressed,
);
