//! `TestApp`: a server on port 0 with its own data directory and database, and a client that
//! trusts the server's CA.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_domain::TenantId;
pub use sextant_test_support::Backend;
use sextant_test_support::TestDatabase;

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

pub struct TestApp {
    pub server: Option<sextant_server::RunningServer>,
    pub base: String,
    pub client: reqwest::Client,
    /// The administrator token the server wrote into its data directory.
    pub admin_token: String,
    // Dropped last: the database outlives the server.
    pub db: TestDatabase,
}

/// Runs each listed async test function (taking a `Backend`) once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        init_tracing();
        let db = TestDatabase::create(backend).await;
        let data_dir = db.dir.join("data");
        let server = sextant_server::start(sextant_server::ServerConfig {
            data_dir: data_dir.clone(),
            database_url: match backend {
                // The default: the server puts SQLite into its data directory.
                Backend::Sqlite => None,
                Backend::Postgres => Some(db.url.clone()),
            },
            listen: "127.0.0.1:0".parse().unwrap(),
            mtls_listen: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
            fetch_allow_private: true,
        })
        .await
        .expect("server starts");
        let ca = std::fs::read(data_dir.join("ca.crt")).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let admin_token = std::fs::read_to_string(&server.admin_token_path)
            .unwrap()
            .trim()
            .to_owned();
        TestApp {
            base: format!("https://localhost:{}", server.main_addr.port()),
            server: Some(server),
            client,
            admin_token,
            db,
        }
    }

    pub fn server(&self) -> &sextant_server::RunningServer {
        self.server.as_ref().unwrap()
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

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
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

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }
}

/// The first error message of a GraphQL response; fails if there is none.
pub fn error_of(body: &Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {body}"))
        .to_owned()
}

fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .try_init();
        }
    });
}
