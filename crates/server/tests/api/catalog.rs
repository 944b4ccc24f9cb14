//! The catalog: an application's API and event definitions, documents and webhooks.
//! Registration with children, add/update/delete, group filters and pages, validation (and
//! that a refused mutation stores nothing), hostile specs, tenants, scopes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{
    ASYNCAPI_YAML, AUTH_FRAGMENTS, Backend, OPENAPI_YAML, TestApp, api_input, assert_error_code,
    basic_auth, event_input, expected_auth,
};
use crate::on_both_backends;

const API_FIELDS: &str = "id applicationID name description targetURL group \
    spec { data format type fetchRequest { url } } \
    version { value deprecated deprecatedSince forRemoval } \
    defaultAuth { ...AuthFields }";
const EVENT_FIELDS: &str = "id applicationID name description group \
    spec { data format type fetchRequest { url } } \
    version { value deprecated deprecatedSince forRemoval }";
const DOCUMENT_FIELDS: &str =
    "id applicationID title displayName description format kind data fetchRequest { url }";
const WEBHOOK_FIELDS: &str = "id applicationID type url auth { ...AuthFields }";

/// Everything of an application's catalog (first 10 of each list).
fn catalog_selection() -> String {
    format!(
        "apiDefinitions(first: 10) {{ totalCount data {{ {API_FIELDS} }} }} \
         eventDefinitions(first: 10) {{ totalCount data {{ {EVENT_FIELDS} }} }} \
         documents(first: 10) {{ totalCount data {{ {DOCUMENT_FIELDS} }} }} \
         webhooks {{ {WEBHOOK_FIELDS} }}"
    )
}

/// The catalog of one application as the administrator (null if it does not exist).
async fn read_catalog(app: &TestApp, id: &str) -> Value {
    let query = format!(
        "query($id: ID!) {{ application(id: $id) {{ {} }} }} {AUTH_FRAGMENTS}",
        catalog_selection()
    );
    app.gql(&query, json!({"id": id})).await["application"].clone()
}

/// Asserts that an application has no API or event definitions, documents or webhooks.
async fn assert_empty_catalog(app: &TestApp, id: &str) {
    let catalog = read_catalog(app, id).await;
    assert_eq!(
        catalog,
        json!({
            "apiDefinitions": {"totalCount": 0, "data": []},
            "eventDefinitions": {"totalCount": 0, "data": []},
            "documents": {"totalCount": 0, "data": []},
            "webhooks": [],
        }),
        "nothing may be stored"
    );
}

fn version_out(input: &Value) -> Value {
    if input.is_null() {
        return Value::Null;
    }
    json!({
        "value": input["value"],
        "deprecated": input.get("deprecated").cloned().unwrap_or(json!(false)),
        "deprecatedSince": input["deprecatedSince"],
        "forRemoval": input.get("forRemoval").cloned().unwrap_or(json!(false)),
    })
}

fn spec_out(input: &Value) -> Value {
    if input.is_null() {
        return Value::Null;
    }
    json!({
        "data": input["data"],
        "format": input["format"],
        "type": input["type"],
        "fetchRequest": null,
    })
}

/// What `API_FIELDS` answers for an `APIDefinitionInput` with inline data (without `id`).
fn api_out(app_id: &str, input: &Value) -> Value {
    json!({
        "applicationID": app_id,
        "name": input["name"],
        "description": input["description"],
        "targetURL": input["targetURL"],
        "group": input["group"],
        "spec": spec_out(&input["spec"]),
        "version": version_out(&input["version"]),
        "defaultAuth": expected_auth(&input["defaultAuth"]),
    })
}

fn event_out(app_id: &str, input: &Value) -> Value {
    json!({
        "applicationID": app_id,
        "name": input["name"],
        "description": input["description"],
        "group": input["group"],
        "spec": spec_out(&input["spec"]),
        "version": version_out(&input["version"]),
    })
}

fn document_out(app_id: &str, input: &Value) -> Value {
    json!({
        "applicationID": app_id,
        "title": input["title"],
        "displayName": input["displayName"],
        "description": input["description"],
        "format": input["format"],
        "kind": input["kind"],
        "data": input["data"],
        "fetchRequest": null,
    })
}

fn webhook_out(app_id: &str, input: &Value) -> Value {
    json!({
        "applicationID": app_id,
        "type": input["type"],
        "url": input["url"],
        "auth": expected_auth(&input["auth"]),
    })
}

/// Splits an object into its id (checked to be a UUID) and the rest.
fn split_id(object: &Value) -> (String, Value) {
    let mut rest = object.clone();
    let id = rest
        .as_object_mut()
        .unwrap_or_else(|| panic!("expected an object, got {object}"))
        .remove("id")
        .unwrap();
    let id = id.as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("ids are UUIDs");
    (id, rest)
}

/// The element of a list whose `key` equals `value`.
fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

fn full_api_input() -> Value {
    json!({
        "name": "pets",
        "description": "the pets API",
        "targetURL": "https://pets.example.com/api",
        "group": "animals",
        "spec": {"data": OPENAPI_YAML, "type": "OPEN_API", "format": "YAML"},
        "version": {"value": "v1", "deprecated": true, "deprecatedSince": "v0", "forRemoval": false},
        "defaultAuth": {
            "credential": {"basic": {"username": "admin", "password": "secret"}},
            "additionalHeaders": {"X-Tenant": ["a", "b"], "X-Other": ["c"]},
            "additionalQueryParams": {"client": ["sextant"]},
            "requestAuth": {"csrf": {
                "tokenEndpointURL": "https://pets.example.com/csrf",
                "credential": {"oauth": {"clientId": "csrf-id", "clientSecret": "csrf-secret",
                                         "url": "https://auth.example.com/token"}},
                "additionalHeaders": {"X-Csrf": ["fetch"]},
                "additionalQueryParams": {"csrf": ["1", "2"]},
            }},
        },
    })
}

fn oauth_webhook_input() -> Value {
    json!({
        "type": "CONFIGURATION_CHANGED",
        "url": "https://hooks.example.com/config",
        "auth": {"credential": {"oauth": {"clientId": "hook-client", "clientSecret": "hook-secret",
                                          "url": "https://auth.example.com/oauth2/token"}}},
    })
}

async fn register_with_children_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let minimal_api = json!({"name": "minimal", "targetURL": "http://minimal.example.com"});
    let event = json!({
        "name": "orders",
        "description": "order events",
        "group": "shop",
        "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"},
        "version": {"value": "v2"},
    });
    let document = json!({
        "title": "Readme",
        "displayName": "The readme",
        "description": "How to use the pets API",
        "format": "MARKDOWN",
        "kind": "guide",
        "data": "# Pets\n\nFeed them.\n",
    });
    let webhook = oauth_webhook_input();
    let input = json!({
        "name": "pets-app",
        "providerName": "acme",
        "apiDefinitions": [full_api_input(), minimal_api],
        "eventDefinitions": [event],
        "documents": [document],
        "webhooks": [webhook],
    });
    let query = format!(
        "mutation($in: ApplicationRegisterInput!) {{ registerApplication(in: $in) {{ id {} }} }} {AUTH_FRAGMENTS}",
        catalog_selection()
    );
    let registered = app.gql(&query, json!({"in": input})).await["registerApplication"].clone();
    let (app_id, registered) = split_id(&registered);

    // Read back: the same as the registration answered, and equal to the input.
    let catalog = read_catalog(&app, &app_id).await;
    assert_eq!(catalog, registered);

    assert_eq!(catalog["apiDefinitions"]["totalCount"], 2);
    let apis = &catalog["apiDefinitions"]["data"];
    let (pets_id, pets) = split_id(find(apis, "name", "pets"));
    assert_eq!(pets, api_out(&app_id, &full_api_input()));
    let (minimal_id, minimal) = split_id(find(apis, "name", "minimal"));
    assert_eq!(
        minimal,
        json!({
            "applicationID": app_id, "name": "minimal", "description": null,
            "targetURL": "http://minimal.example.com", "group": null, "spec": null,
            "version": null, "defaultAuth": null,
        })
    );
    assert_ne!(pets_id, minimal_id);

    assert_eq!(catalog["eventDefinitions"]["totalCount"], 1);
    let (event_id, event_read) = split_id(&catalog["eventDefinitions"]["data"][0]);
    assert_eq!(event_read, event_out(&app_id, &event));
    assert_eq!(
        event_read["version"],
        json!({"value": "v2", "deprecated": false, "deprecatedSince": null, "forRemoval": false})
    );

    assert_eq!(catalog["documents"]["totalCount"], 1);
    let (_, document_read) = split_id(&catalog["documents"]["data"][0]);
    assert_eq!(document_read, document_out(&app_id, &document));

    let webhooks = catalog["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), 1);
    let (_, webhook_read) = split_id(&webhooks[0]);
    assert_eq!(webhook_read, webhook_out(&app_id, &webhook));
    assert_eq!(
        webhook_read["auth"]["credential"],
        json!({"clientId": "hook-client", "clientSecret": "hook-secret",
               "url": "https://auth.example.com/oauth2/token"})
    );

    // One API and one event definition by id.
    let query = format!(
        "query($id: ID!, $api: ID!, $event: ID!) {{ application(id: $id) {{ \
            apiDefinition(id: $api) {{ {API_FIELDS} }} eventDefinition(id: $event) {{ {EVENT_FIELDS} }} }} }} \
         {AUTH_FRAGMENTS}"
    );
    let one = app
        .gql(
            &query,
            json!({"id": app_id, "api": pets_id, "event": event_id}),
        )
        .await["application"]
        .clone();
    assert_eq!(&one["apiDefinition"], find(apis, "name", "pets"));
    assert_eq!(
        &one["eventDefinition"],
        &catalog["eventDefinitions"]["data"][0]
    );

    // An unknown id, a malformed id and another application's API all answer null.
    let other_app = app.register_app("other-app", json!({})).await;
    for (owner, api) in [
        (app_id.as_str(), uuid::Uuid::new_v4().to_string()),
        (app_id.as_str(), "not-a-uuid".to_owned()),
        (other_app.as_str(), pets_id.clone()),
    ] {
        let data = app
            .gql(
                "query($id: ID!, $api: ID!) { application(id: $id) { apiDefinition(id: $api) { id } eventDefinition(id: $api) { id } } }",
                json!({"id": owner, "api": api}),
            )
            .await;
        assert_eq!(
            data["application"],
            json!({"apiDefinition": null, "eventDefinition": null}),
            "{owner} {api}"
        );
    }
}

async fn webhooks_add_update_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let input = json!({
        "type": "CONFIGURATION_CHANGED",
        "url": "https://hooks.example.com/a",
        "auth": basic_auth("hook", "pw"),
    });
    let add = format!(
        "mutation($app: ID!, $in: WebhookInput!) {{ addWebhook(applicationID: $app, in: $in) {{ {WEBHOOK_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let added = app.gql(&add, json!({"app": app_id, "in": input})).await["addWebhook"].clone();
    let (webhook_id, rest) = split_id(&added);
    assert_eq!(rest, webhook_out(&app_id, &input));
    assert_eq!(
        read_catalog(&app, &app_id).await["webhooks"],
        json!([added])
    );

    let update = format!(
        "mutation($id: ID!, $in: WebhookInput!) {{ updateWebhook(webhookID: $id, in: $in) {{ {WEBHOOK_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let new_input = oauth_webhook_input();
    let updated = app
        .gql(&update, json!({"id": webhook_id, "in": new_input}))
        .await["updateWebhook"]
        .clone();
    assert_eq!(updated["id"], webhook_id.as_str());
    assert_eq!(split_id(&updated).1, webhook_out(&app_id, &new_input));
    assert_eq!(
        read_catalog(&app, &app_id).await["webhooks"],
        json!([updated])
    );

    let delete = format!(
        "mutation($id: ID!) {{ deleteWebhook(webhookID: $id) {{ {WEBHOOK_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let deleted = app.gql(&delete, json!({"id": webhook_id})).await["deleteWebhook"].clone();
    assert_eq!(deleted, updated);
    assert_eq!(read_catalog(&app, &app_id).await["webhooks"], json!([]));

    // Missing application, missing webhook.
    let missing_app = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.gql_error("NOT_FOUND", &add, json!({"app": missing_app, "in": input}))
            .await,
        "Cannot add Webhook to not existing Application"
    );
    let message = app
        .gql_error("NOT_FOUND", &update, json!({"id": webhook_id, "in": input}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error("NOT_FOUND", &delete, json!({"id": webhook_id}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_empty_catalog(&app, &app_id).await;
}

async fn api_definitions_add_update_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add = format!(
        "mutation($app: ID!, $in: APIDefinitionInput!) {{ addAPIDefinition(applicationID: $app, in: $in) {{ {API_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let input = full_api_input();
    let added =
        app.gql(&add, json!({"app": app_id, "in": input})).await["addAPIDefinition"].clone();
    let (api_id, rest) = split_id(&added);
    assert_eq!(rest, api_out(&app_id, &input));
    let catalog = read_catalog(&app, &app_id).await;
    assert_eq!(
        catalog["apiDefinitions"],
        json!({"totalCount": 1, "data": [added]})
    );

    // Update replaces every field: a JSON spec, no group, version or default credentials.
    let json_spec = json!({
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "2.0.0"},
        "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}},
    })
    .to_string();
    let new_input = json!({
        "name": "pets-v2",
        "description": "second version",
        "targetURL": "https://pets.example.com/v2",
        "spec": {"data": json_spec, "type": "OPEN_API", "format": "JSON"},
    });
    let update = format!(
        "mutation($id: ID!, $in: APIDefinitionInput!) {{ updateAPIDefinition(id: $id, in: $in) {{ {API_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let updated = app
        .gql(&update, json!({"id": api_id, "in": new_input}))
        .await["updateAPIDefinition"]
        .clone();
    assert_eq!(updated["id"], api_id.as_str());
    assert_eq!(split_id(&updated).1, api_out(&app_id, &new_input));
    assert_eq!(
        read_catalog(&app, &app_id).await["apiDefinitions"],
        json!({"totalCount": 1, "data": [updated]})
    );

    // An invalid update changes nothing.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            &update,
            json!({"id": api_id, "in": api_with(|a| a["targetURL"] = json!("nope"))}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type APIDefinitionInput: targetURL: must be a valid URL."
    );
    assert_eq!(
        read_catalog(&app, &app_id).await["apiDefinitions"]["data"],
        json!([updated])
    );

    let delete = format!(
        "mutation($id: ID!) {{ deleteAPIDefinition(id: $id) {{ {API_FIELDS} }} }} {AUTH_FRAGMENTS}"
    );
    let deleted = app.gql(&delete, json!({"id": api_id})).await["deleteAPIDefinition"].clone();
    assert_eq!(deleted, updated);
    assert_empty_catalog(&app, &app_id).await;

    let missing_app = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.gql_error("NOT_FOUND", &add, json!({"app": missing_app, "in": input}))
            .await,
        "Cannot add API to not existing Application"
    );
    let message = app
        .gql_error("NOT_FOUND", &update, json!({"id": api_id, "in": input}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error("NOT_FOUND", &delete, json!({"id": api_id}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_empty_catalog(&app, &app_id).await;
}

async fn event_definitions_add_update_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add = format!(
        "mutation($app: ID!, $in: EventDefinitionInput!) {{ addEventDefinition(applicationID: $app, in: $in) {{ {EVENT_FIELDS} }} }}"
    );
    let input = json!({
        "name": "orders",
        "description": "order events",
        "group": "shop",
        "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"},
        "version": {"value": "v1", "forRemoval": true},
    });
    let added =
        app.gql(&add, json!({"app": app_id, "in": input})).await["addEventDefinition"].clone();
    let (event_id, rest) = split_id(&added);
    assert_eq!(rest, event_out(&app_id, &input));
    assert_eq!(
        read_catalog(&app, &app_id).await["eventDefinitions"],
        json!({"totalCount": 1, "data": [added]})
    );

    let json_spec = json!({
        "asyncapi": "2.6.0",
        "info": {"title": "Orders", "version": "2"},
        "channels": {"order/created": {}},
    })
    .to_string();
    let new_input = json!({
        "name": "orders-v2",
        "spec": {"data": json_spec, "type": "ASYNC_API", "format": "JSON"},
    });
    let update = format!(
        "mutation($id: ID!, $in: EventDefinitionInput!) {{ updateEventDefinition(id: $id, in: $in) {{ {EVENT_FIELDS} }} }}"
    );
    let updated = app
        .gql(&update, json!({"id": event_id, "in": new_input}))
        .await["updateEventDefinition"]
        .clone();
    assert_eq!(updated["id"], event_id.as_str());
    assert_eq!(split_id(&updated).1, event_out(&app_id, &new_input));
    assert_eq!(
        read_catalog(&app, &app_id).await["eventDefinitions"],
        json!({"totalCount": 1, "data": [updated]})
    );

    let delete =
        format!("mutation($id: ID!) {{ deleteEventDefinition(id: $id) {{ {EVENT_FIELDS} }} }}");
    let deleted = app.gql(&delete, json!({"id": event_id})).await["deleteEventDefinition"].clone();
    assert_eq!(deleted, updated);
    assert_empty_catalog(&app, &app_id).await;

    let missing_app = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.gql_error("NOT_FOUND", &add, json!({"app": missing_app, "in": input}))
            .await,
        "Cannot add Event Definition to not existing Application"
    );
    let message = app
        .gql_error("NOT_FOUND", &update, json!({"id": event_id, "in": input}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    let message = app
        .gql_error("NOT_FOUND", &delete, json!({"id": event_id}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    assert_empty_catalog(&app, &app_id).await;
}

async fn documents_add_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add = format!(
        "mutation($app: ID!, $in: DocumentInput!) {{ addDocument(applicationID: $app, in: $in) {{ {DOCUMENT_FIELDS} }} }}"
    );
    let with_data = json!({
        "title": "Readme", "displayName": "Read me", "description": "Start here",
        "format": "MARKDOWN", "kind": "guide", "data": "# Start\n",
    });
    let without_data = json!({
        "title": "Empty", "displayName": "Empty", "description": "Nothing yet",
        "format": "MARKDOWN",
    });
    let first = app.gql(&add, json!({"app": app_id, "in": with_data})).await["addDocument"].clone();
    let (first_id, rest) = split_id(&first);
    assert_eq!(rest, document_out(&app_id, &with_data));
    let second = app
        .gql(&add, json!({"app": app_id, "in": without_data}))
        .await["addDocument"]
        .clone();
    let (second_id, rest) = split_id(&second);
    assert_eq!(rest, document_out(&app_id, &without_data));
    assert_eq!(rest["data"], Value::Null);
    assert_eq!(rest["kind"], Value::Null);

    let documents = read_catalog(&app, &app_id).await["documents"].clone();
    assert_eq!(documents["totalCount"], 2);
    assert_eq!(find(&documents["data"], "title", "Readme"), &first);
    assert_eq!(find(&documents["data"], "title", "Empty"), &second);

    let delete =
        format!("mutation($id: ID!) {{ deleteDocument(id: $id) {{ {DOCUMENT_FIELDS} }} }}");
    let deleted = app.gql(&delete, json!({"id": first_id})).await["deleteDocument"].clone();
    assert_eq!(deleted, first);
    assert_eq!(
        read_catalog(&app, &app_id).await["documents"],
        json!({"totalCount": 1, "data": [second]})
    );
    let message = app
        .gql_error("NOT_FOUND", &delete, json!({"id": first_id}))
        .await;
    assert!(message.contains("does not exist"), "{message}");
    app.gql(&delete, json!({"id": second_id})).await;

    let missing_app = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.gql_error(
            "NOT_FOUND",
            &add,
            json!({"app": missing_app, "in": with_data})
        )
        .await,
        "Cannot add Document to not existing Application"
    );
    assert_empty_catalog(&app, &app_id).await;
}

async fn group_filter_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let mut all = BTreeSet::new();
    let mut in_x = BTreeSet::new();
    for (i, group) in ["x", "y", "x", "", "x", "y", "z"].iter().enumerate() {
        let mut input = api_input(&format!("api-{i}"));
        if !group.is_empty() {
            input["group"] = json!(group);
        }
        let id = app.add_api(&app_id, input).await;
        if *group == "x" {
            in_x.insert(id.clone());
        }
        all.insert(id);
        let mut event = event_input(&format!("event-{i}"));
        if !group.is_empty() {
            event["group"] = json!(group);
        }
        app.add_event(&app_id, event).await;
    }

    let page = app
        .gql(
            r#"query($id: ID!) { application(id: $id) {
                apiDefinitions(group: "x") { totalCount data { id group } }
                eventDefinitions(group: "y") { totalCount data { name group } }
                none: apiDefinitions(group: "nope") { totalCount data { id } } } }"#,
            json!({"id": app_id}),
        )
        .await["application"]
        .clone();
    assert_eq!(page["apiDefinitions"]["totalCount"], 3);
    let ids: BTreeSet<String> = page["apiDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["group"], "x");
            a["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids, in_x);
    assert_eq!(page["eventDefinitions"]["totalCount"], 2);
    let names: BTreeSet<&str> = page["eventDefinitions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["event-1", "event-5"]));
    assert_eq!(page["none"], json!({"totalCount": 0, "data": []}));

    // Walk every page of two.
    let query = "query($id: ID!, $after: PageCursor) { application(id: $id) {
        apiDefinitions(first: 2, after: $after) { totalCount data { id }
            pageInfo { startCursor endCursor hasNextPage } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut sizes = Vec::new();
    loop {
        let page = app
            .gql(query, json!({"id": app_id, "after": after}))
            .await["application"]["apiDefinitions"]
            .clone();
        assert_eq!(page["totalCount"], 7);
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "endCursor on a page with a next page");
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, vec![2, 2, 2, 1]);
    assert_eq!(seen.len(), 7, "no API is listed twice: {seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);

    // Pages of one group count only that group.
    let query = r#"query($id: ID!, $after: PageCursor) { application(id: $id) {
        apiDefinitions(group: "x", first: 2, after: $after) { totalCount data { id }
            pageInfo { endCursor hasNextPage } } } }"#;
    let first =
        app.gql(query, json!({"id": app_id, "after": null})).await["application"]["apiDefinitions"]
            .clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = app
        .gql(
            query,
            json!({"id": app_id, "after": first["pageInfo"]["endCursor"]}),
        )
        .await["application"]["apiDefinitions"]
        .clone();
    assert_eq!(second["totalCount"], 3);
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    let ids: BTreeSet<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, in_x);

    // Event definitions and documents page the same way.
    let query = "query($id: ID!, $after: PageCursor) { application(id: $id) {
        eventDefinitions(first: 3, after: $after) { totalCount data { name }
            pageInfo { endCursor hasNextPage } } } }";
    let mut names = BTreeSet::new();
    let mut after = Value::Null;
    for expected_size in [3, 3, 1] {
        let page = app
            .gql(query, json!({"id": app_id, "after": after}))
            .await["application"]["eventDefinitions"]
            .clone();
        assert_eq!(page["totalCount"], 7);
        let data = page["data"].as_array().unwrap();
        assert_eq!(data.len(), expected_size);
        names.extend(data.iter().map(|e| e["name"].as_str().unwrap().to_owned()));
        assert_eq!(page["pageInfo"]["hasNextPage"], expected_size == 3);
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(names.len(), 7);
}

async fn every_allowed_spec_type_and_format_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let openapi_json = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                              "components": {}})
    .to_string();
    let swagger = "swagger: \"2.0\"\ninfo:\n  title: t\n  version: \"1\"\npaths: {}\n";
    let edmx = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="N"/></edmx:DataServices>
</edmx:Edmx>"#;
    let csdl = json!({"$Version": "4.01", "N": {"$Kind": "Schema"}}).to_string();
    let cases = [
        ("openapi-yaml", "OPEN_API", "YAML", OPENAPI_YAML.to_owned()),
        ("openapi-json", "OPEN_API", "JSON", openapi_json),
        ("swagger", "OPEN_API", "YAML", swagger.to_owned()),
        ("odata-xml", "ODATA", "XML", edmx.to_owned()),
        ("odata-json", "ODATA", "JSON", csdl),
    ];
    for (name, kind, format, data) in &cases {
        let input = api_with(|a| {
            a["name"] = json!(name);
            a["spec"] = json!({"data": data, "type": kind, "format": format});
        });
        app.add_api(&app_id, input).await;
    }
    let apis = read_catalog(&app, &app_id).await["apiDefinitions"].clone();
    assert_eq!(apis["totalCount"], cases.len());
    for (name, kind, format, data) in &cases {
        let spec = &find(&apis["data"], "name", name)["spec"];
        assert_eq!(
            spec,
            &json!({"data": data, "type": kind, "format": format, "fetchRequest": null}),
            "{name}"
        );
    }
}

async fn templates_carry_the_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let template = json!({
        "name": "pets-template",
        "accessLevel": "GLOBAL",
        "placeholders": [{"name": "api-url"}],
        "applicationInput": {
            "name": "from-template",
            "providerName": "acme",
            "apiDefinitions": [{"name": "pets", "targetURL": "{{api-url}}",
                                "spec": {"data": OPENAPI_YAML, "type": "OPEN_API", "format": "YAML"},
                                "defaultAuth": basic_auth("t-user", "t-pass")}],
            "eventDefinitions": [event_input("orders")],
            "webhooks": [oauth_webhook_input()],
        },
    });
    app.gql(
        "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
        json!({"in": template}),
    )
    .await;
    let from_template = "mutation($url: String!) { registerApplicationFromTemplate(in: {templateName: \"pets-template\", values: [{placeholder: \"api-url\", value: $url}]}) { id } }";

    // A value that makes the API invalid is refused, and nothing is registered.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            from_template,
            json!({"url": "not a url"}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type ApplicationRegisterInput: apiDefinitions: (0: (targetURL: must be a valid URL.).)."
    );
    let apps = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(apps["applications"]["totalCount"], 0);

    let data = app
        .gql(from_template, json!({"url": "https://pets.example.com"}))
        .await;
    let app_id = data["registerApplicationFromTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let catalog = read_catalog(&app, &app_id).await;
    let (_, api) = split_id(&catalog["apiDefinitions"]["data"][0]);
    let mut expected_input = template["applicationInput"]["apiDefinitions"][0].clone();
    expected_input["targetURL"] = json!("https://pets.example.com");
    assert_eq!(api, api_out(&app_id, &expected_input));
    let (_, event) = split_id(&catalog["eventDefinitions"]["data"][0]);
    assert_eq!(event, event_out(&app_id, &event_input("orders")));
    let (_, webhook) = split_id(&catalog["webhooks"][0]);
    assert_eq!(webhook, webhook_out(&app_id, &oauth_webhook_input()));
}

/// What a refused mutation must answer.
enum Expect {
    Exact(&'static str),
    /// Starts with the first and contains the second.
    Prefix(&'static str, &'static str),
}

impl Expect {
    fn check(&self, message: &str, case: &str) {
        match self {
            Expect::Exact(expected) => assert_eq!(message, *expected, "{case}"),
            Expect::Prefix(prefix, part) => assert!(
                message.starts_with(prefix) && message.contains(part),
                "{case}: {message:?} should start with {prefix:?} and contain {part:?}"
            ),
        }
    }
}

fn api_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut input = api_input("api");
    change(&mut input);
    input
}

fn api_cases() -> Vec<(&'static str, Value, Expect)> {
    let fetch = json!({"url": "https://specs.example.com/pets.yaml"});
    vec![
        (
            "invalid targetURL",
            api_with(|a| a["targetURL"] = json!("not a url")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: targetURL: must be a valid URL.",
            ),
        ),
        (
            "both data and fetchRequest",
            api_with(|a| a["spec"]["fetchRequest"] = fetch.clone()),
            Expect::Exact(
                "validation error for type APIDefinitionInput: spec: (Rule.DataOrFetchRequest: Only one of Data or Fetch Request must be passed.).",
            ),
        ),
        (
            "neither data nor fetchRequest",
            api_with(|a| a["spec"] = json!({"type": "OPEN_API", "format": "YAML"})),
            Expect::Exact(
                "validation error for type APIDefinitionInput: spec: (Rule.DataOrFetchRequest: Only one of Data or Fetch Request must be passed.).",
            ),
        ),
        (
            "OPEN_API in XML",
            api_with(|a| a["spec"]["format"] = json!("XML")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: spec: (Rule.MatchingTypeAndFormat: XML is not a valid spec format for spec type OPEN_API.).",
            ),
        ),
        (
            "ODATA in YAML",
            api_with(|a| a["spec"]["type"] = json!("ODATA")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: spec: (Rule.MatchingTypeAndFormat: YAML is not a valid spec format for spec type ODATA.).",
            ),
        ),
        (
            "not YAML",
            api_with(|a| a["spec"]["data"] = json!("openapi: [3.0.0\ninfo: {")),
            Expect::Prefix(
                "validation error for type APIDefinitionInput: spec: (data: data is not valid YAML: ",
                "",
            ),
        ),
        (
            "YAML that is not OpenAPI",
            api_with(|a| a["spec"]["data"] = json!("openapi: 3.0.0\npaths: {}\n")),
            Expect::Prefix(
                "validation error for type APIDefinitionInput: spec: (data: data is not a valid OpenAPI document: ",
                "info",
            ),
        ),
        (
            "both basic and oauth",
            api_with(|a| {
                a["defaultAuth"] = json!({"credential": {
                    "basic": {"username": "u", "password": "p"},
                    "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://auth.example.com"}}})
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (credential: (rule.ExactlyOneNotNil: exactly one credential input has to be specified.).).",
            ),
        ),
        (
            "neither basic nor oauth",
            api_with(|a| a["defaultAuth"] = json!({"credential": {}})),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (credential: (rule.ExactlyOneNotNil: exactly one credential input has to be specified.).).",
            ),
        ),
        (
            "oauth url",
            api_with(|a| {
                a["defaultAuth"] = json!({"credential": {
                    "oauth": {"clientId": "c", "clientSecret": "s", "url": "token-endpoint"}}})
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (credential: (Oauth: (url: must be a valid URL.).).).",
            ),
        ),
        (
            "API name rule",
            api_with(|a| a["name"] = json!("Pets API")),
            Expect::Prefix("validation error for type APIDefinitionInput: name: ", ""),
        ),
        (
            "long description",
            api_with(|a| a["description"] = json!("d".repeat(129))),
            Expect::Exact(
                "validation error for type APIDefinitionInput: description: the length must be no more than 128.",
            ),
        ),
        (
            "long group",
            api_with(|a| a["group"] = json!("g".repeat(37))),
            Expect::Exact(
                "validation error for type APIDefinitionInput: group: the length must be no more than 36.",
            ),
        ),
        (
            "blank version",
            api_with(|a| a["version"] = json!({"value": ""})),
            Expect::Exact(
                "validation error for type APIDefinitionInput: version: (value: cannot be blank.).",
            ),
        ),
        (
            "JSON declared, YAML sent",
            api_with(|a| a["spec"]["format"] = json!("JSON")),
            Expect::Prefix(
                "validation error for type APIDefinitionInput: spec: (data: data is not valid JSON: ",
                "",
            ),
        ),
        (
            "blank spec data",
            api_with(|a| a["spec"]["data"] = json!("  \n")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: spec: (data: spec is empty.).",
            ),
        ),
        (
            "csrf token endpoint",
            api_with(|a| {
                a["defaultAuth"] = basic_auth("u", "p");
                a["defaultAuth"]["requestAuth"] = json!({"csrf": {
                    "tokenEndpointURL": "/csrf", "credential": {"basic": {"username": "u", "password": "p"}}}});
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (requestAuth: (csrf: (tokenEndpointURL: must be a valid URL.).).).",
            ),
        ),
        (
            "basic username with a colon",
            api_with(|a| a["defaultAuth"] = basic_auth("a:b", "p")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (credential: (Basic: (username: must not contain ':'.).).).",
            ),
        ),
        (
            "blank basic password",
            api_with(|a| a["defaultAuth"] = basic_auth("u", "")),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (credential: (Basic: (password: cannot be blank.).).).",
            ),
        ),
        (
            "header name",
            api_with(|a| {
                a["defaultAuth"] = basic_auth("u", "p");
                a["defaultAuth"]["additionalHeaders"] = json!({"Bad Header": ["v"]});
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (additionalHeaders: (Bad Header: is not a valid HTTP header name.).).",
            ),
        ),
        (
            "header value with a newline",
            api_with(|a| {
                a["defaultAuth"] = basic_auth("u", "p");
                a["defaultAuth"]["additionalHeaders"] = json!({"X-A": ["v\r\nX-Injected: 1"]});
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (additionalHeaders: (X-A: (0: must not contain control characters.).).).",
            ),
        ),
        (
            "query parameter without values",
            api_with(|a| {
                a["defaultAuth"] = basic_auth("u", "p");
                a["defaultAuth"]["additionalQueryParams"] = json!({"q": []});
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (additionalQueryParams: (q: cannot be blank.).).",
            ),
        ),
        (
            "header without values",
            api_with(|a| {
                a["defaultAuth"] = basic_auth("u", "p");
                a["defaultAuth"]["additionalHeaders"] = json!({"X-Empty": []});
            }),
            Expect::Exact(
                "validation error for type APIDefinitionInput: defaultAuth: (additionalHeaders: (X-Empty: cannot be blank.).).",
            ),
        ),
    ]
}

async fn invalid_inputs_are_refused_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add_api = "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }";
    for (case, input, expect) in api_cases() {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                add_api,
                json!({"app": app_id, "in": input}),
            )
            .await;
        expect.check(&message, case);
    }

    let add_event = "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }";
    let no_channels = json!({
        "name": "events",
        "spec": {"data": "asyncapi: 2.0.0\ninfo:\n  title: t\n  version: '1'\n", "type": "ASYNC_API", "format": "YAML"},
    });
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            add_event,
            json!({"app": app_id, "in": no_channels}),
        )
        .await;
    Expect::Prefix(
        "validation error for type EventDefinitionInput: spec: (data: data is not a valid AsyncAPI document: ",
        "channels",
    )
    .check(&message, "AsyncAPI without channels");
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            add_event,
            json!({"app": app_id, "in": {"name": "events"}}),
        )
        .await;
    Expect::Exact("validation error for type EventDefinitionInput: spec: cannot be blank.")
        .check(&message, "event without spec");

    let add_document = "mutation($app: ID!, $in: DocumentInput!) { addDocument(applicationID: $app, in: $in) { id } }";
    let document = |title: &str| json!({"title": title, "displayName": "d", "description": "d", "format": "MARKDOWN"});
    for (case, title, expect) in [
        (
            "blank title",
            "".to_owned(),
            Expect::Exact("validation error for type DocumentInput: title: cannot be blank."),
        ),
        (
            "long title",
            "t".repeat(129),
            Expect::Exact(
                "validation error for type DocumentInput: title: the length must be between 1 and 128.",
            ),
        ),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                add_document,
                json!({"app": app_id, "in": document(&title)}),
            )
            .await;
        expect.check(&message, case);
    }
    // 128 characters are fine (and removed again).
    let ok = app
        .gql(
            add_document,
            json!({"app": app_id, "in": document(&"t".repeat(128))}),
        )
        .await["addDocument"]["id"]
        .clone();
    app.gql(
        "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
        json!({"id": ok}),
    )
    .await;

    let add_webhook = "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }";
    for (case, input, expect) in [
        (
            "webhook url",
            json!({"type": "CONFIGURATION_CHANGED", "url": "hooks example"}),
            Expect::Exact("validation error for type WebhookInput: url: must be a valid URL."),
        ),
        (
            "webhook url scheme",
            json!({"type": "CONFIGURATION_CHANGED", "url": "ftp://hooks.example.com/x"}),
            Expect::Exact("validation error for type WebhookInput: url: must be a valid URL."),
        ),
        (
            "webhook auth without credential",
            json!({"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com",
                   "auth": {"credential": {}}}),
            Expect::Exact(
                "validation error for type WebhookInput: auth: (credential: (rule.ExactlyOneNotNil: exactly one credential input has to be specified.).).",
            ),
        ),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                add_webhook,
                json!({"app": app_id, "in": input}),
            )
            .await;
        expect.check(&message, case);
    }

    assert_empty_catalog(&app, &app_id).await;

    // A registration with one bad API among good ones stores nothing, not even the application.
    for (case, bad, expect) in [
        (
            "bad API",
            json!({"apiDefinitions": [api_input("good-1"),
                                       api_with(|a| a["targetURL"] = json!("nope")),
                                       api_input("good-2")]}),
            Expect::Exact(
                "validation error for type ApplicationRegisterInput: apiDefinitions: (1: (targetURL: must be a valid URL.).).",
            ),
        ),
        (
            "bad document",
            json!({"apiDefinitions": [api_input("good-1")], "documents": [document("")]}),
            Expect::Exact(
                "validation error for type ApplicationRegisterInput: documents: (0: (title: cannot be blank.).).",
            ),
        ),
        (
            "bad webhook",
            json!({"eventDefinitions": [event_input("good")],
                   "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "x"}]}),
            Expect::Exact(
                "validation error for type ApplicationRegisterInput: webhooks: (0: (url: must be a valid URL.).).",
            ),
        ),
    ] {
        let mut input = bad.clone();
        input["name"] = json!("refused");
        input["providerName"] = json!("acme");
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": input}),
            )
            .await;
        expect.check(&message, case);
        let apps = app
            .gql("{ applications { totalCount data { name } } }", json!({}))
            .await;
        assert_eq!(
            apps["applications"],
            json!({"totalCount": 1, "data": [{"name": "app"}]}),
            "{case}: the application must not exist"
        );
    }
}

async fn hostile_specs_are_refused_quickly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add_api = "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }";

    let mut bomb = String::from(
        "openapi: 3.0.0\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let items = vec![format!("*{previous}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{items}]\n"));
    }
    let input = api_with(|a| a["spec"]["data"] = json!(bomb));
    let started = Instant::now();
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            add_api,
            json!({"app": app_id, "in": input}),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the alias bomb took {:?}",
        started.elapsed()
    );
    assert_eq!(
        message,
        "validation error for type APIDefinitionInput: spec: (data: data uses YAML anchors and aliases beyond the allowed limits.)."
    );

    let xml_bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0"><edmx:DataServices>&lol4;</edmx:DataServices></edmx:Edmx>"#;
    let input =
        api_with(|a| a["spec"] = json!({"data": xml_bomb, "type": "ODATA", "format": "XML"}));
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            add_api,
            json!({"app": app_id, "in": input}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type APIDefinitionInput: spec: (data: data is not allowed to contain an XML DOCTYPE declaration.)."
    );

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (format, kind) in [("JSON", "OPEN_API"), ("YAML", "OPEN_API")] {
        let input = api_with(|a| {
            a["spec"] = json!({"data": deep, "type": kind, "format": format});
        });
        let started = Instant::now();
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                add_api,
                json!({"app": app_id, "in": input}),
            )
            .await;
        assert!(started.elapsed() < Duration::from_secs(5), "{format}");
        assert_eq!(
            message,
            "validation error for type APIDefinitionInput: spec: (data: data is nested too deeply (more than 64 levels).).",
            "{format}"
        );
    }
    let event =
        json!({"name": "deep", "spec": {"data": deep, "type": "ASYNC_API", "format": "JSON"}});
    let message = app
        .gql_error("VALIDATION_ERROR", 
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": event}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type EventDefinitionInput: spec: (data: data is nested too deeply (more than 64 levels).)."
    );

    // The server still answers, and nothing was stored.
    let data = app
        .gql(
            "query($id: ID!) { application(id: $id) { name } }",
            json!({"id": app_id}),
        )
        .await;
    assert_eq!(data["application"]["name"], "app");
    assert_empty_catalog(&app, &app_id).await;
}

async fn other_tenants_cannot_see_or_change_the_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let api_id = app.add_api(&app_id, full_api_input()).await;
    let event_id = app.add_event(&app_id, event_input("events")).await;
    let before = read_catalog(&app, &app_id).await;
    let webhook_id = app
        .gql(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "https://h.example.com"}}),
        )
        .await["addWebhook"]["id"]
        .clone();
    let document_id = app
        .gql(
            "mutation($app: ID!, $in: DocumentInput!) { addDocument(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"title": "t", "displayName": "d", "description": "d", "format": "MARKDOWN"}}),
        )
        .await["addDocument"]["id"]
        .clone();
    let before_all = read_catalog(&app, &app_id).await;
    assert_eq!(before_all["apiDefinitions"], before["apiDefinitions"]);

    let (_, other) = app.other_tenant();
    // Reading: the application does not exist for the other tenant.
    let body = app
        .gql_as(
            &other,
            "query($id: ID!) { application(id: $id) { id apiDefinitions { totalCount } } }",
            json!({"id": app_id}),
        )
        .await;
    assert_eq!(body["data"]["application"], Value::Null, "{body}");

    // Changing: every mutation by id fails as if the object did not exist.
    let attempts = [
        (
            "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
            json!({"id": api_id, "in": api_input("stolen")}),
        ),
        (
            "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
            json!({"id": api_id}),
        ),
        (
            "mutation($id: ID!) { refetchAPISpec(apiID: $id) { data } }",
            json!({"id": api_id}),
        ),
        (
            "mutation($id: ID!, $in: EventDefinitionInput!) { updateEventDefinition(id: $id, in: $in) { id } }",
            json!({"id": event_id, "in": event_input("stolen")}),
        ),
        (
            "mutation($id: ID!) { deleteEventDefinition(id: $id) { id } }",
            json!({"id": event_id}),
        ),
        (
            "mutation($id: ID!, $in: WebhookInput!) { updateWebhook(webhookID: $id, in: $in) { id } }",
            json!({"id": webhook_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "https://evil.example.com"}}),
        ),
        (
            "mutation($id: ID!) { deleteWebhook(webhookID: $id) { id } }",
            json!({"id": webhook_id}),
        ),
        (
            "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
            json!({"id": document_id}),
        ),
    ];
    for (mutation, variables) in attempts {
        let message = app
            .gql_error_as("NOT_FOUND", &other, mutation, variables)
            .await;
        assert!(message.contains("does not exist"), "{mutation}: {message}");
    }
    for (mutation, what) in [
        (
            "mutation($app: ID!) { addAPIDefinition(applicationID: $app, in: {name: \"x\", targetURL: \"https://x.example.com\"}) { id } }",
            "API",
        ),
        (
            "mutation($app: ID!) { addDocument(applicationID: $app, in: {title: \"t\", displayName: \"d\", description: \"d\", format: MARKDOWN}) { id } }",
            "Document",
        ),
        (
            "mutation($app: ID!) { addWebhook(applicationID: $app, in: {type: CONFIGURATION_CHANGED, url: \"https://x.example.com\"}) { id } }",
            "Webhook",
        ),
    ] {
        let message = app
            .gql_error_as("NOT_FOUND", &other, mutation, json!({"app": app_id}))
            .await;
        assert_eq!(
            message,
            format!("Cannot add {what} to not existing Application")
        );
    }

    // Unchanged for the owner.
    assert_eq!(read_catalog(&app, &app_id).await, before_all);
}

async fn unregister_application_removes_its_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let keep_id = app.register_app("keep", json!({})).await;
    let api_id = app.add_api(&app_id, api_input("api")).await;
    let kept_api = app.add_api(&keep_id, api_input("kept")).await;
    let event_id = app.add_event(&app_id, event_input("events")).await;
    let document_id = app
        .gql(
            "mutation($app: ID!, $in: DocumentInput!) { addDocument(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"title": "t", "displayName": "d", "description": "d", "format": "MARKDOWN"}}),
        )
        .await["addDocument"]["id"]
        .clone();
    let webhook_id = app
        .gql(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "https://h.example.com"}}),
        )
        .await["addWebhook"]["id"]
        .clone();
    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": app_id}),
    )
    .await;

    for (mutation, variables) in [
        (
            "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
            json!({"id": api_id}),
        ),
        (
            "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
            json!({"id": api_id, "in": api_input("again")}),
        ),
        (
            "mutation($id: ID!) { refetchAPISpec(apiID: $id) { data } }",
            json!({"id": api_id}),
        ),
        (
            "mutation($id: ID!) { deleteEventDefinition(id: $id) { id } }",
            json!({"id": event_id}),
        ),
        (
            "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
            json!({"id": document_id}),
        ),
        (
            "mutation($id: ID!) { deleteWebhook(webhookID: $id) { id } }",
            json!({"id": webhook_id}),
        ),
    ] {
        let message = app.gql_error("NOT_FOUND", mutation, variables).await;
        assert!(message.contains("does not exist"), "{mutation}: {message}");
    }
    // The other application keeps its API.
    let data = app
        .gql(
            "query($id: ID!, $api: ID!) { application(id: $id) { apiDefinition(id: $api) { id name } } }",
            json!({"id": keep_id, "api": kept_api}),
        )
        .await;
    assert_eq!(
        data["application"]["apiDefinition"],
        json!({"id": kept_api, "name": "kept"})
    );
}

async fn catalog_mutations_need_application_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let api_id = app.add_api(&app_id, api_input("api")).await;
    let reader = app.token(
        &[TenantId::DEFAULT],
        &[
            "application:read",
            "runtime:read",
            "runtime:write",
            "eventing:manage",
        ],
    );
    for (mutation, variables) in [
        (
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": api_input("nope")}),
        ),
        (
            "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { id } }",
            json!({"id": api_id, "in": api_input("nope")}),
        ),
        (
            "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
            json!({"id": api_id}),
        ),
        (
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": event_input("nope")}),
        ),
        (
            "mutation($app: ID!) { addDocument(applicationID: $app, in: {title: \"t\", displayName: \"d\", description: \"d\", format: MARKDOWN}) { id } }",
            json!({"app": app_id}),
        ),
        (
            "mutation($app: ID!) { addWebhook(applicationID: $app, in: {type: CONFIGURATION_CHANGED, url: \"https://x.example.com\"}) { id } }",
            json!({"app": app_id}),
        ),
    ] {
        let body = app.gql_as(&reader, mutation, variables).await;
        let message = assert_error_code(&body, "INSUFFICIENT_SCOPES");
        assert!(
            message.starts_with("insufficient scopes provided, required: [application:write]"),
            "{mutation}: {message}"
        );
    }
    // Nothing changed: one API with its original name.
    let data = app
        .gql(
            "query($id: ID!) { application(id: $id) { apiDefinitions { totalCount data { id name } } eventDefinitions { totalCount } documents { totalCount } webhooks { id } } }",
            json!({"id": app_id}),
        )
        .await;
    assert_eq!(
        data["application"],
        json!({
            "apiDefinitions": {"totalCount": 1, "data": [{"id": api_id, "name": "api"}]},
            "eventDefinitions": {"totalCount": 0},
            "documents": {"totalCount": 0},
            "webhooks": [],
        })
    );
    // The reader can read.
    let body = app
        .gql_as(
            &reader,
            "query($id: ID!) { application(id: $id) { apiDefinitions { totalCount } } }",
            json!({"id": app_id}),
        )
        .await;
    assert_eq!(
        body["data"]["application"]["apiDefinitions"]["totalCount"], 1,
        "{body}"
    );
}

/// An application has at most 100 webhooks (the list has no pages); the refused one changes
/// nothing.
async fn webhooks_per_application_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let add = |i: usize| {
        format!(
            "w{i}: addWebhook(applicationID: $a, in: {{type: CONFIGURATION_CHANGED, url: \"https://hooks.example.com/{i}\"}}) {{ id }}"
        )
    };
    let batch: Vec<String> = (0..100).map(add).collect();
    app.gql(
        &format!("mutation($a: ID!) {{ {} }}", batch.join(" ")),
        json!({"a": app_id}),
    )
    .await;
    let message = app
        .gql_error(
            "INVALID_DATA",
            &format!("mutation($a: ID!) {{ {} }}", add(100)),
            json!({"a": app_id}),
        )
        .await;
    assert_eq!(message, "an application can have at most 100 webhooks");
    let data = app
        .gql(
            "query($a: ID!) { application(id: $a) { webhooks { id } } }",
            json!({"a": app_id}),
        )
        .await;
    assert_eq!(
        data["application"]["webhooks"].as_array().unwrap().len(),
        100
    );
}

on_both_backends!(
    webhooks_per_application_are_bounded,
    register_with_children_and_read_back,
    webhooks_add_update_delete,
    api_definitions_add_update_delete,
    event_definitions_add_update_delete,
    documents_add_delete,
    group_filter_and_pages,
    every_allowed_spec_type_and_format_is_accepted,
    templates_carry_the_catalog,
    invalid_inputs_are_refused_and_store_nothing,
    hostile_specs_are_refused_quickly,
    other_tenants_cannot_see_or_change_the_catalog,
    unregister_application_removes_its_catalog,
    catalog_mutations_need_application_write,
);
