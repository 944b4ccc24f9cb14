//! Compass's example operations: one test per operation file of Compass's
//! `components/director/examples` folder as it stood at the end of 2019 (the files, in their
//! 2019 form, are in `compass_examples/`). Each sends its operation, with the ids of objects
//! the test made, through real HTTPS on both backends and checks Compass's answer: success
//! and the fields the example selects.
//!
//! Examples of that folder left out: the ones whose operations 2019's schema did not have
//! (bundles, packages, formations, tenants, runtime contexts, automatic scenario
//! assignments, subject mappings, system numbers, webhooks of runtimes and templates, ...),
//! the ones from before the December 2019 renames (`create-application/*`, `add-api`,
//! `delete-runtime`: `createApplication`, `addAPI`, `deleteRuntime` were gone by the end of
//! 2019), `register-application/create-application-with-{documents,event-apis}` (December
//! 2019 files without `providerName`, which 2019 then required; `register-application-with-
//! {documents,event-definitions}` replaced them) and `register-application-with-status`
//! (2020's `statusCondition`).

use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{ASYNCAPI_YAML, Backend, OPENAPI_YAML, TestApp, api_input};

/// The selection sets the examples share, by marker.
const FIELDS: &[(&str, &str)] = &[
    ("%APPLICATION%", "application"),
    ("%API_DEFINITION%", "api_definition"),
    ("%EVENT_DEFINITION%", "event_definition"),
    ("%DOCUMENT%", "document"),
    ("%WEBHOOK%", "webhook"),
    ("%RUNTIME%", "runtime"),
    ("%INTEGRATION_SYSTEM%", "integration_system"),
    ("%APPLICATION_TEMPLATE%", "application_template"),
    ("%FETCH_REQUEST%", "fetch_request"),
    ("%VERSION%", "version"),
    ("%PAGE_INFO%", "page_info"),
    ("%AUTH%", "auth"),
];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/compass_examples")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The example's operation with its selection sets expanded and its id markers replaced.
fn example(name: &str, ids: &[(&str, &str)]) -> String {
    let mut text = read(&format!("{name}.graphql"));
    // Field sets hold field sets (an API holds a fetch request holds an auth).
    for _ in 0..4 {
        for (marker, file) in FIELDS {
            if text.contains(marker) {
                text = text.replace(marker, &read(&format!("fields/{file}.graphql")));
            }
        }
    }
    for (marker, id) in ids {
        text = text.replace(marker, id);
    }
    let leftover = text
        .split('%')
        .skip(1)
        .step_by(2)
        .find(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    assert!(leftover.is_none(), "{name}: marker %{leftover:?}% left");
    text
}

/// Sends an example that must succeed and returns its `result` (or its data when the example
/// has no alias).
async fn send(app: &TestApp, name: &str, ids: &[(&str, &str)]) -> Value {
    let data = app.gql(&example(name, ids), json!({})).await;
    if data.get("result").is_some() {
        data["result"].clone()
    } else {
        data
    }
}

/// Sends an example that must fail and returns the message.
async fn send_err(app: &TestApp, name: &str, ids: &[(&str, &str)]) -> String {
    app.gql_error("IN_USE", &example(name, ids), json!({}))
        .await
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// An application with an API, an event definition, a document and a webhook.
struct Catalog {
    app: String,
    api: String,
    event: String,
    document: String,
    webhook: String,
}

async fn catalog(app: &TestApp) -> Catalog {
    let data = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) {
               id apiDefinitions { data { id } } eventDefinitions { data { id } }
               documents { data { id } } webhooks { id } } }",
            json!({"in": {
                "name": "catalog", "providerName": "compass",
                "labels": {"scenarios": ["DEFAULT"]},
                "apiDefinitions": [api_input("comments")],
                "eventDefinitions": [{"name": "events",
                    "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"}}],
                "documents": [{"title": "Readme", "displayName": "readme",
                               "description": "d", "format": "MARKDOWN", "data": "# Readme"}],
                "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "http://hooks.example.com/x"}],
            }}),
        )
        .await["registerApplication"]
        .clone();
    Catalog {
        app: id(&data),
        api: id(&data["apiDefinitions"]["data"][0]),
        event: id(&data["eventDefinitions"]["data"][0]),
        document: id(&data["documents"]["data"][0]),
        webhook: id(&data["webhooks"][0]),
    }
}

/// Compass's answer for a page that holds everything.
fn whole_page(total: usize) -> Value {
    json!({"startCursor": "", "endCursor": "", "hasNextPage": false, "total": total})
}

fn page_of(page: &Value) -> Value {
    json!({
        "startCursor": page["pageInfo"]["startCursor"],
        "endCursor": page["pageInfo"]["endCursor"],
        "hasNextPage": page["pageInfo"]["hasNextPage"],
        "total": page["totalCount"],
    })
}

fn names(page: &Value) -> Vec<String> {
    let mut names: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

// --- adding to an application ---

async fn add_api_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let api = send(&app, "add-api-definition", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(api["name"], "new-api-name");
    assert_eq!(api["targetURL"], "https://target.url");
    assert_eq!(api["spec"]["type"], "OPEN_API");
    assert_eq!(api["spec"]["format"], "JSON");
    let fetch = &api["spec"]["fetchRequest"];
    assert_eq!(fetch["url"], "https://foo.bar");
    assert_eq!(fetch["mode"], "SINGLE");
    assert!(fetch["status"]["timestamp"].is_string(), "{fetch}");
    assert_eq!(api["auths"], json!([]));
}

async fn add_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let document = send(&app, "add-document", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(
        json!([
            document["title"],
            document["displayName"],
            document["description"],
            document["format"],
            document["kind"],
            document["data"],
            document["fetchRequest"]
        ]),
        json!([
            "new-document",
            "new-document-display-name",
            "new-description",
            "MARKDOWN",
            null,
            null,
            null
        ])
    );
}

async fn add_event_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let event = send(&app, "add-event-definition", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(event["name"], "new-event-api");
    assert_eq!(event["spec"]["type"], "ASYNC_API");
    assert_eq!(event["spec"]["format"], "YAML");
    // A URL without a scheme, stored as given.
    assert_eq!(event["spec"]["fetchRequest"]["url"], "foo.bar");
    assert_eq!(event["version"], Value::Null);
}

async fn add_application_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let webhook = send(&app, "add-application-webhook", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(webhook["applicationID"], app_id.as_str());
    assert_eq!(webhook["type"], "CONFIGURATION_CHANGED");
    assert_eq!(webhook["url"], "http://new-webhook.url");
    assert_eq!(webhook["auth"], Value::Null);
}

// --- application templates ---

/// The template Compass's e2e tests register from (`template`, placeholder
/// `new-placeholder`), and its id.
async fn template(app: &TestApp) -> String {
    app.gql(
        "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
        json!({"in": {
            "name": "template",
            "applicationInput": {"name": "app", "providerName": "compass",
                                 "description": "test {{new-placeholder}}",
                                 "labels": {"scenarios": ["DEFAULT"]}},
            "placeholders": [{"name": "new-placeholder", "description": "a value"}],
            "accessLevel": "GLOBAL",
        }}),
    )
    .await["createApplicationTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_application_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let template = send(&app, "create-application-template", &[]).await;
    assert_eq!(template["name"], "app-template-name");
    assert_eq!(template["description"], "app-template-desc");
    assert_eq!(
        template["placeholders"],
        json!([{"name": "new-placeholder", "description": "new-placeholder-desc"}])
    );
    assert_eq!(template["accessLevel"], "GLOBAL");
    let input = template["applicationInput"].as_str().unwrap();
    for part in [
        "name: \"app\"",
        "description: \"test {{new-placeholder}}\"",
        "url: \"http://url.com\"",
    ] {
        assert!(input.contains(part), "{part} in {input}");
    }
}

async fn query_application_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = template(&app).await;
    let template = send(
        &app,
        "query-application-template",
        &[("%TEMPLATE_ID%", &id)],
    )
    .await;
    assert_eq!(template["id"], id.as_str());
    assert_eq!(template["name"], "template");
    assert_eq!(template["accessLevel"], "GLOBAL");
}

async fn query_application_templates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    template(&app).await;
    let page = send(&app, "query-application-templates", &[]).await;
    assert_eq!(page_of(&page), whole_page(1));
    assert_eq!(names(&page), ["template"]);
}

async fn update_application_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = template(&app).await;
    let template = send(
        &app,
        "update-application-template",
        &[("%TEMPLATE_ID%", &id)],
    )
    .await;
    assert_eq!(template["id"], id.as_str());
    assert_eq!(template["name"], "new-app-template");
    assert_eq!(template["description"], "new description");
    assert_eq!(
        template["placeholders"],
        json!([{"name": "name", "description": null}, {"name": "display-name", "description": null}])
    );
    assert!(
        template["applicationInput"]
            .as_str()
            .unwrap()
            .contains("description: \"{{name}} {{display-name}}\""),
        "{template}"
    );
}

async fn delete_application_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = template(&app).await;
    let template = send(
        &app,
        "delete-application-template",
        &[("%TEMPLATE_ID%", &id)],
    )
    .await;
    assert_eq!(template["id"], id.as_str());
    assert_eq!(template["name"], "template");
    let page = send(&app, "query-application-templates", &[]).await;
    assert_eq!(page_of(&page), whole_page(0));
}

async fn register_application_from_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    template(&app).await;
    let registered = send(&app, "register-application-from-template", &[]).await;
    assert_eq!(registered["name"], "app");
    assert_eq!(registered["providerName"], "compass");
    assert_eq!(registered["description"], "test new-value");
    assert_eq!(registered["labels"]["scenarios"], json!(["DEFAULT"]));
}

// --- label definitions and labels ---

async fn create_label_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let definition = send(&app, "create-label-definition", &[]).await;
    assert_eq!(definition["key"], "foo");
    let schema: Value = serde_json::from_str(definition["schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["title"], "foobarbaz");
    assert_eq!(schema["required"], json!(["foo"]));
}

async fn update_label_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    send(&app, "create-label-definition", &[]).await;
    let app_id = app
        .register_app("app", json!({"foo": {"foo": "foo"}}))
        .await;
    let definition = send(&app, "update-label-definition", &[]).await;
    assert_eq!(definition["key"], "foo");
    let schema: Value = serde_json::from_str(definition["schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["properties"]["bar"]["type"], "integer");
    assert!(!app_id.is_empty());
}

async fn delete_label_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    send(&app, "create-label-definition", &[]).await;
    let app_id = app
        .register_app("app", json!({"foo": {"foo": "test"}}))
        .await;
    // As in Compass's e2e test: refused while a label uses it (deleteRelatedLabels: false).
    let message = send_err(&app, "delete-label-definition", &[]).await;
    assert_eq!(
        message,
        "could not delete label definition, it is already used by at least one label"
    );
    app.gql(
        "mutation($a: ID!) { deleteApplicationLabel(applicationID: $a, key: \"foo\") { key } }",
        json!({"a": app_id}),
    )
    .await;
    let definition = send(&app, "delete-label-definition", &[]).await;
    assert_eq!(definition["key"], "foo");
    assert!(definition["schema"].is_string());
}

async fn query_label_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    // Compass's e2e test sets the label `test` (set-application-label), which makes its
    // definition, then reads it.
    send(&app, "set-application-label", &[("%APP_ID%", &app_id)]).await;
    let definition = send(&app, "query-label-definition", &[]).await;
    assert_eq!(definition, json!({"key": "test", "schema": null}));
    // The file's later form lists the definitions with an empty argument list, which Compass's
    // parser accepted.
    let data = app
        .gql(
            "query {\n\t\t\tresult:\tlabelDefinitions() {\n\t\t\t\t\tkey\n\t\t\t\t\tschema\n\t\t\t\t}\n\t\t\t}",
            json!({}),
        )
        .await;
    let keys: Vec<&str> = data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"test") && keys.contains(&"scenarios"),
        "{data}"
    );
}

async fn set_application_label(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let label = send(&app, "set-application-label", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(label, json!({"key": "test", "value": "val"}));
}

async fn delete_application_label(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app
        .register_app("app", json!({"brand_new_label": ["aaa", "bbb"]}))
        .await;
    let label = send(&app, "delete-application-label", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(
        label,
        json!({"key": "brand_new_label", "value": ["aaa", "bbb"]})
    );
    let data = app
        .gql(
            "query($a: ID!) { application(id: $a) { labels } }",
            json!({"a": app_id}),
        )
        .await;
    assert!(
        data["application"]["labels"]
            .get("brand_new_label")
            .is_none()
    );
}

// --- applications ---

async fn register_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = send(&app, "register-application", &[]).await;
    assert_eq!(registered["name"], "wordpress");
    assert_eq!(registered["providerName"], "provider name");
    assert_eq!(registered["description"], "my first wordpress application");
    assert_eq!(
        registered["labels"],
        json!({"group": ["production", "experimental"], "scenarios": ["DEFAULT"],
               "integration-system-id": ""})
    );
    assert_eq!(
        registered["healthCheckURL"],
        "http://mywordpress.com/health"
    );
    assert_eq!(registered["status"]["condition"], "INITIAL");
    assert_eq!(
        registered["eventingConfiguration"],
        json!({"defaultURL": ""})
    );
    for list in ["apiDefinitions", "eventDefinitions", "documents"] {
        assert_eq!(page_of(&registered[list]), whole_page(0), "{list}");
    }
    assert_eq!(registered["webhooks"], json!([]));
    assert_eq!(registered["auths"], json!([]));
}

/// The example's inline specs are stand-ins Sextant's spec check refuses (a documented
/// difference): the example as it is gets that validation error, naming every refused spec,
/// and stores nothing; with real documents in their place it registers.
async fn register_application_with_api_definitions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = example("register-application-with-api-definitions", &[]);
    let message = app.gql_error("VALIDATION_ERROR", &query, json!({})).await;
    assert!(
        message.starts_with(
            "validation error for type ApplicationRegisterInput: apiDefinitions: (0: (spec: (data: "
        ) && message.contains("; 2: (spec: (data: "),
        "{message}"
    );
    let apps = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(apps["applications"]["totalCount"], 0);

    let odata = "<edmx:Edmx xmlns:edmx=\\\"http://docs.oasis-open.org/odata/ns/edmx\\\" Version=\\\"4.0\\\"><edmx:DataServices/></edmx:Edmx>";
    let openapi = serde_json::to_string(OPENAPI_YAML).unwrap();
    let query = query
        .replace(r#""{\"openapi\":\"3.0.2\"}""#, &openapi)
        .replace(r#""odata""#, &format!("\"{odata}\""));
    let registered = app.gql(&query, json!({})).await["result"].clone();
    assert_eq!(registered["name"], "wordpress");
    let apis = &registered["apiDefinitions"];
    assert_eq!(page_of(apis), whole_page(3));
    assert_eq!(names(apis), ["comments-v1", "reviews-v1", "xml"]);
    let by_name = |name: &str| {
        apis["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };
    let comments = by_name("comments-v1");
    assert_eq!(
        comments["version"],
        json!({"value": "v1", "deprecated": true, "deprecatedSince": "v5", "forRemoval": true})
    );
    assert_eq!(
        comments["defaultAuth"]["additionalQueryParams"],
        json!({"qA": ["qa1", "qa2"], "qB": ["qb1", "qb2"]})
    );
    assert_eq!(
        comments["defaultAuth"]["credential"],
        json!({"username": "admin", "password": "secret"})
    );
    let reviews = by_name("reviews-v1");
    let fetch = &reviews["spec"]["fetchRequest"];
    assert_eq!(fetch["url"], "http://mywordpress.com/apis");
    assert_eq!(fetch["mode"], "PACKAGE");
    assert_eq!(fetch["filter"], "odata.json");
    // Sextant fetches SINGLE only; the fetch request records why it failed.
    assert_eq!(fetch["status"]["condition"], "FAILED");
    assert_eq!(
        reviews["defaultAuth"]["requestAuth"]["csrf"]["credential"],
        json!({"clientId": "clientid", "clientSecret": "grazynasecret", "url": "url.net"})
    );
    assert_eq!(by_name("xml")["spec"]["format"], "XML");
}

async fn register_application_with_documents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = send(&app, "register-application-with-documents", &[]).await;
    assert_eq!(registered["name"], "create-application-with-documents");
    let documents = &registered["documents"];
    assert_eq!(page_of(documents), whole_page(2));
    let by_title = |title: &str| {
        documents["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["title"] == title)
            .cloned()
            .unwrap()
    };
    let readme = by_title("Readme");
    assert_eq!(readme["fetchRequest"]["url"], "kyma-project.io");
    assert_eq!(readme["fetchRequest"]["filter"], "/docs/README.md");
    assert_eq!(
        readme["fetchRequest"]["auth"]["additionalHeaders"],
        json!({"headerA": ["ha1", "ha2"], "headerB": ["hb1", "hb2"]})
    );
    assert_eq!(
        by_title("Troubleshooting")["data"],
        "No problems, everything works on my machine"
    );
}

async fn register_application_with_event_definitions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = example("register-application-with-event-definitions", &[]);
    let message = app.gql_error("VALIDATION_ERROR", &query, json!({})).await;
    assert!(
        message.starts_with(
            "validation error for type ApplicationRegisterInput: eventDefinitions: (0: (spec: (data: data is not a valid AsyncAPI document: "
        ),
        "{message}"
    );
    let asyncapi = serde_json::to_string(ASYNCAPI_YAML).unwrap();
    let query = query.replace(r#""{\"asyncapi\":\"1.2.0\"}""#, &asyncapi);
    let registered = app.gql(&query, json!({})).await["result"].clone();
    assert_eq!(registered["name"], "create-application-with-event-apis");
    let events = &registered["eventDefinitions"];
    assert_eq!(page_of(events), whole_page(2));
    assert_eq!(names(events), ["comments-v1", "reviews-v1"]);
    for event in events["data"].as_array().unwrap() {
        if event["name"] == "comments-v1" {
            assert_eq!(event["group"], "comments");
            assert_eq!(event["version"]["deprecatedSince"], "v5");
        } else {
            let fetch = &event["spec"]["fetchRequest"];
            assert_eq!(fetch["filter"], "async.json");
            assert_eq!(fetch["auth"]["credential"]["url"], "url.net");
        }
    }
}

async fn register_application_with_webhooks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = send(&app, "register-application-with-webhooks", &[]).await;
    let webhooks = registered["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0]["applicationID"], registered["id"]);
    assert_eq!(webhooks[0]["url"], "http://mywordpress.com/webhooks1");
    assert_eq!(
        webhooks[0]["auth"]["credential"],
        json!({"username": "admin", "password": "secret"})
    );
}

async fn update_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("before", json!({"env": "prod"})).await;
    let updated = send(&app, "update-application", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(updated["id"], app_id.as_str());
    assert_eq!(
        json!([
            updated["name"],
            updated["providerName"],
            updated["description"],
            updated["healthCheckURL"]
        ]),
        json!(["after", "after", "after", "https://kyma-project.io"])
    );
    assert_eq!(updated["labels"]["env"], "prod");
}

async fn delete_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let deleted = send(&app, "delete-application", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(deleted, json!({"id": app_id}));
    let apps = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(apps["applications"]["totalCount"], 0);
}

async fn unregister_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let data = send(&app, "unregister-application", &[("%APP_ID%", &c.app)]).await;
    let deleted = &data["unregisterApplication"];
    assert_eq!(deleted["id"], c.app.as_str());
    assert_eq!(deleted["name"], "catalog");
    assert_eq!(deleted["providerName"], "compass");
    let apps = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(apps["applications"]["totalCount"], 0);
}

async fn query_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let read = send(&app, "query-application", &[("%APP_ID%", &c.app)]).await;
    assert_eq!(read["id"], c.app.as_str());
    assert_eq!(read["name"], "catalog");
    for list in ["apiDefinitions", "eventDefinitions", "documents"] {
        assert_eq!(page_of(&read[list]), whole_page(1), "{list}");
    }
    assert_eq!(read["webhooks"][0]["id"], c.webhook.as_str());
    assert_eq!(
        read["apiDefinitions"]["data"][0]["spec"]["data"],
        OPENAPI_YAML
    );
}

async fn query_applications(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalog(&app).await;
    app.register_app("second", json!({})).await;
    let page = send(&app, "query-applications", &[]).await;
    assert_eq!(page_of(&page), whole_page(2));
    assert_eq!(names(&page), ["catalog", "second"]);
}

async fn query_applications_with_label_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_app("first", json!({"foo": "val"})).await;
    app.register_app("second", json!({"foo": "val", "bar": "barval"}))
        .await;
    let page = send(&app, "query-applications-with-label-filter", &[]).await;
    assert_eq!(page_of(&page), whole_page(1));
    assert_eq!(names(&page), ["second"]);
    assert_eq!(page["data"][0]["labels"]["bar"], "barval");
}

async fn query_applications_for_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app
        .register_runtime("runtime", json!({"scenarios": ["DEFAULT"]}))
        .await;
    catalog(&app).await;
    app.register_app("second", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let page = send(
        &app,
        "query-applications-for-runtime",
        &[("%RUNTIME_ID%", &runtime)],
    )
    .await;
    assert_eq!(page_of(&page), whole_page(2));
    assert_eq!(names(&page), ["catalog", "second"]);
}

async fn query_api_runtime_auths(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let runtime = app.register_runtime("runtime", json!({})).await;
    app.gql(
        "mutation($api: ID!, $rt: ID!) { setAPIAuth(apiID: $api, runtimeID: $rt,
           in: {credential: {basic: {username: \"rt\", password: \"pw\"}}}) { runtimeID } }",
        json!({"api": c.api, "rt": runtime}),
    )
    .await;
    let read = send(
        &app,
        "query-api-runtime-auths",
        &[("%APP_ID%", &c.app), ("%RUNTIME_ID%", &runtime)],
    )
    .await;
    let api = &read["apiDefinitions"]["data"][0];
    assert_eq!(api["auth"]["runtimeID"], runtime.as_str());
    assert_eq!(
        api["auth"]["auth"]["credential"],
        json!({"username": "rt", "password": "pw"})
    );
    assert_eq!(api["auths"][0]["runtimeID"], runtime.as_str());
}

// --- API and event definitions, documents, webhooks ---

async fn query_api_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let read = send(
        &app,
        "query-api-definition",
        &[("%APP_ID%", &c.app), ("%API_ID%", &c.api)],
    )
    .await;
    let api = &read["apiDefinition"];
    assert_eq!(api["id"], c.api.as_str());
    assert_eq!(api["name"], "comments");
    assert_eq!(api["spec"]["type"], "OPEN_API");
}

async fn update_api_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let api = send(&app, "update-api-definition", &[("%API_ID%", &c.api)]).await;
    assert_eq!(api["id"], c.api.as_str());
    assert_eq!(api["name"], "new-name");
    assert_eq!(api["targetURL"], "https://target.url");
    assert_eq!(api["spec"]["format"], "JSON");
    assert_eq!(api["spec"]["fetchRequest"]["url"], "https://foo.bar");
}

async fn delete_api_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let deleted = send(&app, "delete-api-definition", &[("%API_ID%", &c.api)]).await;
    assert_eq!(deleted, json!({"id": c.api}));
}

async fn refetch_api_spec(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    // A spec fetched from a closed port on this host: the fetch fails and says so.
    let api = app
        .add_api(
            &app_id,
            json!({"name": "fetched", "targetURL": "https://api.example.com",
                   "spec": {"type": "OPEN_API", "format": "YAML",
                            "fetchRequest": {"url": "http://127.0.0.1:9/spec.yaml"}}}),
        )
        .await;
    let spec = send(&app, "refetch-api-spec", &[("%API_ID%", &api)]).await;
    assert_eq!(spec["type"], "OPEN_API");
    assert_eq!(spec["format"], "YAML");
    assert_eq!(spec["data"], Value::Null);
    assert_eq!(spec["fetchRequest"]["url"], "http://127.0.0.1:9/spec.yaml");
    assert_eq!(spec["fetchRequest"]["status"]["condition"], "FAILED");
}

async fn query_event_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let read = send(
        &app,
        "query-event-definition",
        &[("%APP_ID%", &c.app), ("%EVENT_ID%", &c.event)],
    )
    .await;
    let event = &read["eventDefinition"];
    assert_eq!(event["id"], c.event.as_str());
    assert_eq!(event["name"], "events");
    assert_eq!(event["spec"]["data"], ASYNCAPI_YAML);
}

async fn update_event_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let event = send(&app, "update-event-definition", &[("%EVENT_ID%", &c.event)]).await;
    assert_eq!(event["id"], c.event.as_str());
    assert_eq!(event["name"], "updated-event-api");
    assert_eq!(
        event["spec"]["fetchRequest"]["url"],
        "https://kyma-project.io"
    );
}

async fn delete_event_definition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let deleted = send(&app, "delete-event-definition", &[("%EVENT_ID%", &c.event)]).await;
    assert_eq!(deleted, json!({"id": c.event}));
}

async fn delete_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let deleted = send(&app, "delete-document", &[("%DOCUMENT_ID%", &c.document)]).await;
    assert_eq!(deleted, json!({"id": c.document}));
}

async fn update_application_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let webhook = send(
        &app,
        "update-application-webhook",
        &[("%WEBHOOK_ID%", &c.webhook)],
    )
    .await;
    assert_eq!(webhook["id"], c.webhook.as_str());
    assert_eq!(webhook["applicationID"], c.app.as_str());
    assert_eq!(webhook["url"], "http://updated-webhook.url");
}

async fn delete_application_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = catalog(&app).await;
    let webhook = send(
        &app,
        "delete-application-webhook",
        &[("%WEBHOOK_ID%", &c.webhook)],
    )
    .await;
    assert_eq!(webhook["id"], c.webhook.as_str());
    assert_eq!(webhook["url"], "http://hooks.example.com/x");
    let read = send(&app, "query-application", &[("%APP_ID%", &c.app)]).await;
    assert_eq!(read["webhooks"], json!([]));
}

// --- eventing ---

const EVENT_URL_KEY: &str = "runtime/event_service_url";
const EVENT_URL: &str = "https://events.rt.example.com";

async fn set_default_eventing_for_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    app.register_runtime("older", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let runtime = app
        .register_runtime(
            "runtime",
            json!({"scenarios": ["DEFAULT"], EVENT_URL_KEY: EVENT_URL}),
        )
        .await;
    let set = send(
        &app,
        "set-default-eventing-for-application",
        &[("%APP_ID%", &app_id), ("%RUNTIME_ID%", &runtime)],
    )
    .await;
    assert_eq!(set, json!({"defaultURL": EVENT_URL}));
    let read = send(&app, "query-application", &[("%APP_ID%", &app_id)]).await;
    assert_eq!(read["eventingConfiguration"]["defaultURL"], EVENT_URL);
}

async fn delete_default_eventing_for_application(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let runtime = app
        .register_runtime(
            "runtime",
            json!({"scenarios": ["DEFAULT"], EVENT_URL_KEY: EVENT_URL}),
        )
        .await;
    send(
        &app,
        "set-default-eventing-for-application",
        &[("%APP_ID%", &app_id), ("%RUNTIME_ID%", &runtime)],
    )
    .await;
    let deleted = send(
        &app,
        "delete-default-eventing-for-application",
        &[("%APP_ID%", &app_id)],
    )
    .await;
    assert_eq!(deleted, json!({"defaultURL": EVENT_URL}));
}

// --- runtimes ---

async fn register_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = send(&app, "register-runtime", &[]).await;
    assert_eq!(runtime["name"], "runtime-create-update-delete");
    assert_eq!(runtime["description"], "runtime-1-description");
    assert_eq!(runtime["labels"]["ggg"], json!(["hhh"]));
    assert_eq!(runtime["status"]["condition"], "INITIAL");
    assert!(runtime["metadata"]["creationTimestamp"].is_string());
    assert_eq!(runtime["auths"], json!([]));
    assert_eq!(runtime["eventingConfiguration"], json!({"defaultURL": ""}));
}

async fn update_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_runtime("runtime", json!({"old": "x"})).await;
    let runtime = send(&app, "update-runtime", &[("%RUNTIME_ID%", &id)]).await;
    assert_eq!(runtime["id"], id.as_str());
    assert_eq!(runtime["name"], "updated-name");
    assert_eq!(runtime["description"], "updated-description");
    assert_eq!(runtime["labels"]["key"], json!(["values", "aabbcc"]));
    assert!(runtime["labels"].get("old").is_none(), "{runtime}");
}

async fn unregister_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_runtime("runtime", json!({})).await;
    let data = send(&app, "unregister-runtime", &[("%RUNTIME_ID%", &id)]).await;
    assert_eq!(data["unregisterRuntime"]["id"], id.as_str());
    assert_eq!(data["unregisterRuntime"]["name"], "runtime");
    let page = send(&app, "query-runtimes", &[]).await;
    assert_eq!(page_of(&page), whole_page(0));
}

async fn query_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .register_runtime("runtime", json!({EVENT_URL_KEY: EVENT_URL}))
        .await;
    let runtime = send(&app, "query-runtime", &[("%RUNTIME_ID%", &id)]).await;
    assert_eq!(runtime["id"], id.as_str());
    assert_eq!(runtime["eventingConfiguration"]["defaultURL"], EVENT_URL);
}

async fn query_runtimes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_runtime("one", json!({})).await;
    app.register_runtime("two", json!({})).await;
    let page = send(&app, "query-runtimes", &[]).await;
    assert_eq!(page_of(&page), whole_page(2));
    assert_eq!(names(&page), ["one", "two"]);
}

async fn query_runtimes_with_label_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_runtime("first", json!({"foo": "val"})).await;
    app.register_runtime("second", json!({"foo": "val", "bar": "barval"}))
        .await;
    let page = send(&app, "query-runtimes-with-label-filter", &[]).await;
    assert_eq!(page_of(&page), whole_page(1));
    assert_eq!(names(&page), ["second"]);
}

async fn query_runtimes_with_pagination(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.register_runtime(&format!("runtime-{i}"), json!({}))
            .await;
    }
    // The first page (Compass's e2e test pages by three), then the example with its cursor.
    let first = send(&app, "query-runtimes-with-pagination", &[("%CURSOR%", "")]).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let second = send(
        &app,
        "query-runtimes-with-pagination",
        &[("%CURSOR%", &cursor)],
    )
    .await;
    assert_eq!(
        page_of(&second),
        json!({"startCursor": cursor, "endCursor": "", "hasNextPage": false, "total": 5})
    );
    let mut all = names(&first);
    all.extend(names(&second));
    all.sort();
    assert_eq!(
        all,
        [
            "runtime-0",
            "runtime-1",
            "runtime-2",
            "runtime-3",
            "runtime-4"
        ]
    );
}

// --- integration systems ---

async fn system(app: &TestApp) -> String {
    id(&send(app, "register-integration-system", &[]).await)
}

async fn register_integration_system(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = send(&app, "register-integration-system", &[]).await;
    assert_eq!(system["name"], "int-system");
    assert_eq!(system["description"], Value::Null);
    assert_eq!(system["auths"], json!([]));
}

async fn query_integration_system(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = system(&app).await;
    let system = send(&app, "query-integration-system", &[("%SYSTEM_ID%", &id)]).await;
    assert_eq!(
        system,
        json!({"id": id, "name": "int-system", "description": null, "auths": []})
    );
}

async fn query_integration_systems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    system(&app).await;
    let page = send(&app, "query-integration-systems", &[]).await;
    assert_eq!(page_of(&page), whole_page(1));
    assert_eq!(names(&page), ["int-system"]);
}

async fn update_integration_system(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = system(&app).await;
    let system = send(&app, "update-integration-system", &[("%SYSTEM_ID%", &id)]).await;
    assert_eq!(
        system,
        json!({"id": id, "name": "new-int-system", "description": "new description", "auths": []})
    );
}

async fn unregister_integration_system(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = system(&app).await;
    let system = send(
        &app,
        "unregister-integration-system",
        &[("%SYSTEM_ID%", &id)],
    )
    .await;
    assert_eq!(system["id"], id.as_str());
    let page = send(&app, "query-integration-systems", &[]).await;
    assert_eq!(page_of(&page), whole_page(0));
    // Gone: the query answers null.
    let gone = send(&app, "query-integration-system", &[("%SYSTEM_ID%", &id)]).await;
    assert_eq!(gone, Value::Null);
}

crate::on_both_backends!(
    add_api_definition,
    add_document,
    add_event_definition,
    add_application_webhook,
    create_application_template,
    query_application_template,
    query_application_templates,
    update_application_template,
    delete_application_template,
    register_application_from_template,
    create_label_definition,
    update_label_definition,
    delete_label_definition,
    query_label_definition,
    set_application_label,
    delete_application_label,
    register_application,
    register_application_with_api_definitions,
    register_application_with_documents,
    register_application_with_event_definitions,
    register_application_with_webhooks,
    update_application,
    delete_application,
    unregister_application,
    query_application,
    query_applications,
    query_applications_with_label_filter,
    query_applications_for_runtime,
    query_api_runtime_auths,
    query_api_definition,
    update_api_definition,
    delete_api_definition,
    refetch_api_spec,
    query_event_definition,
    update_event_definition,
    delete_event_definition,
    delete_document,
    update_application_webhook,
    delete_application_webhook,
    set_default_eventing_for_application,
    delete_default_eventing_for_application,
    register_runtime,
    update_runtime,
    unregister_runtime,
    query_runtime,
    query_runtimes,
    query_runtimes_with_label_filter,
    query_runtimes_with_pagination,
    register_integration_system,
    query_integration_system,
    query_integration_systems,
    update_integration_system,
    unregister_integration_system,
);
