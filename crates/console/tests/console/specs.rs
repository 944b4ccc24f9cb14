//! An application's API and event specs in the console: the outline (OpenAPI operations,
//! AsyncAPI channels, OData entity sets) and the raw spec, escaped; a spec fetched from a
//! real local server, its fetch status and "Fetch the spec again" (CSRF, scope and tenant
//! checked, nothing changed when refused). And the application's client credentials: the
//! secret shown once, revoking one client (the same checks).

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{ALL_SCOPES, Backend, Browser, TestServer, application_auths, register};

const OPENAPI: &str = r#"openapi: 3.0.0
info: { title: Orders, version: "1" }
paths:
  /orders:
    get: { summary: "List <orders>", responses: { "200": { description: ok } } }
    post: { operationId: createOrder, responses: { "201": { description: made } } }
  /orders/{id}:
    delete: { summary: Cancel an order, responses: { "204": { description: gone } } }
"#;

const ASYNCAPI: &str = r##"{"asyncapi": "2.0.0", "info": {"title": "Events", "version": "1"},
 "channels": {"order/created": {"subscribe": {"message": {"name": "OrderCreated"}}},
              "order/shipped": {"publish": {"message": {"$ref": "#/components/messages/Shipped"}}}}}"##;

const ODATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Shop" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Product"><Key><PropertyRef Name="ID"/></Key><Property Name="ID" Type="Edm.Int32"/></EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Products" EntityType="Shop.Product"/>
        <EntitySet Name="Suppliers" EntityType="Shop.Product"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// A spec served on loopback; `set` changes what the next fetch gets.
struct SpecServer {
    url: String,
    body: Arc<Mutex<String>>,
}

impl SpecServer {
    async fn start(body: &str) -> SpecServer {
        let served = Arc::new(Mutex::new(body.to_owned()));
        let state = served.clone();
        let handler = move || {
            let state = state.clone();
            async move { state.lock().unwrap().clone() }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/openapi.yaml", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().fallback(handler))
                .await
                .unwrap();
        });
        SpecServer { url, body: served }
    }

    fn set(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_owned();
    }
}

/// Registers an application with an inline OpenAPI and OData API, an AsyncAPI event and,
/// if `fetched` is given, an API whose spec is fetched from it; answers the application's
/// id and its definitions' ids by name.
async fn application_with_specs(
    server: &TestServer,
    name: &str,
    fetched: Option<&str>,
) -> (String, Value) {
    let mut apis = vec![
        json!({"name": "orders", "targetURL": "https://orders.example",
               "spec": {"type": "OPEN_API", "format": "YAML", "data": OPENAPI}}),
        json!({"name": "catalog", "targetURL": "https://catalog.example",
               "spec": {"type": "ODATA", "format": "XML", "data": ODATA}}),
    ];
    if let Some(url) = fetched {
        apis.push(
            json!({"name": "fetched", "targetURL": "https://fetched.example",
            "spec": {"type": "OPEN_API", "format": "YAML", "fetchRequest": {"url": url}}}),
        );
    }
    let answer = server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id \
             apiDefinitions { data { id name } } eventDefinitions { data { id name } } } }",
            json!({"in": {"name": name, "providerName": "acme", "apiDefinitions": apis,
                "eventDefinitions": [{"name": "events",
                    "spec": {"type": "ASYNC_API", "format": "JSON", "data": ASYNCAPI}}]}}),
        )
        .await;
    let app = &answer["registerApplication"];
    let mut ids = serde_json::Map::new();
    for list in ["apiDefinitions", "eventDefinitions"] {
        for d in app[list]["data"].as_array().unwrap() {
            ids.insert(d["name"].as_str().unwrap().to_owned(), d["id"].clone());
        }
    }
    (app["id"].as_str().unwrap().to_owned(), Value::Object(ids))
}

fn id(ids: &Value, name: &str) -> String {
    ids[name].as_str().unwrap().to_owned()
}

/// The fetched API's spec data and fetch status, as the administrator's GraphQL says.
async fn fetched_spec(server: &TestServer, app: &str, api: &str) -> (String, String) {
    let answer = server
        .director(
            "query($app: ID!, $api: ID!) { application(id: $app) { apiDefinition(id: $api) { \
             spec { data fetchRequest { status { condition } } } } } }",
            json!({"app": app, "api": api}),
        )
        .await;
    let spec = &answer["application"]["apiDefinition"]["spec"];
    (
        spec["data"].as_str().unwrap_or_default().to_owned(),
        spec["fetchRequest"]["status"]["condition"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn specs_are_outlined_and_shown_raw(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (app, ids) = application_with_specs(&server, "shop", None).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;

    let detail = browser.get(&format!("/console/applications/{app}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    let orders = id(&ids, "orders");
    assert!(
        detail.body.contains(&format!(
            "class=\"api\" href=\"/console/applications/{app}/apis/{orders}\""
        )),
        "{}",
        detail.body
    );

    let page = browser
        .get(&format!("/console/applications/{app}/apis/{orders}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body.matches("class=\"outline-row\"").count(), 3);
    for shown in [
        "<code>GET</code>",
        "<code>/orders</code>",
        "createOrder",
        "<code>DELETE</code>",
        "Cancel an order",
    ] {
        assert!(page.body.contains(shown), "{shown} in {}", page.body);
    }
    // Text from the spec is escaped, in the outline and in the raw spec.
    assert!(!page.body.contains("<orders>"));
    assert!(
        page.body.contains("List &lt;orders&gt;") || page.body.contains("List &#60;orders&#62;")
    );
    assert!(page.body.contains("id=\"raw-spec\""));
    assert!(page.body.contains("openapi: 3.0.0"));
    // An inline spec has no fetch to repeat.
    assert!(!page.body.contains("id=\"refetch\""));

    let page = browser
        .get(&format!(
            "/console/applications/{app}/apis/{}",
            id(&ids, "catalog")
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("class=\"outline-row\"").count(), 2);
    assert!(
        page.body.contains("<code>Products</code>") && page.body.contains("<code>Suppliers</code>")
    );

    let page = browser
        .get(&format!(
            "/console/applications/{app}/events/{}",
            id(&ids, "events")
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("class=\"outline-row\"").count(), 2);
    for shown in [
        "order/created",
        "subscribe",
        "OrderCreated",
        "order/shipped",
        "publish",
        "Shipped",
    ] {
        assert!(page.body.contains(shown), "{shown} in {}", page.body);
    }

    // Another tenant's ids, an event's id as an API's, and ids that are not ids: 404.
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let path = format!("/console/applications/{app}/apis/{orders}");
    assert_eq!(stranger.get(&path).await.status, StatusCode::NOT_FOUND);
    let (other, _) = application_with_specs(&server, "other", None).await;
    for path in [
        format!("/console/applications/{other}/apis/{orders}"),
        format!("/console/applications/{app}/apis/{}", id(&ids, "events")),
        format!("/console/applications/{app}/apis/nope"),
    ] {
        assert_eq!(
            browser.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn a_fetched_spec_shows_its_status_and_is_fetched_again(backend: Backend) {
    let served = SpecServer::start(OPENAPI).await;
    let server = TestServer::start(backend).await;
    let (app, ids) = application_with_specs(&server, "shop", Some(&served.url)).await;
    let api = id(&ids, "fetched");
    let path = format!("/console/applications/{app}/apis/{api}");
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let page = browser.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.text_of("fetch-status").unwrap(), "SUCCEEDED");
    assert!(page.body.contains("createOrder"));
    let detail = browser.get(&format!("/console/applications/{app}")).await;
    assert!(
        detail.body.contains("<td>SUCCEEDED</td>"),
        "{}",
        detail.body
    );

    // The served spec changes; refused refetches change nothing.
    let changed = OPENAPI.replace("createOrder", "placeOrder");
    served.set(&changed);
    let refetch = format!("{path}/refetch");
    let csrf = page.csrf();
    for fields in [vec![], vec![("csrf", "wrong")]] {
        let refused = browser.post(&refetch, &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            fetched_spec(&server, &app, &api)
                .await
                .0
                .contains("createOrder")
        );
    }
    let mut reader = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let read_only = reader.get(&path).await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(!read_only.body.contains("id=\"refetch\""));
    let forged = reader.post(&refetch, &[("csrf", &read_only.csrf())]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        fetched_spec(&server, &app, &api)
            .await
            .0
            .contains("createOrder")
    );
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let csrf_elsewhere = stranger.csrf().await;
    let page = stranger.post(&refetch, &[("csrf", &csrf_elsewhere)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        fetched_spec(&server, &app, &api)
            .await
            .0
            .contains("createOrder")
    );

    // The button: fetched again, the page shows the new spec.
    assert!(page_has_refetch(&mut browser, &path).await);
    let done = browser.post(&refetch, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), Some(path.as_str()));
    assert!(
        fetched_spec(&server, &app, &api)
            .await
            .0
            .contains("placeOrder")
    );
    let page = browser.get(&path).await;
    assert!(page.body.contains("placeOrder"));

    // A fetch that fails keeps the spec and says why.
    served.set("not: [a spec");
    let done = browser.post(&refetch, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = browser.get(&path).await;
    assert_eq!(page.text_of("fetch-status").unwrap(), "FAILED");
    assert!(page.body.contains("id=\"fetch-message\""));
    assert!(page.body.contains("placeOrder"));
}

async fn page_has_refetch(browser: &mut Browser, path: &str) -> bool {
    browser.get(path).await.body.contains("id=\"refetch\"")
}

async fn client_credentials_show_the_secret_once_and_are_revoked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = register(&server, "shop", json!({})).await;
    let other = register(&server, "other", json!({})).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let detail = browser.get(&format!("/console/applications/{app}")).await;
    let csrf = detail.csrf();

    let made = browser
        .post(
            &format!("/console/applications/{app}/credentials"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = made.text_of("client-secret").unwrap();
    let client = made.text_of("client-id").unwrap();
    assert!(secret.len() > 20);
    let detail = browser.get(&format!("/console/applications/{app}")).await;
    assert!(detail.body.contains(&client));
    assert!(!detail.body.contains(&secret), "the secret is shown again");
    assert_eq!(application_auths(&server, &app).await, 1);
    // Another application's client, for the checks below.
    let theirs = browser
        .post(
            &format!("/console/applications/{other}/credentials"),
            &[("csrf", &csrf)],
        )
        .await
        .text_of("client-id")
        .unwrap();

    let revoke = format!("/console/applications/{app}/credentials/{client}/revoke");
    for fields in [vec![], vec![("csrf", "wrong")]] {
        assert_eq!(
            browser.post(&revoke, &fields).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let mut reader = Browser::signed_in(&server, &[TenantId::DEFAULT], "application:read").await;
    let read_only = reader.get(&format!("/console/applications/{app}")).await;
    assert!(!read_only.body.contains("/revoke"));
    assert!(!read_only.body.contains("id=\"request-credentials\""));
    let forged = reader.post(&revoke, &[("csrf", &read_only.csrf())]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let forged = reader
        .post(
            &format!("/console/applications/{app}/credentials"),
            &[("csrf", &read_only.csrf())],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut stranger =
        Browser::signed_in(&server, &[TenantId(uuid::Uuid::new_v4())], ALL_SCOPES).await;
    let elsewhere = stranger.csrf().await;
    assert_eq!(
        stranger.post(&revoke, &[("csrf", &elsewhere)]).await.status,
        StatusCode::NOT_FOUND
    );
    // Another application's client through this application's page.
    let crossed = format!("/console/applications/{app}/credentials/{theirs}/revoke");
    assert_eq!(
        browser.post(&crossed, &[("csrf", &csrf)]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(application_auths(&server, &app).await, 1);
    assert_eq!(application_auths(&server, &other).await, 1);

    let done = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(application_auths(&server, &app).await, 0);
    assert_eq!(application_auths(&server, &other).await, 1);
}

on_both_backends!(
    specs_are_outlined_and_shown_raw,
    a_fetched_spec_shows_its_status_and_is_fetched_again,
    client_credentials_show_the_secret_once_and_are_revoked,
);
