//! A real server on loopback, a seeded scenario, and paired applications.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_app::{AppClient, PairOptions};
pub use sextant_test_support::Backend;
use sextant_test_support::TestDatabase;

pub const OPENAPI_YAML: &str =
    "openapi: 3.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\npaths: {}\n";
pub const ASYNCAPI_YAML: &str =
    "asyncapi: 2.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\nchannels: {}\n";

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

pub struct TestServer {
    pub server: Option<sextant_server::RunningServer>,
    pub data_dir: PathBuf,
    pub main_port: u16,
    pub admin: reqwest::Client,
    pub admin_token: String,
    // Dropped last.
    pub db: TestDatabase,
}

fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    std::env::var("TEST_LOG").unwrap_or_else(|_| "info".into()),
                ))
                .with_test_writer()
                .try_init();
        }
    });
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> TestServer {
        TestServer::spawn_with(backend, sextant_server::DEFAULT_CERTIFICATE_VALIDITY).await
    }

    /// A server issuing client certificates valid for `certificate_validity`.
    pub async fn spawn_with(backend: Backend, certificate_validity: Duration) -> TestServer {
        init_tracing();
        let db = TestDatabase::create(backend).await;
        let data_dir = db.dir.join("data");
        let server = sextant_server::start(sextant_server::ServerConfig {
            data_dir: data_dir.clone(),
            database_url: match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(db.url.clone()),
            },
            listen: "127.0.0.1:0".parse().unwrap(),
            mtls_listen: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
            fetch_allow_private: true,
            // No test or benchmark reaches beyond loopback, not even with a DNS lookup.
            fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
            token_lifetimes: sextant_server::TokenLifetimes::default(),
            certificate_validity,
        })
        .await
        .expect("server starts");
        let admin_token = std::fs::read_to_string(&server.admin_token_path)
            .unwrap()
            .trim()
            .to_owned();
        let admin = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(
                &std::fs::read(data_dir.join("ca.crt")).unwrap(),
            )
            .unwrap()])
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestServer {
            main_port: server.main_addr.port(),
            server: Some(server),
            admin,
            data_dir,
            admin_token,
            db,
        }
    }

    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.main_port)
    }

    pub fn connector_url(&self) -> String {
        format!("{}/connector/graphql", self.base())
    }

    /// Runs a GraphQL request as the administrator and answers `data`, failing on errors.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .admin
            .post(format!("{}/director/graphql", self.base()))
            .bearer_auth(&self.admin_token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {body} for {query}"
        );
        body["data"].clone()
    }

    /// Scenario SHOP with a runtime (labelled with `event_url` when given) and application
    /// `shop` in it. Answers (runtime id, shop id).
    pub async fn seed(&self, event_url: Option<&str>) -> (String, String) {
        let schema = json!({
            "type": "array", "minItems": 1, "uniqueItems": true,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9\\s]*[A-Za-z0-9])$",
                      "enum": ["DEFAULT", "SHOP"], "maxLength": 128}
        });
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
        let mut labels = json!({"scenarios": ["SHOP"]});
        if let Some(url) = event_url {
            labels["runtime/event_service_url"] = json!(url);
        }
        let runtime = self
            .gql(
                "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
                json!({"in": {"name": "rt", "labels": labels}}),
            )
            .await["registerRuntime"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let shop = self
            .gql(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": "shop", "providerName": "acme", "labels": {"scenarios": ["SHOP"]}}}),
            )
            .await["registerApplication"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (runtime, shop)
    }

    /// A one-time token for the application: (token, rawEncoded).
    pub async fn app_token(&self, app: &str) -> (String, String) {
        let data = self
            .gql(
                "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token rawEncoded } }",
                json!({"id": app}),
            )
            .await;
        let t = &data["requestOneTimeTokenForApplication"];
        (
            t["token"].as_str().unwrap().to_owned(),
            t["rawEncoded"].as_str().unwrap().to_owned(),
        )
    }

    /// Pair options for a raw token.
    pub fn raw_options(&self, token: &str) -> PairOptions {
        PairOptions {
            token: Some(token.to_owned()),
            connector_url: Some(self.connector_url()),
            ca_file: Some(self.data_dir.join("ca.crt")),
            renew_now: false,
        }
    }

    /// A fresh state directory.
    pub fn new_state_dir(&self) -> PathBuf {
        self.db
            .dir
            .join(format!("app-state-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Pairs the application in a fresh state directory.
    pub async fn paired(&self, app: &str) -> AppClient {
        let (token, _) = self.app_token(app).await;
        AppClient::pair(&self.new_state_dir(), self.raw_options(&token))
            .await
            .expect("pairs")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }
}

/// Polls `check` until it answers `Some` or `limit` passes.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON of a file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A file's permission bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
