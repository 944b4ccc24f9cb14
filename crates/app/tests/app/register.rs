//! Registering APIs, events and documents as the application: from a manifest, and from
//! OpenAPI/AsyncAPI documents directly; registering again updates.

use serde_json::{Value, json};
use sextant_app::Manifest;
use sextant_app::register::register;

use crate::helpers::{ASYNCAPI_YAML, AppServer, Backend, OPENAPI_YAML, TestServer};

const CATALOG: &str = "query($id: ID!) { application(id: $id) {
    apiDefinitions { data { id name targetURL spec { type format data } defaultAuth { credential { ... on BasicCredentialData { username } } } } }
    eventDefinitions { data { id name spec { type format } } }
    documents { data { id title data } } } }";

async fn catalog(server: &TestServer, app: &str) -> Value {
    server.director(CATALOG, json!({"id": app})).await["application"].clone()
}

fn manifest_text(target: &str) -> String {
    format!(
        "apis:\n  - name: orders\n    targetURL: {target}\n    spec: {{file: orders.yaml}}\n    defaultAuth: {{credential: {{basic: {{username: shop, password: pw}}}}}}\n\
         events:\n  - name: order-events\n    spec:\n      data: |\n        asyncapi: 2.0.0\n        info: {{title: Orders, version: 1.0.0}}\n        channels: {{}}\n\
         documents:\n  - title: readme\n    displayName: Read me\n    description: How to use the shop\n    file: README.md\n"
    )
}

async fn registers_from_a_manifest_and_registering_again_updates(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, shop) = server.seed(None).await;
    let client = server.paired(&shop).await;
    let dir = server.new_state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("orders.yaml"), OPENAPI_YAML).unwrap();
    std::fs::write(dir.join("README.md"), "# The shop\n").unwrap();
    let path = dir.join("app.yaml");
    std::fs::write(&path, manifest_text("https://shop.example.com/v1")).unwrap();

    let done = register(&client, &Manifest::load(&path).unwrap())
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = done.iter().map(|r| (r.kind, r.action)).collect();
    assert_eq!(
        actions,
        [("api", "added"), ("event", "added"), ("document", "added")]
    );
    let app = catalog(&server, &shop).await;
    let api = &app["apiDefinitions"]["data"][0];
    assert_eq!(api["name"], "orders");
    assert_eq!(api["targetURL"], "https://shop.example.com/v1");
    assert_eq!(api["spec"]["type"], "OPEN_API");
    assert_eq!(api["spec"]["format"], "YAML");
    assert_eq!(api["spec"]["data"], OPENAPI_YAML);
    assert_eq!(api["defaultAuth"]["credential"]["username"], "shop");
    assert_eq!(app["eventDefinitions"]["data"][0]["name"], "order-events");
    assert_eq!(
        app["eventDefinitions"]["data"][0]["spec"]["type"],
        "ASYNC_API"
    );
    assert_eq!(app["documents"]["data"][0]["title"], "readme");
    assert_eq!(app["documents"]["data"][0]["data"], "# The shop\n");
    let api_id = api["id"].clone();

    // Again, with a changed target: updated in place, nothing duplicated.
    std::fs::write(&path, manifest_text("https://shop.example.com/v2")).unwrap();
    let done = register(&client, &Manifest::load(&path).unwrap())
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = done.iter().map(|r| (r.kind, r.action)).collect();
    assert_eq!(
        actions,
        [
            ("api", "updated"),
            ("event", "updated"),
            ("document", "replaced")
        ]
    );
    let app = catalog(&server, &shop).await;
    assert_eq!(app["apiDefinitions"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(app["apiDefinitions"]["data"][0]["id"], api_id);
    assert_eq!(
        app["apiDefinitions"]["data"][0]["targetURL"],
        "https://shop.example.com/v2"
    );
    assert_eq!(app["eventDefinitions"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(app["documents"]["data"].as_array().unwrap().len(), 1);
}

async fn registers_openapi_and_asyncapi_documents_directly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, shop) = server.seed(None).await;
    let client = server.paired(&shop).await;
    let dir = server.new_state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let openapi = json!({
        "openapi": "3.0.0",
        "info": {"title": "Orders API", "version": "2.1.0", "description": "Orders of the shop"},
        "servers": [{"url": "https://orders.example.com/api"}],
        "paths": {}
    });
    std::fs::write(dir.join("orders.json"), openapi.to_string()).unwrap();
    std::fs::write(dir.join("events.yaml"), ASYNCAPI_YAML).unwrap();
    let mut manifest = Manifest::from_openapi(&dir.join("orders.json"), None, None).unwrap();
    manifest.extend(Manifest::from_asyncapi(&dir.join("events.yaml"), None).unwrap());
    let done = register(&client, &manifest).await.unwrap();
    assert_eq!(done.len(), 2);
    let app = catalog(&server, &shop).await;
    let api = &app["apiDefinitions"]["data"][0];
    assert_eq!(api["name"], "orders-api");
    assert_eq!(api["targetURL"], "https://orders.example.com/api");
    assert_eq!(api["spec"]["format"], "JSON");
    assert_eq!(app["eventDefinitions"]["data"][0]["name"], "orders");

    // Without servers, a target URL must be given.
    std::fs::write(dir.join("bare.yaml"), OPENAPI_YAML).unwrap();
    assert!(Manifest::from_openapi(&dir.join("bare.yaml"), None, None).is_err());
    let manifest = Manifest::from_openapi(
        &dir.join("bare.yaml"),
        Some("orders-api"),
        Some("https://o.example.com"),
    )
    .unwrap();
    let done = register(&client, &manifest).await.unwrap();
    assert_eq!(done[0].action, "updated");
    let app = catalog(&server, &shop).await;
    assert_eq!(app["apiDefinitions"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app["apiDefinitions"]["data"][0]["targetURL"],
        "https://o.example.com"
    );
}

crate::on_both_backends!(
    registers_from_a_manifest_and_registering_again_updates,
    registers_openapi_and_asyncapi_documents_directly,
);
