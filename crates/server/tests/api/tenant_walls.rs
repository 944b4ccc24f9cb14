//! Tenants are walls: the attacks of issue 13 (items 2 and 3) through the real interface.
//! Integration systems act only in tenants that granted them access and are managed only by
//! the tenant that owns them; application templates belong to a tenant, and global ones are
//! written only by operators.

use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::helpers::{ALL_SCOPES, Backend, TestApp, api_input, assert_error_code, basic_auth};
use crate::on_both_backends;
use sextant_test_support::error_code;

const CREDENTIALS: &str = "mutation($id: ID!) { r: requestClientCredentialsForIntegrationSystem(id: $id) { \
     id auth { credential { ... on OAuthCredentialData { clientId clientSecret } } } } }";
const GRANT: &str = "mutation($id: ID!) { grantIntegrationSystemAccess(id: $id) { id name } }";
const REVOKE: &str = "mutation($id: ID!) { revokeIntegrationSystemAccess(id: $id) { id name } }";
const REGISTER_APP: &str = "mutation($n: String!) { registerApplication(in: {name: $n, providerName: \"p\", \
     healthCheckURL: \"https://attacker.example.com/h\"}) { id integrationSystemID } }";

async fn register_system(app: &TestApp, token: &str, name: &str) -> String {
    let body = app
        .gql_as(
            token,
            "mutation($n: String!) { registerIntegrationSystem(in: {name: $n}) { id } }",
            json!({"n": name}),
        )
        .await;
    body["data"]["registerIntegrationSystem"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("registered: {body}"))
        .to_owned()
}

/// Client credentials for an integration system as `token`'s user: (client id, secret).
async fn system_credentials(app: &TestApp, token: &str, system: &str) -> (String, String) {
    let body = app.gql_as(token, CREDENTIALS, json!({"id": system})).await;
    let credential = &body["data"]["r"]["auth"]["credential"];
    (
        credential["clientId"]
            .as_str()
            .unwrap_or_else(|| panic!("credentials: {body}"))
            .to_owned(),
        credential["clientSecret"].as_str().unwrap().to_owned(),
    )
}

/// An access token from `/oauth2/token` (client credentials, HTTP Basic).
async fn access_token(app: &TestApp, (id, secret): &(String, String)) -> String {
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(id, Some(secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A GraphQL request as a client token naming `tenant`: status and body.
async fn as_client(
    app: &TestApp,
    token: &str,
    tenant: TenantId,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let response = app
        .post(Some(token), Some(&tenant.to_string()), query, variables)
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn app_names(app: &TestApp, token: &str) -> Vec<String> {
    let body = app
        .gql_as(token, "{ applications { data { name } } }", json!({}))
        .await;
    let mut names: Vec<String> = body["data"]["applications"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("applications: {body}"))
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The attack: a tenant-B user with only `integration_system:write` registers a system, makes
/// its credentials and, naming tenant A, registers an application in A. Refused (403) until
/// A's administrators grant the system access, and again once they revoke it.
async fn a_system_acts_only_in_tenants_that_granted_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = TenantId::DEFAULT;
    let b = TenantId(uuid::Uuid::new_v4());
    let b_writer = app.token(&[b], &["integration_system:write"]);
    let system = register_system(&app, &b_writer, "b-system").await;
    let client = system_credentials(&app, &b_writer, &system).await;
    let token = access_token(&app, &client).await;

    // In tenant A: refused before anything runs, whatever the operation.
    for query in [
        REGISTER_APP,
        "{ applications { totalCount } }",
        "{ integrationSystems { totalCount } }",
    ] {
        let (status, body) = as_client(&app, &token, a, query, json!({"n": "planted"})).await;
        assert_eq!(status, 403, "{query}: {body}");
    }
    assert_eq!(
        app_names(&app, &app.admin_token).await,
        Vec::<String>::new()
    );

    // In its own tenant (which registered it, and so granted it) it works.
    let (status, body) = as_client(&app, &token, b, REGISTER_APP, json!({"n": "own"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["registerApplication"]["integrationSystemID"],
        system.as_str(),
        "{body}"
    );

    // A tenant-B user cannot grant it in A: a grant is for the caller's own tenant.
    let b_admin = app.token(&[b], ALL_SCOPES);
    app.gql_as(&b_admin, GRANT, json!({"id": system})).await;
    let (status, _) = as_client(&app, &token, a, REGISTER_APP, json!({"n": "planted"})).await;
    assert_eq!(status, 403);

    // A's administrators grant it: now it acts in A (on its own applications only).
    let granted = app.gql(GRANT, json!({"id": system})).await;
    assert_eq!(
        granted["grantIntegrationSystemAccess"]["id"],
        system.as_str()
    );
    let (status, body) = as_client(&app, &token, a, REGISTER_APP, json!({"n": "invited"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(app_names(&app, &app.admin_token).await, vec!["invited"]);

    // Revoked: refused from the next request on, with the same token.
    app.gql(REVOKE, json!({"id": system})).await;
    let (status, _) = as_client(
        &app,
        &token,
        a,
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let body = app
        .gql_as(&app.admin_token, REVOKE, json!({"id": system}))
        .await;
    assert_error_code(&body, "NOT_FOUND");
    // The application it registered stays, for A's users to manage.
    assert_eq!(app_names(&app, &app.admin_token).await, vec!["invited"]);

    // Only users grant: the system cannot grant itself anywhere.
    let (status, body) = as_client(&app, &token, b, GRANT, json!({"id": system})).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_some(), "{body}");
    let (status, _) = as_client(
        &app,
        &token,
        a,
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    // Granting something that does not exist.
    let body = app
        .gql_as(
            &app.admin_token,
            GRANT,
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_error_code(&body, "NOT_FOUND");
}

/// The attacks on a system tenant A owns: tenant B lists it, makes credentials for it, acts
/// as it in A (and through it makes credentials for A's applications and reads their API
/// passwords), renames it, deletes it or its credentials, or points its applications at it.
async fn another_tenants_system_is_out_of_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = TenantId::DEFAULT;
    let system = register_system(&app, &app.admin_token, "a-system").await;
    let a_client = system_credentials(&app, &app.admin_token, &system).await;
    let a_token = access_token(&app, &a_client).await;
    // An application of A managed by the system, with an API password.
    let (_, body) = as_client(&app, &a_token, a, REGISTER_APP, json!({"n": "payroll"})).await;
    let payroll = body["data"]["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut api = api_input("salaries");
    api["defaultAuth"] = basic_auth("payroll", "s3cret");
    app.add_api(&payroll, api).await;
    let system_view = "query($id: ID!) { integrationSystem(id: $id) { id name auths { id } } }";
    let before = app.gql(system_view, json!({"id": system})).await;
    assert_eq!(
        before["integrationSystem"]["auths"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (b, b_admin) = app.other_tenant();
    // B does not see it.
    let body = app
        .gql_as(
            &b_admin,
            "{ integrationSystems { totalCount data { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["integrationSystems"],
        json!({"totalCount": 0, "data": []})
    );
    let body = app
        .gql_as(&b_admin, system_view, json!({"id": system}))
        .await;
    assert_eq!(body["data"]["integrationSystem"], Value::Null, "{body}");

    // B cannot make credentials for it, rename it, delete it or its credentials, or name it.
    let attempts = [
        (CREDENTIALS, json!({"id": system})),
        (
            "mutation($id: ID!) { updateIntegrationSystem(id: $id, in: {name: \"pwned\"}) { id } }",
            json!({"id": system}),
        ),
        (
            "mutation($id: ID!) { unregisterIntegrationSystem(id: $id) { id } }",
            json!({"id": system}),
        ),
        (
            "mutation($id: ID!) { deleteSystemAuthForIntegrationSystem(authID: $id) { id } }",
            json!({"id": a_client.0}),
        ),
        (
            "mutation($id: ID!) { registerApplication(in: {name: \"x\", providerName: \"p\", integrationSystemID: $id}) { id } }",
            json!({"id": system}),
        ),
        (REVOKE, json!({"id": system})),
    ];
    for (query, variables) in &attempts {
        let body = app.gql_as(&b_admin, query, variables.clone()).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{query}: {body}"
        );
    }
    assert_eq!(app.gql(system_view, json!({"id": system})).await, before);
    assert_eq!(app_names(&app, &b_admin).await, Vec::<String>::new());
    // A's client still works: nothing of it was touched.
    let (status, _) = as_client(
        &app,
        &a_token,
        a,
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);

    // B's own system cannot reach A's applications: no credentials for them, no passwords.
    let b_system = register_system(&app, &b_admin, "b-system").await;
    let b_token = access_token(&app, &system_credentials(&app, &b_admin, &b_system).await).await;
    for query in [
        "mutation($id: ID!) { requestClientCredentialsForApplication(id: $id) { id } }",
        "query($id: ID!) { application(id: $id) { apiDefinitions { data { defaultAuth { credential { ... on BasicCredentialData { password } } } } } } }",
    ] {
        let (status, body) = as_client(&app, &b_token, a, query, json!({"id": payroll})).await;
        assert_eq!(status, 403, "{query}: {body}");
        assert!(!body.to_string().contains("s3cret"), "{body}");
    }

    // B grants A's system access to B (its own decision): B then sees it, and its clients act
    // in B, but B still cannot make its credentials, see them, rename it or delete it: a
    // credential of the system would act in A too.
    let body = app.gql_as(&b_admin, GRANT, json!({"id": system})).await;
    assert_eq!(
        body["data"]["grantIntegrationSystemAccess"]["id"],
        system.as_str(),
        "{body}"
    );
    let body = app
        .gql_as(&b_admin, system_view, json!({"id": system}))
        .await;
    assert_eq!(
        body["data"]["integrationSystem"]["name"], "a-system",
        "{body}"
    );
    assert_eq!(
        body["data"]["integrationSystem"]["auths"],
        json!([]),
        "{body}"
    );
    for (query, variables) in &attempts[..3] {
        let body = app.gql_as(&b_admin, query, variables.clone()).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("FORBIDDEN"),
            "{query}: {body}"
        );
    }
    let body = app
        .gql_as(&b_admin, attempts[3].0, attempts[3].1.clone())
        .await;
    assert_error_code(&body, "NOT_FOUND");
    assert_eq!(app.gql(system_view, json!({"id": system})).await, before);
    let (status, _) = as_client(
        &app,
        &a_token,
        b,
        "{ applications { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    // B revokes its grant: out of sight again.
    app.gql_as(&b_admin, REVOKE, json!({"id": system})).await;
    let body = app
        .gql_as(&b_admin, system_view, json!({"id": system}))
        .await;
    assert_eq!(body["data"]["integrationSystem"], Value::Null, "{body}");

    // A system sees itself only, not the other systems of the tenants it acts in.
    let body = as_client(
        &app,
        &a_token,
        a,
        "{ integrationSystems { totalCount data { id } } }",
        json!({}),
    )
    .await
    .1;
    assert_eq!(
        body["data"]["integrationSystems"],
        json!({"totalCount": 1, "data": [{"id": system}]})
    );
}

// --- application templates ---

const CREATE_T: &str = "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id name accessLevel } }";
const UPDATE_T: &str = "mutation($id: ID!, $in: ApplicationTemplateInput!) { updateApplicationTemplate(id: $id, in: $in) { id } }";
const DELETE_T: &str = "mutation($id: ID!) { deleteApplicationTemplate(id: $id) { id } }";
const READ_T: &str =
    "query($id: ID!) { applicationTemplate(id: $id) { id name applicationInput accessLevel } }";
const FROM_T: &str = "mutation($t: String!, $n: String!) { registerApplicationFromTemplate(in: {templateName: $t, values: [{placeholder: \"name\", value: $n}]}) { id providerName webhooks { url } } }";

fn template(name: &str, level: &str, provider: &str) -> Value {
    json!({
        "name": name,
        "accessLevel": level,
        "applicationInput": {"name": "{{name}}", "providerName": provider},
        "placeholders": [{"name": "name"}],
    })
}

/// The same template with the attacker's webhook added.
fn with_webhook(mut template: Value) -> Value {
    template["applicationInput"]["webhooks"] =
        json!([{"type": "CONFIGURATION_CHANGED", "url": "https://attacker.example.com/hook"}]);
    template
}

async fn create_template(app: &TestApp, token: &str, input: Value) -> Value {
    let body = app.gql_as(token, CREATE_T, json!({"in": input})).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["createApplicationTemplate"].clone()
}

/// The attack: tenant B rewrites tenant A's template to add its own webhook, or deletes it.
/// A tenant's template is invisible to B, and B registers only from its own or global ones.
async fn a_tenants_template_is_out_of_reach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a_admin = app.token(&[TenantId::DEFAULT], ALL_SCOPES);
    let created = create_template(&app, &a_admin, template("crm", "TENANT", "a-corp")).await;
    assert_eq!(created["accessLevel"], "TENANT");
    let id = created["id"].as_str().unwrap().to_owned();
    let before = app.gql_as(&a_admin, READ_T, json!({"id": id})).await;
    assert_eq!(
        before["data"]["applicationTemplate"]["name"], "crm",
        "{before}"
    );

    let (_, b_admin) = app.other_tenant();
    let body = app.gql_as(&b_admin, READ_T, json!({"id": id})).await;
    assert_eq!(body["data"]["applicationTemplate"], Value::Null, "{body}");
    let body = app
        .gql_as(
            &b_admin,
            "{ applicationTemplates { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["applicationTemplates"]["totalCount"], 0,
        "{body}"
    );
    for (query, variables) in [
        (
            UPDATE_T,
            json!({"id": id, "in": with_webhook(template("crm", "TENANT", "a-corp"))}),
        ),
        (DELETE_T, json!({"id": id})),
        (FROM_T, json!({"t": "crm", "n": "lure"})),
    ] {
        let body = app.gql_as(&b_admin, query, variables).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{query}: {body}"
        );
    }
    assert_eq!(
        app.gql_as(&a_admin, READ_T, json!({"id": id})).await,
        before
    );

    // B's template of the same name is B's alone; each tenant registers from its own.
    create_template(
        &app,
        &b_admin,
        with_webhook(template("crm", "TENANT", "b-corp")),
    )
    .await;
    let body = app
        .gql_as(&a_admin, FROM_T, json!({"t": "crm", "n": "customers"}))
        .await;
    let registered = &body["data"]["registerApplicationFromTemplate"];
    assert_eq!(registered["providerName"], "a-corp", "{body}");
    assert_eq!(registered["webhooks"], json!([]), "{body}");
    let body = app
        .gql_as(&b_admin, FROM_T, json!({"t": "crm", "n": "customers"}))
        .await;
    assert_eq!(
        body["data"]["registerApplicationFromTemplate"]["providerName"], "b-corp",
        "{body}"
    );
    assert_eq!(app_names(&app, &a_admin).await, vec!["customers"]);

    // A's own users change and delete it.
    let body = app
        .gql_as(
            &a_admin,
            UPDATE_T,
            json!({"id": id, "in": template("crm", "TENANT", "a-corp-2")}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql_as(&a_admin, DELETE_T, json!({"id": id})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql_as(&a_admin, READ_T, json!({"id": id})).await;
    assert_eq!(body["data"]["applicationTemplate"], Value::Null, "{body}");
}

/// Global templates: every tenant reads them and registers from them; only an operator (a
/// token with `application_template:global`, which tenant tokens do not carry) writes them.
async fn global_templates_are_written_by_operators_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, b_admin) = app.other_tenant();
    let operator = app.token(
        &[TenantId::DEFAULT],
        &["application_template:write", "application_template:global"],
    );

    // A tenant token cannot make a global template.
    let body = app
        .gql_as(
            &b_admin,
            CREATE_T,
            json!({"in": template("shared", "GLOBAL", "x")}),
        )
        .await;
    assert_error_code(&body, "INSUFFICIENT_SCOPES");
    let created = create_template(&app, &operator, template("shared", "GLOBAL", "vendor")).await;
    assert_eq!(created["accessLevel"], "GLOBAL");
    let id = created["id"].as_str().unwrap().to_owned();
    let before = app.gql_as(&b_admin, READ_T, json!({"id": id})).await;
    assert_eq!(
        before["data"]["applicationTemplate"]["accessLevel"], "GLOBAL",
        "{before}"
    );

    // Tenant B reads it but can neither rewrite (to add its webhook) nor delete it, nor move
    // it into its tenant.
    for (query, variables) in [
        (
            UPDATE_T,
            json!({"id": id, "in": with_webhook(template("shared", "GLOBAL", "vendor"))}),
        ),
        (
            UPDATE_T,
            json!({"id": id, "in": with_webhook(template("shared", "TENANT", "vendor"))}),
        ),
        (DELETE_T, json!({"id": id})),
    ] {
        let body = app.gql_as(&b_admin, query, variables).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INSUFFICIENT_SCOPES"),
            "{query}: {body}"
        );
    }
    assert_eq!(
        app.gql_as(&b_admin, READ_T, json!({"id": id})).await,
        before
    );

    // Every tenant registers from it, into its own tenant, without anyone's webhook.
    for token in [&app.admin_token, &b_admin] {
        let body = app
            .gql_as(token, FROM_T, json!({"t": "shared", "n": "from-global"}))
            .await;
        let registered = &body["data"]["registerApplicationFromTemplate"];
        assert_eq!(registered["providerName"], "vendor", "{body}");
        assert_eq!(registered["webhooks"], json!([]), "{body}");
    }
    assert_eq!(app_names(&app, &b_admin).await, vec!["from-global"]);
    let body = app
        .gql_as(
            &app.token(&[tenant], &["application:read"]),
            "{ applications { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["applications"]["totalCount"], 1);

    // The operator changes and deletes it.
    let body = app
        .gql_as(
            &operator,
            UPDATE_T,
            json!({"id": id, "in": template("shared", "GLOBAL", "vendor-2")}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql_as(&operator, DELETE_T, json!({"id": id})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app.gql_as(&b_admin, READ_T, json!({"id": id})).await;
    assert_eq!(body["data"]["applicationTemplate"], Value::Null, "{body}");
}

on_both_backends!(
    a_system_acts_only_in_tenants_that_granted_it,
    another_tenants_system_is_out_of_reach,
    a_tenants_template_is_out_of_reach,
    global_templates_are_written_by_operators_only,
);
