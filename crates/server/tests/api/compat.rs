//! Compass compatibility: Compass's own operations (its `components/director/examples` and
//! the query shapes of its end-to-end tests, end of 2019) sent through real HTTPS, with
//! Compass's answers asserted: successes, validation texts byte for byte, `pageInfo`, the
//! `applicationInput` literal of templates and `healthChecks`.

use serde_json::{Value, json};

use crate::helpers::{ALL_SCOPES, Backend, OPENAPI_YAML, TestApp, assert_error_code};

/// Compass's auth selection, as its examples spell it out.
const AUTH: &str = "credential { ... on BasicCredentialData { username password }
                                 ... on OAuthCredentialData { clientId clientSecret url } }
    additionalHeaders additionalQueryParams
    requestAuth { csrf { tokenEndpointURL
                         credential { ... on BasicCredentialData { username password }
                                      ... on OAuthCredentialData { clientId clientSecret url } }
                         additionalHeaders additionalQueryParams } }";

fn fetch_request() -> String {
    format!("fetchRequest {{ url auth {{ {AUTH} }} mode filter status {{ condition timestamp }} }}")
}

/// The application fragment of Compass's examples and e2e tests, every nested list at its
/// default page size.
fn application_fragment() -> String {
    let fetch = fetch_request();
    format!(
        "id name providerName description integrationSystemID labels
         status {{ condition timestamp }}
         webhooks {{ id applicationID type url auth {{ {AUTH} }} }}
         healthCheckURL
         apiDefinitions {{ data {{ id name description
             spec {{ data format type {fetch} }}
             targetURL group
             auths {{ runtimeID auth {{ {AUTH} }} }}
             defaultAuth {{ {AUTH} }}
             version {{ value deprecated deprecatedSince forRemoval }} }}
           pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
         eventDefinitions {{ data {{ id applicationID name description group
             spec {{ data type format {fetch} }}
             version {{ value deprecated deprecatedSince forRemoval }} }}
           pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
         documents {{ data {{ id applicationID title displayName description format kind data
             {fetch} }}
           pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
         auths {{ id auth {{ {AUTH} }} }}
         eventingConfiguration {{ defaultURL }}"
    )
}

/// Compass's `create-application-with-apis` example in its E19 form (`registerApplication`,
/// `apiDefinitions`): the OAuth URL `url.net` has no scheme, the OData spec is fetched in
/// `PACKAGE` mode. Its inline specs are real documents (Sextant checks specs on arrival).
fn wordpress_input() -> Value {
    let headers = json!({"headerA": ["ha1", "ha2"], "headerB": ["hb1", "hb2"]});
    let params = json!({"qA": ["qa1", "qa2"], "qB": ["qb1", "qb2"]});
    json!({
        "name": "wordpress",
        "providerName": "compass",
        "labels": {"scenarios": ["DEFAULT"]},
        "apiDefinitions": [
            {
                "name": "comments-v1",
                "description": "api for adding comments",
                "targetURL": "http://mywordpress.com/comments",
                "group": "comments",
                "spec": {"data": OPENAPI_YAML, "type": "OPEN_API", "format": "YAML"},
                "version": {"value": "v1", "deprecated": true, "deprecatedSince": "v5", "forRemoval": true},
                "defaultAuth": {
                    "credential": {"basic": {"username": "admin", "password": "secret"}},
                    "additionalHeaders": headers,
                    "additionalQueryParams": params
                }
            },
            {
                "name": "reviews-v1",
                "targetURL": "http://mywordpress.com/reviews",
                "spec": {
                    "type": "ODATA", "format": "JSON",
                    "fetchRequest": {
                        "url": "http://mywordpress.com/apis",
                        "auth": {
                            "credential": {"basic": {"username": "admin", "password": "secret"}},
                            "additionalHeaders": headers,
                            "additionalQueryParams": params
                        },
                        "mode": "PACKAGE",
                        "filter": "odata.json"
                    }
                },
                "defaultAuth": {
                    "credential": {"basic": {"username": "admin", "password": "secret"}},
                    "requestAuth": {"csrf": {
                        "tokenEndpointURL": "http://token.URL",
                        "credential": {"oauth": {"clientId": "clientid", "clientSecret": "grazynasecret", "url": "url.net"}}
                    }}
                }
            }
        ]
    })
}

async fn compass_example_registers_an_application_with_apis(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let input = wordpress_input();
    let data = app
        .gql(
            &format!(
                "mutation($in: ApplicationRegisterInput!) {{ result: registerApplication(in: $in) {{
                   id name labels
                   apiDefinitions(first: 10) {{ data {{ name description targetURL group
                       spec {{ type format fetchRequest {{ url mode filter }} }}
                       defaultAuth {{ {AUTH} }}
                       version {{ value deprecated deprecatedSince forRemoval }} }}
                     pageInfo {{ startCursor endCursor hasNextPage }} totalCount }} }} }}"
            ),
            json!({"in": input}),
        )
        .await;
    let result = &data["result"];
    assert_eq!(result["name"], "wordpress");
    assert_eq!(result["labels"]["scenarios"], json!(["DEFAULT"]));
    let apis = &result["apiDefinitions"];
    assert_eq!(apis["totalCount"], 2);
    // One page holds everything: Compass's empty cursors and no next page.
    assert_eq!(
        apis["pageInfo"],
        json!({"startCursor": "", "endCursor": "", "hasNextPage": false})
    );
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
    assert_eq!(comments["group"], "comments");
    assert_eq!(
        comments["version"],
        json!({"value": "v1", "deprecated": true, "deprecatedSince": "v5", "forRemoval": true})
    );
    assert_eq!(
        comments["defaultAuth"]["additionalHeaders"],
        input["apiDefinitions"][0]["defaultAuth"]["additionalHeaders"]
    );
    let reviews = by_name("reviews-v1");
    assert_eq!(
        reviews["spec"]["fetchRequest"],
        json!({"url": "http://mywordpress.com/apis", "mode": "PACKAGE", "filter": "odata.json"})
    );
    // A URL without a scheme is accepted and stored as given.
    assert_eq!(
        reviews["defaultAuth"]["requestAuth"]["csrf"]["credential"]["url"],
        "url.net"
    );
}

/// The e2e tests' full application query, every nested list at Compass's default page size
/// (100). The static complexity limit that the query cost model replaced refused it with
/// `Query is too complex.`
async fn compass_full_application_query_at_default_page_sizes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": wordpress_input()}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fragment = application_fragment();
    let data = app
        .gql(
            &format!(
                "query($id: ID!) {{ applications {{ data {{ {fragment} }}
                     pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
                   application(id: $id) {{ {fragment} }} }}"
            ),
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["applications"]["totalCount"], 1);
    assert_eq!(
        data["applications"]["pageInfo"],
        json!({"startCursor": "", "endCursor": "", "hasNextPage": false})
    );
    assert_eq!(data["application"]["apiDefinitions"]["totalCount"], 2);
    assert_eq!(data["application"]["name"], "wordpress");
}

async fn urls_compass_accepted_are_accepted_and_stored_as_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app
        .gql(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) {
               id healthCheckURL webhooks { url }
               apiDefinitions { data { targetURL spec { fetchRequest { url } } } } } }",
            json!({"in": {
                "name": "schemeless",
                "providerName": "p",
                "healthCheckURL": "kyma-project.io",
                "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "kyma-project.io/hook"}],
                "apiDefinitions": [{
                    "name": "api",
                    "targetURL": "localhost:8080/api",
                    "spec": {"type": "OPEN_API", "format": "YAML",
                             "fetchRequest": {"url": "specs.kyma-project.io/api.yaml"}}
                }]
            }}),
        )
        .await;
    let app_data = &data["registerApplication"];
    assert_eq!(app_data["healthCheckURL"], "kyma-project.io");
    assert_eq!(app_data["webhooks"][0]["url"], "kyma-project.io/hook");
    let api = &app_data["apiDefinitions"]["data"][0];
    assert_eq!(api["targetURL"], "localhost:8080/api");
    assert_eq!(
        api["spec"]["fetchRequest"]["url"],
        "specs.kyma-project.io/api.yaml"
    );

    // What Compass refused is refused, with Compass's words, and nothing is stored.
    for (url, field) in [
        ("ftp://kyma-project.io", "healthCheckURL"),
        ("not a url", "healthCheckURL"),
        ("kyma-project.io/a b", "healthCheckURL"),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": "bad-url", "providerName": "p", "healthCheckURL": url}}),
            )
            .await;
        assert_eq!(
            message,
            format!(
                "validation error for type ApplicationRegisterInput: {field}: must be a valid URL."
            ),
            "{url}"
        );
    }
    let page = app.gql("{ applications { totalCount } }", json!({})).await;
    assert_eq!(page["applications"]["totalCount"], 1);
}

/// Each case: a mutation, its variables and Compass's exact error text.
async fn validation_errors_read_as_compass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("target", json!({})).await;
    const RUNTIME: &str = "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }";
    const APP: &str =
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
    const SYSTEM: &str =
        "mutation($in: IntegrationSystemInput!) { registerIntegrationSystem(in: $in) { id } }";
    const DOCUMENT: &str =
        "mutation($a: ID!, $in: DocumentInput!) { addDocument(applicationID: $a, in: $in) { id } }";
    const WEBHOOK: &str =
        "mutation($a: ID!, $in: WebhookInput!) { addWebhook(applicationID: $a, in: $in) { id } }";
    const API: &str = "mutation($a: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $a, in: $in) { id } }";
    const DEFINITION: &str =
        "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }";
    let dns = "[a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')]";
    let document = |title: &str| json!({"a": app_id, "in": {"title": title, "displayName": "d", "description": "d", "format": "MARKDOWN"}});
    let cases: Vec<(&str, Value, String)> = vec![
        (
            RUNTIME,
            json!({"in": {"name": "0invalid"}}),
            "validation error for type RuntimeInput: name: cannot start with digit.".into(),
        ),
        (
            RUNTIME,
            json!({"in": {"name": ""}}),
            "validation error for type RuntimeInput: name: cannot be blank.".into(),
        ),
        (
            RUNTIME,
            json!({"in": {"name": "Test"}}),
            format!("validation error for type RuntimeInput: name: {dns}."),
        ),
        (
            RUNTIME,
            json!({"in": {"name": "a".repeat(37)}}),
            "validation error for type RuntimeInput: name: must be no more than 36 characters."
                .into(),
        ),
        (
            RUNTIME,
            json!({"in": {"name": "rt", "description": "d".repeat(129)}}),
            "validation error for type RuntimeInput: description: the length must be no more than 128."
                .into(),
        ),
        (
            APP,
            json!({"in": {"name": "app", "providerName": "p", "healthCheckURL": "ftp://a.io"}}),
            "validation error for type ApplicationRegisterInput: healthCheckURL: must be a valid URL."
                .into(),
        ),
        (
            SYSTEM,
            json!({"in": {"name": "0system"}}),
            "validation error for type IntegrationSystemInput: name: cannot start with digit."
                .into(),
        ),
        (
            DOCUMENT,
            document(""),
            "validation error for type DocumentInput: title: cannot be blank.".into(),
        ),
        (
            DOCUMENT,
            document(&"t".repeat(129)),
            "validation error for type DocumentInput: title: the length must be between 1 and 128."
                .into(),
        ),
        (
            WEBHOOK,
            json!({"a": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "not a url"}}),
            "validation error for type WebhookInput: url: must be a valid URL.".into(),
        ),
        (
            API,
            json!({"a": app_id, "in": {"name": "api", "targetURL": format!("https://a.io/{}", "p".repeat(300))}}),
            "validation error for type APIDefinitionInput: targetURL: the length must be between 1 and 256."
                .into(),
        ),
        (
            DEFINITION,
            json!({"in": {"key": ""}}),
            "validation error for type LabelDefinitionInput: key: cannot be blank.".into(),
        ),
    ];
    for (query, variables, expected) in cases {
        assert_eq!(
            app.gql_error("VALIDATION_ERROR", query, variables.clone())
                .await,
            expected,
            "{variables}"
        );
    }
    // Nothing was created by any of them.
    let data = app
        .gql(
            "query($a: ID!) { runtimes { totalCount } applications { totalCount }
               integrationSystems { totalCount }
               application(id: $a) { documents { totalCount } webhooks { id }
                                     apiDefinitions { totalCount } } }",
            json!({"a": app_id}),
        )
        .await;
    assert_eq!(data["runtimes"]["totalCount"], 0);
    assert_eq!(data["applications"]["totalCount"], 1);
    assert_eq!(data["integrationSystems"]["totalCount"], 0);
    assert_eq!(data["application"]["documents"]["totalCount"], 0);
    assert_eq!(data["application"]["webhooks"], json!([]));
    assert_eq!(data["application"]["apiDefinitions"]["totalCount"], 0);
}

/// Compass (ozzo-validation's `ValidateStruct`) reported every invalid field of an input at
/// once: fields in byte order, `; ` between them, inner inputs and list items in parentheses
/// under their field and index, a period after each list. Nothing is stored.
async fn validation_reports_every_invalid_field_as_compass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("target", json!({})).await;
    let dns = "[a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')]";
    const APP: &str =
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
    let hook = |url: &str| json!({"type": "CONFIGURATION_CHANGED", "url": url});

    // Top level and nested lists: webhooks, API definitions (with their spec and version),
    // documents, labels.
    let message = app
        .gql_error("VALIDATION_ERROR", 
            APP,
            json!({"in": {
                "name": "", "providerName": "p", "description": "d".repeat(129),
                "healthCheckURL": "nope", "labels": {"env": null},
                "webhooks": [hook("http://ok.example.com"), hook("not a url")],
                "apiDefinitions": [{"name": "api", "targetURL": "x",
                    "spec": {"data": OPENAPI_YAML, "type": "OPEN_API", "format": "XML"},
                    "version": {"value": ""}}],
                "documents": [{"title": "", "displayName": "d", "description": "d", "format": "MARKDOWN"}],
            }}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type ApplicationRegisterInput: apiDefinitions: (0: (spec: (Rule.MatchingTypeAndFormat: XML is not a valid spec format for spec type OPEN_API.); targetURL: must be a valid URL; version: (value: cannot be blank.).).); description: the length must be no more than 128; documents: (0: (title: cannot be blank.).); healthCheckURL: must be a valid URL; labels: (env: cannot be blank.); name: cannot be blank; webhooks: (1: (url: must be a valid URL.).)."
    );

    // Indexes sort as text, as Go sorted the keys: 10 before 2.
    let mut webhooks: Vec<Value> = (0..11)
        .map(|i| hook(&format!("http://hooks.example.com/{i}")))
        .collect();
    webhooks[2] = hook("bad");
    webhooks[10] = hook("ftp://hooks.example.com/10");
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            APP,
            json!({"in": {"name": "0app", "providerName": "p", "webhooks": webhooks}}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type ApplicationRegisterInput: name: cannot start with digit; webhooks: (10: (url: must be a valid URL.); 2: (url: must be a valid URL.).)."
    );

    let cases: Vec<(&str, Value, String)> = vec![
        (
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": "0invalid", "description": "d".repeat(129), "labels": {"k": null}}}),
            "validation error for type RuntimeInput: description: the length must be no more than 128; labels: (k: cannot be blank.); name: cannot start with digit.".into(),
        ),
        (
            "mutation($in: IntegrationSystemInput!) { registerIntegrationSystem(in: $in) { id } }",
            json!({"in": {"name": "Sys", "description": "d".repeat(129)}}),
            format!("validation error for type IntegrationSystemInput: description: the length must be no more than 128; name: {dns}."),
        ),
        (
            "mutation($a: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $a, in: $in) { id } }",
            json!({"a": app_id, "in": {"name": "Bad Name", "targetURL": "", "group": "g".repeat(37),
                "spec": {"type": "OPEN_API", "format": "YAML"},
                "defaultAuth": {"credential": {"basic": {"username": "", "password": ""}},
                                "additionalHeaders": {"X-A": []}}}}),
            format!("validation error for type APIDefinitionInput: defaultAuth: (additionalHeaders: (X-A: cannot be blank.); credential: (Basic: (password: cannot be blank; username: cannot be blank.).).); group: the length must be no more than 36; name: {dns}; spec: (Rule.DataOrFetchRequest: Only one of Data or Fetch Request must be passed.); targetURL: cannot be blank."),
        ),
        (
            "mutation($a: ID!, $in: DocumentInput!) { addDocument(applicationID: $a, in: $in) { id } }",
            json!({"a": app_id, "in": {"title": "", "displayName": "", "description": "d".repeat(129),
                "format": "MARKDOWN", "fetchRequest": {"url": "nope", "filter": ""}}}),
            "validation error for type DocumentInput: description: the length must be between 1 and 128; displayName: cannot be blank; fetchRequest: (filter: cannot be blank; url: must be a valid URL.); title: cannot be blank.".into(),
        ),
        (
            "mutation($a: ID!, $in: WebhookInput!) { addWebhook(applicationID: $a, in: $in) { id } }",
            json!({"a": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": "",
                "auth": {"credential": {"oauth": {"clientId": "", "clientSecret": "s", "url": "u"}},
                         "requestAuth": {}}}}),
            "validation error for type WebhookInput: auth: (credential: (Oauth: (clientId: cannot be blank; url: must be a valid URL.).); requestAuth: (csrf: cannot be blank.).); url: cannot be blank.".into(),
        ),
        (
            "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
            json!({"in": {"name": "0template", "description": "d".repeat(129),
                "applicationInput": {"name": "app", "providerName": "p", "description": "{{x}}"},
                "placeholders": [{"name": " "}, {"name": "x", "description": "d".repeat(129)}],
                "accessLevel": "GLOBAL"}}),
            "validation error for type ApplicationTemplateInput: Description: the length must be no more than 128; Name: cannot start with digit; Placeholders: (0: (name: cannot be blank.); 1: (description: the length must be no more than 128.).).".into(),
        ),
        (
            "mutation($in: ApplicationFromTemplateInput!) { registerApplicationFromTemplate(in: $in) { id } }",
            json!({"in": {"templateName": "", "values": [
                {"placeholder": "a", "value": "1"}, {"placeholder": "", "value": "2"},
                {"placeholder": "a", "value": "3"}]}}),
            "validation error for type ApplicationFromTemplateInput: TemplateName: cannot be blank; Values: (1: (placeholder: cannot be blank.).); rule.UniquePlaceholders: placeholder [name=a] not unique.".into(),
        ),
    ];
    for (query, variables, expected) in cases {
        assert_eq!(
            app.gql_error("VALIDATION_ERROR", query, variables.clone())
                .await,
            expected,
            "{variables}"
        );
    }

    // Nothing was stored by any of them.
    let data = app
        .gql(
            "query($a: ID!) { applications { totalCount } runtimes { totalCount }
               integrationSystems { totalCount } applicationTemplates { totalCount }
               application(id: $a) { webhooks { id } apiDefinitions { totalCount }
                                     documents { totalCount } } }",
            json!({"a": app_id}),
        )
        .await;
    assert_eq!(
        data,
        json!({"applications": {"totalCount": 1}, "runtimes": {"totalCount": 0},
               "integrationSystems": {"totalCount": 0}, "applicationTemplates": {"totalCount": 0},
               "application": {"webhooks": [], "apiDefinitions": {"totalCount": 0},
                               "documents": {"totalCount": 0}}})
    );
}

async fn label_input_errors_name_the_key_and_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("labelled", json!({"env": "prod"})).await;
    const SET: &str = "mutation($a: ID!, $k: String!, $v: Any!) { setApplicationLabel(applicationID: $a, key: $k, value: $v) { key } }";

    // Control characters in a key or value: a validation error on both backends (PostgreSQL
    // cannot store a NUL), and nothing changes.
    for (key, value, prefix) in [
        (
            "a\u{0}b",
            json!("x"),
            "validation error for type LabelInput: key: label key \"a\\0b\" ",
        ),
        (
            "bell\u{7}",
            json!("x"),
            "validation error for type LabelInput: key: label key \"bell\\u{7}\" ",
        ),
        (
            "env",
            json!("pr\u{0}od"),
            "validation error for type LabelInput: value: value of label \"env\" ",
        ),
        (
            "env",
            json!({"k\u{0}": 1}),
            "validation error for type LabelInput: value: value of label \"env\" ",
        ),
        (
            "env",
            json!(["a", "\u{1b}[31m"]),
            "validation error for type LabelInput: value: value of label \"env\" ",
        ),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                SET,
                json!({"a": id, "k": key, "v": value}),
            )
            .await;
        assert!(message.starts_with(prefix), "{key:?} {value}: {message}");
        assert!(
            message.ends_with("cannot contain not printable characters."),
            "{message}"
        );
    }
    // Other inputs refuse them the same way.
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": "rt", "labels": {"k": "a\u{0}"}}}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type RuntimeInput: labels: (k: cannot contain not printable characters.)."
    );
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }",
            json!({"in": {"key": "k\u{0}"}}),
        )
        .await;
    assert_eq!(
        message,
        "validation error for type LabelDefinitionInput: key: cannot contain not printable characters."
    );
    for filter in [
        json!({"key": "k\u{0}"}),
        json!({"key": "env", "query": "\"p\\u0000\""}),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                "query($f: [LabelFilter!]) { applications(filter: $f) { totalCount } }",
                json!({"f": [filter]}),
            )
            .await;
        assert!(
            message.starts_with("validation error for type LabelFilter: "),
            "{filter}: {message}"
        );
    }

    // A value against its definition's schema: says so, names the key and the schema.
    app.gql(
        "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }",
        json!({"in": {"key": "size", "schema": "{\"type\":\"integer\"}"}}),
    )
    .await;
    let message = app
        .gql_error(
            "VALIDATION_ERROR",
            SET,
            json!({"a": id, "k": "size", "v": "big"}),
        )
        .await;
    assert!(
        message.starts_with(
            "validation error for type LabelInput: value: while validating Label value for 'size': the value does not match the JSON schema of label definition \"size\" ({\"type\":\"integer\"}): "
        ),
        "{message}"
    );

    let labels = app
        .gql(
            "query($a: ID!) { application(id: $a) { labels } }",
            json!({"a": id}),
        )
        .await;
    assert_eq!(labels["application"]["labels"]["env"], "prod");
    assert!(labels["application"]["labels"].get("size").is_none());
    assert!(labels["application"]["labels"].get("a\u{0}b").is_none());
}

async fn reserved_label_keys_are_refused_for_non_users_in_any_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("own", json!({})).await;
    let token = client_token(&app, "Application", &id).await;
    const SET: &str = "mutation($a: ID!, $k: String!) { setApplicationLabel(applicationID: $a, key: $k, value: [\"DEFAULT\"]) { key } }";
    for key in [
        "scenarios",
        "Scenarios",
        "SCENARIOS",
        " scenarios",
        "scenarios ",
        "integration-system-id",
        "Integration-System-Id",
    ] {
        let body = app.gql_as(&token, SET, json!({"a": id, "k": key})).await;
        let message = assert_error_code(&body, "FORBIDDEN");
        assert!(message.starts_with("forbidden: "), "{key:?}: {message}");
    }
    // An ordinary key is the application's to set, and a user may set any of them.
    let body = app.gql_as(&token, SET, json!({"a": id, "k": "team"})).await;
    assert!(body.get("errors").is_none(), "{body}");
    app.gql(SET, json!({"a": id, "k": "Scenarios"})).await;
    let labels = app
        .gql(
            "query($a: ID!) { application(id: $a) { labels } }",
            json!({"a": id}),
        )
        .await;
    let labels = &labels["application"]["labels"];
    assert_eq!(labels["scenarios"], json!(["DEFAULT"]));
    assert_eq!(labels["Scenarios"], json!(["DEFAULT"]));
    assert!(labels.get(" scenarios").is_none());
}

/// Client credentials for an application or runtime and an access token for them.
pub(crate) async fn client_token(app: &TestApp, kind: &str, id: &str) -> String {
    let data = app
        .gql(
            &format!(
                "mutation($id: ID!) {{ r: requestClientCredentialsFor{kind}(id: $id) {{
                   auth {{ credential {{ ... on OAuthCredentialData {{ clientId clientSecret }} }} }} }} }}"
            ),
            json!({"id": id}),
        )
        .await;
    let credential = &data["r"]["auth"]["credential"];
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(
            credential["clientId"].as_str().unwrap(),
            credential["clientSecret"].as_str(),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn scenarios_definition_takes_compass_meta_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    const CREATE: &str =
        "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key schema } }";
    const UPDATE: &str =
        "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key schema } }";
    // The issue's client: items with only type and enum.
    let minimal = json!({"type": "array", "minItems": 1, "uniqueItems": true,
                         "items": {"type": "string", "enum": ["DEFAULT", "X"]}});
    app.gql(
        CREATE,
        json!({"in": {"key": "scenarios", "schema": minimal.to_string()}}),
    )
    .await;
    let id = app.register_app("in-x", json!({"scenarios": ["X"]})).await;
    assert!(!id.is_empty());
    // maxLength (and pattern, which `define_scenarios` of the other tests gives), when
    // given, are Compass's.
    let full = json!({"type": "array", "minItems": 1, "uniqueItems": true,
                      "items": {"type": "string", "enum": ["DEFAULT", "X", "Y"], "maxLength": 128}});
    app.gql(
        UPDATE,
        json!({"in": {"key": "scenarios", "schema": full.to_string()}}),
    )
    .await;
    for bad in [
        json!({"type": "array", "minItems": 1, "uniqueItems": true,
               "items": {"type": "string", "enum": ["DEFAULT", "X"], "maxLength": 64}}),
        json!({"type": "array", "minItems": 1, "uniqueItems": true,
               "items": {"type": "string", "enum": ["DEFAULT", "X"], "pattern": "^.*$"}}),
        json!({"type": "array", "minItems": 1, "uniqueItems": true,
               "items": {"type": "string", "enum": ["X"]}}),
        json!({"type": "array", "minItems": 1, "uniqueItems": true,
               "items": {"type": "string", "enum": ["DEFAULT", "X"], "format": "email"}}),
    ] {
        let message = app
            .gql_error(
                "VALIDATION_ERROR",
                UPDATE,
                json!({"in": {"key": "scenarios", "schema": bad.to_string()}}),
            )
            .await;
        assert!(
            message.starts_with("validation error for type LabelDefinitionInput: schema: "),
            "{bad}: {message}"
        );
    }
    let definition = app
        .gql(
            r#"{ labelDefinition(key: "scenarios") { schema } }"#,
            json!({}),
        )
        .await;
    let stored: Value =
        serde_json::from_str(definition["labelDefinition"]["schema"].as_str().unwrap()).unwrap();
    assert_eq!(stored, full);
}

async fn page_info_as_compass_filled_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..3 {
        app.register_runtime(&format!("rt-{i}"), json!({})).await;
    }
    const QUERY: &str = "query($after: PageCursor) { runtimes(first: 2, after: $after) {
        data { id } pageInfo { startCursor endCursor hasNextPage } totalCount } }";
    let first = app.gql(QUERY, json!({"after": null})).await["runtimes"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["pageInfo"]["startCursor"], "");
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let end = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    assert!(!end.is_empty());
    let last = app.gql(QUERY, json!({"after": end})).await["runtimes"].clone();
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        last["pageInfo"],
        json!({"startCursor": end, "endCursor": "", "hasNextPage": false})
    );
    // An empty list: empty cursors.
    let empty = app
        .gql(
            "{ integrationSystems { pageInfo { startCursor endCursor hasNextPage } totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        empty["integrationSystems"]["pageInfo"],
        json!({"startCursor": "", "endCursor": "", "hasNextPage": false})
    );
}

async fn template_application_input_is_compass_graphql_literal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Compass's e2e template test: description `test {{new-placeholder}}`.
    let data = app
        .gql(
            "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) {
               id name applicationInput placeholders { name description } accessLevel } }",
            json!({"in": {
                "name": "template",
                "description": "a template",
                "applicationInput": {
                    "name": "app-from-template",
                    "providerName": "compass",
                    "description": "test {{new-placeholder}}",
                    "labels": {"scenarios": ["DEFAULT"]},
                    "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "https://hooks.example.com/compass"}],
                    "healthCheckURL": "https://health.example.com"
                },
                "placeholders": [{"name": "new-placeholder", "description": "a value"}],
                "accessLevel": "GLOBAL"
            }}),
        )
        .await;
    let template = &data["createApplicationTemplate"];
    let expected = "{\n\t\tname: \"app-from-template\",\n\t\tproviderName: \"compass\",\n\t\tdescription: \"test {{new-placeholder}}\",\n\t\tlabels: {\n\t\t\tscenarios: [\"DEFAULT\" ],\n\t},\n\t\twebhooks: [ {\n\t\ttype: CONFIGURATION_CHANGED,\n\t\turl: \"https://hooks.example.com/compass\",\n\n\t} ],\n\t\thealthCheckURL: \"https://health.example.com\",\n\t}";
    assert_eq!(template["applicationInput"], expected);
    let read = app
        .gql(
            "query($id: ID!) { applicationTemplate(id: $id) { applicationInput }
               applicationTemplates { data { applicationInput } } }",
            json!({"id": template["id"]}),
        )
        .await;
    assert_eq!(read["applicationTemplate"]["applicationInput"], expected);
    assert_eq!(
        read["applicationTemplates"]["data"][0]["applicationInput"],
        expected
    );

    // Registering from it keeps working.
    let registered = app
        .gql(
            "mutation($in: ApplicationFromTemplateInput!) { registerApplicationFromTemplate(in: $in) {
               name description healthCheckURL webhooks { url } } }",
            json!({"in": {"templateName": "template",
                          "values": [{"placeholder": "new-placeholder", "value": "new-value"}]}}),
        )
        .await;
    assert_eq!(
        registered["registerApplicationFromTemplate"],
        json!({"name": "app-from-template", "description": "test new-value",
               "healthCheckURL": "https://health.example.com",
               "webhooks": [{"url": "https://hooks.example.com/compass"}]})
    );
}

async fn health_checks_answer_an_empty_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.register_app("checked", json!({})).await;
    let page = json!({"data": [], "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": false}, "totalCount": 0});
    let data = app
        .gql(
            "query($id: ID!) {
               healthChecks(types: [MANAGEMENT_PLANE_APPLICATION_HEALTHCHECK], origin: $id) {
                 data { type condition origin message timestamp }
                 pageInfo { startCursor endCursor hasNextPage } totalCount }
               application(id: $id) { healthChecks {
                 data { type } pageInfo { startCursor endCursor hasNextPage } totalCount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["healthChecks"], page);
    assert_eq!(data["application"]["healthChecks"]["totalCount"], 0);
    // The page arguments are checked as everywhere, and the scope is required.
    let message = app
        .gql_error(
            "INVALID_DATA",
            "{ healthChecks(first: 0) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(message.contains("page size"), "{message}");
    let scopes: Vec<&str> = ALL_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "health_checks:read")
        .collect();
    let token = app.token(&[sextant_domain::TenantId::DEFAULT], &scopes);
    let body = app
        .gql_as(&token, "{ healthChecks { totalCount } }", json!({}))
        .await;
    assert!(
        assert_error_code(&body, "INSUFFICIENT_SCOPES").starts_with("insufficient scopes provided"),
        "{body}"
    );
}

crate::on_both_backends!(
    compass_full_application_query_at_default_page_sizes,
    compass_example_registers_an_application_with_apis,
    urls_compass_accepted_are_accepted_and_stored_as_given,
    validation_errors_read_as_compass,
    validation_reports_every_invalid_field_as_compass,
    label_input_errors_name_the_key_and_schema,
    reserved_label_keys_are_refused_for_non_users_in_any_case,
    scenarios_definition_takes_compass_meta_schema,
    page_info_as_compass_filled_it,
    template_application_input_is_compass_graphql_literal,
    health_checks_answer_an_empty_page,
);
