//! `TestApp`: the shared test server (`sextant-test-server`: port 0, its own data directory
//! and database, a client that trusts its CA) with the Director helpers these tests use.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use serde_json::{Value, json};
use sextant_domain::TenantId;
pub use sextant_test_server::Backend;
use sextant_test_server::{Setup, TestServer, loopback_config};
pub use sextant_test_support::assert_error_code;

/// Every scope the Director checks.
pub const ALL_SCOPES: &[&str] = &[
    "application:read",
    "application:write",
    "application_template:read",
    "application_template:write",
    "integration_system:read",
    "integration_system:write",
    "runtime:read",
    "runtime:write",
    "label_definition:read",
    "label_definition:write",
    "eventing:manage",
    "health_checks:read",
];

/// A server started by the shared harness, with the Director helpers these tests use.
pub struct TestApp(TestServer);

impl Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut TestServer {
        &mut self.0
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp(TestServer::start(backend).await)
    }

    /// A server with these options (the notifier's schedule, for instance).
    pub async fn spawn_with(backend: Backend, options: sextant_server::ServerOptions) -> TestApp {
        let setup = Setup {
            options,
            ..Setup::default()
        };
        TestApp(TestServer::start_with(backend, setup).await)
    }

    /// A server that writes agent sightings only when it stops: every statement counted
    /// while it runs is a request's.
    pub async fn spawn_without_sighting_flushes(backend: Backend) -> TestApp {
        TestApp::spawn_with(
            backend,
            sextant_server::ServerOptions {
                agent_flush_interval: Some(std::time::Duration::from_secs(3600)),
                ..sextant_server::ServerOptions::default()
            },
        )
        .await
    }

    /// A server started with this setup (options and certificate validity).
    pub async fn spawn_setup(backend: Backend, setup: Setup) -> TestApp {
        TestApp(TestServer::start_with(backend, setup).await)
    }

    /// A second server on the same PostgreSQL database with a copy of this one's data
    /// directory (its CA and keys), as replicas are run.
    pub async fn start_replica(&self) -> sextant_server::RunningServer {
        self.start_replica_with(sextant_server::ServerOptions::default())
            .await
    }

    /// [`TestApp::start_replica`] with these options.
    pub async fn start_replica_with(
        &self,
        options: sextant_server::ServerOptions,
    ) -> sextant_server::RunningServer {
        let dir = self.db.dir.join("replica");
        std::fs::create_dir_all(&dir).unwrap();
        for file in std::fs::read_dir(&self.server().data_dir).unwrap() {
            let file = file.unwrap();
            if file.file_type().unwrap().is_file() {
                std::fs::copy(file.path(), dir.join(file.file_name())).unwrap();
            }
        }
        sextant_server::start_with(
            loopback_config(
                &dir,
                Some(self.db.url.clone()),
                (0, 0),
                sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
            ),
            options,
        )
        .await
        .unwrap()
    }

    /// A token signed with the server's key, as `sextant admin token` makes them.
    pub fn token(&self, tenants: &[TenantId], scopes: &[&str]) -> String {
        let issuer = sextant_server::load_issuer(&self.server().data_dir).unwrap();
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        issuer
            .issue("tester", tenants, &scopes, Duration::from_secs(3600))
            .unwrap()
    }

    /// A token for a new random tenant with every scope, and that tenant.
    pub fn other_tenant(&self) -> (TenantId, String) {
        let tenant = TenantId(uuid::Uuid::new_v4());
        (tenant, self.token(&[tenant], ALL_SCOPES))
    }

    /// POSTs a GraphQL request with a token (and optional Tenant header).
    pub async fn post(
        &self,
        token: Option<&str>,
        tenant_header: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/director/graphql", self.base))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(tenant) = tenant_header {
            request = request.header("Tenant", tenant);
        }
        request.send().await.unwrap()
    }

    /// Runs a GraphQL request as `token` and returns the whole response body (data and errors).
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.post(Some(token), None, query, variables).await;
        assert_eq!(response.status(), 200, "GraphQL over HTTP answers 200");
        response.json().await.unwrap()
    }

    /// Runs a GraphQL request as the administrator and returns `data`, failing on errors.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let body = self.gql_as(&self.admin_token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a GraphQL request as the administrator that must fail; returns the first message.
    pub async fn gql_err(&self, query: &str, variables: Value) -> String {
        error_of(&self.gql_as(&self.admin_token, query, variables).await)
    }

    /// Runs a GraphQL request as the administrator that must fail with `code`, the error
    /// code a client branches on (`extensions.code`); returns the first message.
    pub async fn gql_error(&self, code: &str, query: &str, variables: Value) -> String {
        self.gql_error_as(code, &self.admin_token, query, variables)
            .await
    }

    /// Runs a GraphQL request as `token` that must fail with `code`; returns the first
    /// message.
    pub async fn gql_error_as(
        &self,
        code: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> String {
        assert_error_code(&self.gql_as(token, query, variables).await, code)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Waits until the notifier has expanded every recorded webhook fan-out into deliveries.
    pub async fn expanded_outbox(&self) {
        let store = self.server().store.clone();
        for _ in 0..3000 {
            let mut tx = store.read().await.unwrap();
            if !tx.has_pending_fan_outs().await.unwrap() {
                return;
            }
            drop(tx);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the notifier did not expand the recorded fan-outs in 30 s");
    }

    /// SQL statements the server's store has run so far.
    pub fn statements(&self) -> u64 {
        self.server().store.statements().get()
    }

    /// Registers an application with labels and returns its id.
    pub async fn register_app(&self, name: &str, labels: Value) -> String {
        let data = self
            .gql(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": name, "providerName": "acme", "labels": labels}}),
            )
            .await;
        data["registerApplication"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Registers a runtime with labels and returns its id.
    pub async fn register_runtime(&self, name: &str, labels: Value) -> String {
        let data = self
            .gql(
                "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
                json!({"in": {"name": name, "labels": labels}}),
            )
            .await;
        data["registerRuntime"]["id"].as_str().unwrap().to_owned()
    }

    /// Extends the tenant's scenarios with more values (keeping DEFAULT).
    pub async fn define_scenarios(&self, scenarios: &[&str]) {
        let mut all = vec!["DEFAULT"];
        all.extend_from_slice(scenarios);
        let schema = json!({
            "type": "array", "minItems": 1, "uniqueItems": true,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9\\s]*[A-Za-z0-9])$",
                      "enum": all, "maxLength": 128}
        });
        // The definition exists once anything was registered; create it otherwise.
        let exists = self
            .gql(
                r#"{ labelDefinition(key: "scenarios") { key } }"#,
                json!({}),
            )
            .await["labelDefinition"]
            .is_object();
        let mutation = if exists {
            "updateLabelDefinition"
        } else {
            "createLabelDefinition"
        };
        self.gql(
            &format!("mutation($in: LabelDefinitionInput!) {{ {mutation}(in: $in) {{ key }} }}"),
            json!({"in": {"key": "scenarios", "schema": schema.to_string()}}),
        )
        .await;
    }
}

/// The first error message of a GraphQL response; fails if there is none.
pub fn error_of(body: &Value) -> String {
    sextant_test_support::error_message(body)
}

// --- the catalog ---

/// A minimal valid OpenAPI 3.0 document in YAML.
pub const OPENAPI_YAML: &str =
    "openapi: 3.0.0\ninfo:\n  title: Pets\n  version: 1.0.0\npaths: {}\n";

/// A minimal valid AsyncAPI 2.0 document in YAML.
pub const ASYNCAPI_YAML: &str =
    "asyncapi: 2.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\nchannels: {}\n";

/// Named fragments selecting every field of an `Auth` (`...AuthFields`); append them to a
/// document that uses `...AuthFields`.
pub const AUTH_FRAGMENTS: &str = "
fragment CredentialFields on CredentialData {
  ... on BasicCredentialData { username password }
  ... on OAuthCredentialData { clientId clientSecret url }
}
fragment AuthFields on Auth {
  credential { ...CredentialFields }
  additionalHeaders
  additionalQueryParams
  requestAuth { csrf { tokenEndpointURL credential { ...CredentialFields }
                       additionalHeaders additionalQueryParams } }
}";

/// What `...CredentialFields` answers for a `CredentialDataInput`.
pub fn expected_credential(input: &Value) -> Value {
    if input["basic"].is_null() {
        input["oauth"].clone()
    } else {
        input["basic"].clone()
    }
}

/// What `...AuthFields` answers for an `AuthInput` (null for null).
pub fn expected_auth(input: &Value) -> Value {
    if input.is_null() {
        return Value::Null;
    }
    let csrf = &input["requestAuth"]["csrf"];
    let request_auth = if csrf.is_null() {
        Value::Null
    } else {
        json!({"csrf": {
            "tokenEndpointURL": csrf["tokenEndpointURL"],
            "credential": expected_credential(&csrf["credential"]),
            "additionalHeaders": csrf["additionalHeaders"],
            "additionalQueryParams": csrf["additionalQueryParams"],
        }})
    };
    json!({
        "credential": expected_credential(&input["credential"]),
        "additionalHeaders": input["additionalHeaders"],
        "additionalQueryParams": input["additionalQueryParams"],
        "requestAuth": request_auth,
    })
}

/// An `AuthInput` with basic credentials.
pub fn basic_auth(username: &str, password: &str) -> Value {
    json!({"credential": {"basic": {"username": username, "password": password}}})
}

/// An `APIDefinitionInput` with an inline OpenAPI spec.
pub fn api_input(name: &str) -> Value {
    json!({
        "name": name,
        "targetURL": "https://api.example.com/v1",
        "spec": {"data": OPENAPI_YAML, "type": "OPEN_API", "format": "YAML"},
    })
}

/// An `EventDefinitionInput` with an inline AsyncAPI spec.
pub fn event_input(name: &str) -> Value {
    json!({
        "name": name,
        "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"},
    })
}

impl TestApp {
    /// Adds an API definition to an application and returns its id.
    pub async fn add_api(&self, app_id: &str, input: Value) -> String {
        self.gql(
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": input}),
        )
        .await["addAPIDefinition"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Adds an event definition to an application and returns its id.
    pub async fn add_event(&self, app_id: &str, input: Value) -> String {
        self.gql(
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app_id, "in": input}),
        )
        .await["addEventDefinition"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
