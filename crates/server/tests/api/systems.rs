//! Integration systems and application templates: lifecycle, validation, paging. Who may
//! see and change them across tenants is in `tenant_walls.rs`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

const IS_FIELDS: &str = "id name description";
const REGISTER_IS: &str = "mutation($in: IntegrationSystemInput!) { \
                           registerIntegrationSystem(in: $in) { id name description } }";
const UPDATE_IS: &str = "mutation($id: ID!, $in: IntegrationSystemInput!) { \
                         updateIntegrationSystem(id: $id, in: $in) { id name description } }";
const UNREGISTER_IS: &str =
    "mutation($id: ID!) { unregisterIntegrationSystem(id: $id) { id name description } }";

const T_FIELDS: &str =
    "id name description applicationInput placeholders { name description } accessLevel";

async fn read_system(app: &TestApp, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ integrationSystem(id: $id) {{ {IS_FIELDS} }} }}");
    app.gql(&query, json!({"id": id})).await["integrationSystem"].clone()
}

async fn all_systems(app: &TestApp) -> Value {
    let query = format!("{{ integrationSystems {{ totalCount data {{ {IS_FIELDS} }} }} }}");
    app.gql(&query, json!({})).await["integrationSystems"].clone()
}

async fn register_system(app: &TestApp, name: &str) -> String {
    app.gql(REGISTER_IS, json!({"in": {"name": name}})).await["registerIntegrationSystem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn integration_system_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .gql(
            REGISTER_IS,
            json!({"in": {"name": "my-system", "description": "first"}}),
        )
        .await["registerIntegrationSystem"]
        .clone();
    let id = registered["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(
        registered,
        json!({"id": id, "name": "my-system", "description": "first"})
    );
    assert_eq!(read_system(&app, &id).await, registered);
    assert_eq!(
        all_systems(&app).await,
        json!({"totalCount": 1, "data": [registered]})
    );

    let updated = app
        .gql(
            UPDATE_IS,
            json!({"id": id, "in": {"name": "renamed", "description": "second"}}),
        )
        .await["updateIntegrationSystem"]
        .clone();
    assert_eq!(
        updated,
        json!({"id": id, "name": "renamed", "description": "second"})
    );
    assert_eq!(read_system(&app, &id).await, updated);
    let updated = app
        .gql(UPDATE_IS, json!({"id": id, "in": {"name": "renamed"}}))
        .await["updateIntegrationSystem"]
        .clone();
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(read_system(&app, &id).await, updated);

    let removed =
        app.gql(UNREGISTER_IS, json!({"id": id})).await["unregisterIntegrationSystem"].clone();
    assert_eq!(removed, updated);
    assert_eq!(read_system(&app, &id).await, Value::Null);
    assert_eq!(
        all_systems(&app).await,
        json!({"totalCount": 0, "data": []})
    );

    // Gone, unknown or malformed ids.
    for id in [
        id.clone(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
    ] {
        let message = app
            .gql_error("NOT_FOUND", UNREGISTER_IS, json!({"id": id}))
            .await;
        assert!(message.contains("does not exist"), "{message}");
        let message = app
            .gql_error(
                "NOT_FOUND",
                UPDATE_IS,
                json!({"id": id, "in": {"name": "x"}}),
            )
            .await;
        assert!(message.contains("does not exist"), "{message}");
        assert_eq!(read_system(&app, &id).await, Value::Null);
    }
    assert_eq!(all_systems(&app).await["totalCount"], 0);
}

async fn integration_system_validation_and_uniqueness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = register_system(&app, "taken").await;
    let other = register_system(&app, "other").await;
    let before = all_systems(&app).await;
    for (input, field) in [
        (json!({"name": "0invalid"}), "name"),
        (json!({"name": "UPPER"}), "name"),
        (json!({"name": "a".repeat(37)}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "fine", "description": "d".repeat(129)}),
            "description",
        ),
    ] {
        let prefix = format!("validation error for type IntegrationSystemInput: {field}: ");
        let message = app
            .gql_error("VALIDATION_ERROR", REGISTER_IS, json!({"in": input}))
            .await;
        assert!(message.starts_with(&prefix), "register {input}: {message}");
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                UPDATE_IS,
                json!({"id": id, "in": input}),
            )
            .await;
        assert!(message.starts_with(&prefix), "update {input}: {message}");
    }
    let message = app
        .gql_error("NOT_UNIQUE", REGISTER_IS, json!({"in": {"name": "taken"}}))
        .await;
    assert!(message.contains("not unique"), "{message}");
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            UPDATE_IS,
            json!({"id": other, "in": {"name": "taken", "description": "x"}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(all_systems(&app).await, before);
    // Keeping one's own name is fine.
    app.gql(
        UPDATE_IS,
        json!({"id": id, "in": {"name": "taken", "description": "y"}}),
    )
    .await;
}

async fn integration_systems_are_paged_and_walled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut registered = BTreeSet::new();
    for i in 0..5 {
        registered.insert(register_system(&app, &format!("system-{i}")).await);
    }
    let query = "query($after: PageCursor) { integrationSystems(first: 2, after: $after) { \
                 totalCount data { id } pageInfo { endCursor hasNextPage } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app.gql(query, json!({"after": after})).await["integrationSystems"].clone();
        assert_eq!(page["totalCount"], 5);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert!(seen.len() < 10, "pagination does not end");
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), registered);

    // Another tenant sees none of them until it grants one access.
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(&other, "{ integrationSystems { totalCount } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["integrationSystems"]["totalCount"], 0,
        "{body}"
    );
    let system = registered.iter().next().unwrap();
    let read = "query($id: ID!) { integrationSystem(id: $id) { id } }";
    let body = app.gql_as(&other, read, json!({"id": system})).await;
    assert_eq!(body["data"]["integrationSystem"], Value::Null, "{body}");
    let body = app
        .gql_as(
            &other,
            "mutation($id: ID!) { grantIntegrationSystemAccess(id: $id) { id } }",
            json!({"id": system}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql_as(&other, "{ integrationSystems { totalCount } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["integrationSystems"]["totalCount"], 1,
        "{body}"
    );
    let body = app.gql_as(&other, read, json!({"id": system})).await;
    assert_eq!(
        body["data"]["integrationSystem"]["id"],
        system.as_str(),
        "{body}"
    );
}

async fn integration_system_in_use_cannot_be_unregistered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = register_system(&app, "busy").await;
    let before = read_system(&app, &system).await;

    // An application of another tenant, which granted it access, references it.
    let (_, other) = app.other_tenant();
    app.gql_as(
        &other,
        "mutation($id: ID!) { grantIntegrationSystemAccess(id: $id) { id } }",
        json!({"id": system}),
    )
    .await;
    let body = app
        .gql_as(
            &other,
            "mutation($is: ID!) { registerApplication(in: {name: \"user\", providerName: \"p\", integrationSystemID: $is}) { id integrationSystemID labels } }",
            json!({"is": system}),
        )
        .await;
    let registered = &body["data"]["registerApplication"];
    assert_eq!(registered["integrationSystemID"], system.as_str(), "{body}");
    assert_eq!(
        registered["labels"]["integration-system-id"],
        system.as_str()
    );
    let foreign_app = registered["id"].as_str().unwrap().to_owned();

    let message = app
        .gql_error("IN_USE", UNREGISTER_IS, json!({"id": system}))
        .await;
    assert!(message.contains("still used"), "{message}");
    assert_eq!(read_system(&app, &system).await, before);

    // An application of this tenant that points at it by update blocks it as well.
    let mine = app.register_app("mine", json!({})).await;
    app.gql(
        "mutation($id: ID!, $is: ID!) { updateApplication(id: $id, in: {name: \"mine\", providerName: \"p\", integrationSystemID: $is}) { id } }",
        json!({"id": mine, "is": system}),
    )
    .await;
    let body = app
        .gql_as(
            &other,
            "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
            json!({"id": foreign_app}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let message = app
        .gql_error("IN_USE", UNREGISTER_IS, json!({"id": system}))
        .await;
    assert!(message.contains("still used"), "{message}");
    assert_eq!(read_system(&app, &system).await, before);

    // Once no application references it, it can go.
    app.gql(
        "mutation($id: ID!) { updateApplication(id: $id, in: {name: \"mine\", providerName: \"p\"}) { id } }",
        json!({"id": mine}),
    )
    .await;
    let removed = app.gql(UNREGISTER_IS, json!({"id": system})).await;
    assert_eq!(removed["unregisterIntegrationSystem"], before);
    assert_eq!(read_system(&app, &system).await, Value::Null);
    // And then it can no longer be referenced.
    let message = app
        .gql_error("NOT_FOUND", 
            "mutation($is: ID!) { registerApplication(in: {name: \"late\", providerName: \"p\", integrationSystemID: $is}) { id } }",
            json!({"is": system}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
}

// --- application templates ---

const CREATE_T: &str = "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { \
                        id name description applicationInput placeholders { name description } accessLevel } }";
const UPDATE_T: &str = "mutation($id: ID!, $in: ApplicationTemplateInput!) { \
                        updateApplicationTemplate(id: $id, in: $in) { \
                        id name description applicationInput placeholders { name description } accessLevel } }";
const DELETE_T: &str = "mutation($id: ID!) { deleteApplicationTemplate(id: $id) { \
                        id name description applicationInput placeholders { name description } accessLevel } }";
const FROM_T: &str = "mutation($in: ApplicationFromTemplateInput!) { registerApplicationFromTemplate(in: $in) { \
                      id name providerName description healthCheckURL integrationSystemID labels status { condition } } }";

async fn read_template(app: &TestApp, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ applicationTemplate(id: $id) {{ {T_FIELDS} }} }}");
    app.gql(&query, json!({"id": id})).await["applicationTemplate"].clone()
}

async fn all_templates(app: &TestApp) -> Value {
    let query = format!("{{ applicationTemplates {{ totalCount data {{ {T_FIELDS} }} }} }}");
    app.gql(&query, json!({})).await["applicationTemplates"].clone()
}

async fn all_app_names(app: &TestApp) -> Vec<String> {
    let data = app
        .gql("{ applications { data { name } } }", json!({}))
        .await;
    let mut names: Vec<String> = data["applications"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The template Compass's own test uses.
fn compass_template(name: &str) -> Value {
    json!({
        "name": name,
        "description": "template description",
        "applicationInput": {
            "name": "app-from-template",
            "providerName": "compass",
            "description": "test {{new-placeholder}}",
            "labels": {"env": "test"},
        },
        "placeholders": [{"name": "new-placeholder", "description": "new-placeholder-desc"}],
        "accessLevel": "GLOBAL",
    })
}

/// The top-level string fields of an `applicationInput` (Compass's GraphQL literal, one
/// `\t\tkey: "value",` line each), and `labels` as its literal text.
fn parsed_input(template: &Value) -> Value {
    let literal = template["applicationInput"].as_str().unwrap();
    assert!(literal.starts_with("{\n\t\tname: "), "{literal:?}");
    let mut fields = serde_json::Map::new();
    for line in literal.lines() {
        let Some(field) = line.strip_prefix("\t\t") else {
            continue;
        };
        if let Some((key, rest)) = field.split_once(": ")
            && let Some(value) = rest.strip_prefix('"').and_then(|r| r.strip_suffix("\","))
        {
            fields.insert(key.to_owned(), json!(value));
        }
    }
    if let Some(start) = literal.find("labels: {") {
        let end = literal[start..].find("\n\t},").unwrap() + start;
        fields.insert("labels".into(), json!(&literal[start + 8..end + 3]));
    }
    Value::Object(fields)
}

async fn create_template(app: &TestApp, input: Value) -> Value {
    app.gql(CREATE_T, json!({"in": input})).await["createApplicationTemplate"].clone()
}

async fn application_template_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = create_template(&app, compass_template("my-template")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(created["name"], "my-template");
    assert_eq!(created["description"], "template description");
    assert_eq!(created["accessLevel"], "GLOBAL");
    assert_eq!(
        created["placeholders"],
        json!([{"name": "new-placeholder", "description": "new-placeholder-desc"}])
    );
    let input = parsed_input(&created);
    assert_eq!(input["name"], "app-from-template");
    assert_eq!(input["providerName"], "compass");
    assert_eq!(input["description"], "test {{new-placeholder}}");
    assert_eq!(input["labels"], json!("{\n\t\t\tenv: [\"test\" ],\n\t}"));

    assert_eq!(read_template(&app, &id).await, created);
    assert_eq!(
        all_templates(&app).await,
        json!({"totalCount": 1, "data": [created]})
    );
    // A global template is seen by every tenant.
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(&other, "{ applicationTemplates { totalCount } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["applicationTemplates"]["totalCount"], 1,
        "{body}"
    );

    let update = json!({
        "name": "renamed-template",
        "applicationInput": {"name": "{{name}}", "providerName": "other"},
        "placeholders": [{"name": "name"}],
        "accessLevel": "GLOBAL",
    });
    let updated =
        app.gql(UPDATE_T, json!({"id": id, "in": update})).await["updateApplicationTemplate"]
            .clone();
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "renamed-template");
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(
        updated["placeholders"],
        json!([{"name": "name", "description": null}])
    );
    let input = parsed_input(&updated);
    assert_eq!(input["name"], "{{name}}");
    assert_eq!(input["providerName"], "other");
    assert!(
        input.get("description").is_none_or(Value::is_null),
        "{input}"
    );
    assert_eq!(read_template(&app, &id).await, updated);

    // Duplicate names are refused.
    let second = create_template(&app, compass_template("second")).await;
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            CREATE_T,
            json!({"in": compass_template("second")}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    let second_id = second["id"].as_str().unwrap();
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            UPDATE_T,
            json!({"id": second_id, "in": compass_template("renamed-template")}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(read_template(&app, second_id).await, second);
    assert_eq!(all_templates(&app).await["totalCount"], 2);

    let deleted = app.gql(DELETE_T, json!({"id": id})).await["deleteApplicationTemplate"].clone();
    assert_eq!(deleted, updated);
    assert_eq!(read_template(&app, &id).await, Value::Null);
    assert_eq!(all_templates(&app).await["data"], json!([second]));
    for id in [id.clone(), "not-a-uuid".to_owned()] {
        let message = app
            .gql_error("NOT_FOUND", DELETE_T, json!({"id": id}))
            .await;
        assert!(message.contains("does not exist"), "{message}");
        let message = app
            .gql_error(
                "NOT_FOUND",
                UPDATE_T,
                json!({"id": id, "in": compass_template("x")}),
            )
            .await;
        assert!(message.contains("does not exist"), "{message}");
    }
    assert_eq!(read_template(&app, "not-a-uuid").await, Value::Null);
    assert_eq!(all_templates(&app).await["totalCount"], 1);
}

async fn application_templates_are_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut created = BTreeSet::new();
    for i in 0..5 {
        let t = create_template(&app, compass_template(&format!("template-{i}"))).await;
        created.insert(t["id"].as_str().unwrap().to_owned());
    }
    let query = "query($after: PageCursor) { applicationTemplates(first: 2, after: $after) { \
                 totalCount data { id } pageInfo { endCursor hasNextPage } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app.gql(query, json!({"after": after})).await["applicationTemplates"].clone();
        assert_eq!(page["totalCount"], 5);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert!(seen.len() < 10, "pagination does not end");
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), created);
}

async fn application_template_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let existing = create_template(&app, compass_template("existing")).await;
    let id = existing["id"].as_str().unwrap();
    let with = |patch: Value| {
        let mut t = compass_template("candidate");
        for (k, v) in patch.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    for (input, field) in [
        (
            with(json!({"placeholders": [{"name": "unused"}]})),
            "rule.ValidPlaceholders: application input does not use provided placeholder [name=unused].",
        ),
        (
            with(
                json!({"placeholders": [{"name": "new-placeholder"}, {"name": "new-placeholder"}]}),
            ),
            "rule.ValidPlaceholders: placeholder [name=new-placeholder] not unique.",
        ),
        (
            with(json!({"placeholders": [{"name": " "}]})),
            "Placeholders: (0: (name: cannot be blank.).).",
        ),
        (
            with(
                json!({"placeholders": [{"name": "new-placeholder", "description": "d".repeat(129)}]}),
            ),
            "Placeholders: (0: (description: the length must be no more than 128.).).",
        ),
        (
            with(json!({"name": "0invalid"})),
            "Name: cannot start with digit.",
        ),
        (with(json!({"name": "UPPER"})), "Name: [a DNS-1123"),
        (
            with(json!({"description": "d".repeat(129)})),
            "Description: the length must be no more than 128.",
        ),
    ] {
        // Compass's keys for this input are its Go field names.
        let prefix = format!("validation error for type ApplicationTemplateInput: {field}");
        let message = app
            .gql_error("VALIDATION_ERROR", CREATE_T, json!({"in": input}))
            .await;
        assert!(message.starts_with(&prefix), "create {input}: {message}");
        let message = app
            .gql_error("VALIDATION_ERROR", UPDATE_T, json!({"id": id, "in": input}))
            .await;
        assert!(message.starts_with(&prefix), "update {input}: {message}");
    }
    assert_eq!(
        all_templates(&app).await,
        json!({"totalCount": 1, "data": [existing]})
    );
}

async fn register_application_from_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    create_template(&app, compass_template("compass-template")).await;
    let registered = app
        .gql(
            FROM_T,
            json!({"in": {"templateName": "compass-template",
                          "values": [{"placeholder": "new-placeholder", "value": "new-value"}]}}),
        )
        .await["registerApplicationFromTemplate"]
        .clone();
    assert_eq!(registered["name"], "app-from-template");
    assert_eq!(registered["providerName"], "compass");
    assert_eq!(registered["description"], "test new-value");
    assert_eq!(registered["status"]["condition"], "INITIAL");
    assert_eq!(
        registered["labels"],
        json!({"env": "test", "scenarios": ["DEFAULT"], "integration-system-id": ""})
    );
    let id = registered["id"].as_str().unwrap();
    let read = app
        .gql(
            "query($id: ID!) { application(id: $id) { id name providerName description healthCheckURL integrationSystemID labels status { condition } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["application"], registered);

    // The template itself still holds its placeholder.
    let page = all_templates(&app).await;
    assert_eq!(
        parsed_input(&page["data"][0])["description"],
        "test {{new-placeholder}}"
    );

    // Registering the same again collides on the name, and adds nothing.
    let message = app
        .gql_error(
            "NOT_UNIQUE",
            FROM_T,
            json!({"in": {"templateName": "compass-template",
                          "values": [{"placeholder": "new-placeholder", "value": "other"}]}}),
        )
        .await;
    assert!(message.contains("not unique"), "{message}");
    assert_eq!(all_app_names(&app).await, vec!["app-from-template"]);
}

async fn template_values_are_checked_and_inserted_literally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let template = json!({
        "name": "named",
        "applicationInput": {
            "name": "{{name}}",
            "providerName": "p",
            "description": "said {{text}}",
        },
        "placeholders": [{"name": "name"}, {"name": "text"}],
        "accessLevel": "GLOBAL",
    });
    create_template(&app, template).await;

    // A missing value.
    let message = app
        .gql_error("INVALID_DATA", 
            FROM_T,
            json!({"in": {"templateName": "named", "values": [{"placeholder": "name", "value": "x"}]}}),
        )
        .await;
    assert!(
        message.contains("required placeholder not provided"),
        "{message}"
    );
    let message = app
        .gql_error(
            "INVALID_DATA",
            FROM_T,
            json!({"in": {"templateName": "named"}}),
        )
        .await;
    assert!(
        message.contains("required placeholder not provided"),
        "{message}"
    );
    // An unknown template.
    let message = app
        .gql_error(
            "NOT_FOUND",
            FROM_T,
            json!({"in": {"templateName": "no-such-template", "values": []}}),
        )
        .await;
    assert!(message.contains("does not exist"), "{message}");
    // A value given twice.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            FROM_T,
            json!({"in": {"templateName": "named", "values": [
                {"placeholder": "name", "value": "a"}, {"placeholder": "name", "value": "b"},
                {"placeholder": "text", "value": "t"}]}}),
        )
        .await;
    assert!(
        message.starts_with("validation error for type ApplicationFromTemplateInput: "),
        "{message}"
    );
    // A value that makes the application invalid.
    let message = app
        .gql_error("VALIDATION_ERROR", 
            FROM_T,
            json!({"in": {"templateName": "named", "values": [
                {"placeholder": "name", "value": "0invalid"}, {"placeholder": "text", "value": "t"}]}}),
        )
        .await;
    assert!(
        message.contains("validation error for type") && message.contains("name"),
        "{message}"
    );
    assert_eq!(all_app_names(&app).await, Vec::<String>::new());

    // Quotes and backslashes land literally; they cannot change the input's structure.
    let tricky = r#"he said "hi" \ and left\n", "name": "evil", "x": "#;
    let registered = app
        .gql(
            FROM_T,
            json!({"in": {"templateName": "named", "values": [
                {"placeholder": "name", "value": "good"}, {"placeholder": "text", "value": tricky}]}}),
        )
        .await["registerApplicationFromTemplate"]
        .clone();
    assert_eq!(registered["name"], "good");
    assert_eq!(registered["description"], format!("said {tricky}"));
    assert_eq!(registered["labels"]["scenarios"], json!(["DEFAULT"]));
    // A value that tries to close the string is refused as an invalid name, not parsed.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            FROM_T,
            json!({"in": {"templateName": "named", "values": [
                {"placeholder": "name", "value": "x\", \"labels\": {\"a\": 1}, \"y\": \""},
                {"placeholder": "text", "value": "t"}]}}),
        )
        .await;
    assert!(message.contains("validation error for type"), "{message}");
    assert_eq!(all_app_names(&app).await, vec!["good"]);

    // Another tenant can use the global template; the application lands in its tenant.
    let (_, other) = app.other_tenant();
    let body = app
        .gql_as(
            &other,
            FROM_T,
            json!({"in": {"templateName": "named", "values": [
                {"placeholder": "name", "value": "good"}, {"placeholder": "text", "value": "t"}]}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["registerApplicationFromTemplate"]["labels"]["scenarios"],
        json!(["DEFAULT"])
    );
    let body = app
        .gql_as(&other, "{ applications { totalCount } }", json!({}))
        .await;
    assert_eq!(body["data"]["applications"]["totalCount"], 1);
    assert_eq!(all_app_names(&app).await, vec!["good"]);
}

on_both_backends!(
    integration_system_lifecycle,
    integration_system_validation_and_uniqueness,
    integration_systems_are_paged_and_walled,
    integration_system_in_use_cannot_be_unregistered,
    application_template_lifecycle,
    application_templates_are_paged,
    application_template_validation,
    register_application_from_template,
    template_values_are_checked_and_inserted_literally,
);
