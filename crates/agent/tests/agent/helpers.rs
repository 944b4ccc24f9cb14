//! A real server on loopback (its own data directory and database), a seeded scenario, and
//! agents run in-process against it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_agent::{Agent, AgentConfig, AgentError, AgentHandle, AgentStatus, BootstrapConfig};
use sextant_domain::runtime_config::RuntimeConfiguration;
pub use sextant_test_support::Backend;
use sextant_test_support::TestDatabase;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The server's default tenant.
pub const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
pub const EVENTS_URL: &str = "https://gateway.rt.local";
pub const CONSOLE_URL: &str = "https://console.rt.local";

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
    pub backend: Backend,
    pub data_dir: PathBuf,
    pub main_port: u16,
    pub mtls_port: u16,
    pub certificate_validity: Duration,
    pub admin: reqwest::Client,
    pub admin_token: String,
    // Dropped last: the database (and the directory holding everything) outlives the server.
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

async fn try_start(
    backend: Backend,
    db: &TestDatabase,
    data_dir: &Path,
    ports: (u16, u16),
    certificate_validity: Duration,
) -> Result<sextant_server::RunningServer, sextant_server::ServerError> {
    sextant_server::start(sextant_server::ServerConfig {
        data_dir: data_dir.to_owned(),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(db.url.clone()),
        },
        listen: format!("127.0.0.1:{}", ports.0).parse().unwrap(),
        mtls_listen: format!("127.0.0.1:{}", ports.1).parse().unwrap(),
        public_url: None,
        fetch_allow_private: true,
        // No test or benchmark reaches beyond loopback, not even with a DNS lookup.
        fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
        token_lifetimes: sextant_server::TokenLifetimes::default(),
        certificate_validity,
    })
    .await
}

/// A client trusting the data directory's CAs (current and previous).
fn admin_client(data_dir: &Path) -> reqwest::Client {
    let mut roots = Vec::new();
    for name in ["ca.crt", "ca-previous.crt"] {
        if let Ok(pem) = std::fs::read(data_dir.join(name)) {
            roots.push(reqwest::Certificate::from_pem(&pem).unwrap());
        }
    }
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
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
        let server = try_start(backend, &db, &data_dir, (0, 0), certificate_validity)
            .await
            .expect("server starts");
        let admin_token = std::fs::read_to_string(&server.admin_token_path)
            .unwrap()
            .trim()
            .to_owned();
        TestServer {
            main_port: server.main_addr.port(),
            mtls_port: server.mtls_addr.port(),
            server: Some(server),
            backend,
            admin: admin_client(&data_dir),
            data_dir,
            certificate_validity,
            admin_token,
            db,
        }
    }

    /// Stops the server (its ports close).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Starts the server again on the same ports, data directory and database.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "stop it first");
        let deadline = Instant::now() + Duration::from_secs(20);
        // The ports were just closed; binding them again may need a moment.
        let server = loop {
            match try_start(
                self.backend,
                &self.db,
                &self.data_dir,
                (self.main_port, self.mtls_port),
                self.certificate_validity,
            )
            .await
            {
                Ok(server) => break server,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("restarting the server: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the server does not start again: {e}"),
            }
        };
        assert_eq!(server.mtls_addr.port(), self.mtls_port);
        self.admin = admin_client(&self.data_dir);
        self.server = Some(server);
    }

    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.main_port)
    }

    pub fn mtls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.mtls_port)
    }

    /// Runs a GraphQL request as the administrator; answers the whole body.
    pub async fn gql_body(&self, query: &str, variables: Value) -> Value {
        self.admin
            .post(format!("{}/director/graphql", self.base()))
            .bearer_auth(&self.admin_token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Runs a GraphQL request as the administrator and answers `data`, failing on errors.
    /// (No retry: the tests cancel requests whenever an agent stops, which once left pooled
    /// PostgreSQL connections inside half-begun transactions; the store now begins
    /// transactions in a task of their own.)
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let body = self.gql_body(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {body} for {query}"
        );
        body["data"].clone()
    }

    /// Scenario SHOP: a runtime in it and application `shop` in it with an API (OpenAPI
    /// spec) and an event definition (AsyncAPI spec), plus an application `other` outside.
    /// Answers (runtime id, shop id).
    pub async fn seed(&self) -> (String, String) {
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
        let runtime = self
            .gql(
                "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
                json!({"in": {"name": "rt", "labels": {"scenarios": ["SHOP"]}}}),
            )
            .await["registerRuntime"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let register_app = |name: &'static str, scenario: &'static str| async move {
            self.gql(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": name, "providerName": "acme", "labels": {"scenarios": [scenario]}}}),
            )
            .await["registerApplication"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let shop = register_app("shop", "SHOP").await;
        register_app("other", "DEFAULT").await;
        self.add_api(&shop, "orders", OPENAPI_YAML).await;
        self.gql(
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": shop, "in": {"name": "order-created",
                   "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"}}}),
        )
        .await;
        (runtime, shop)
    }

    /// Adds an API definition with an OpenAPI spec to an application.
    pub async fn add_api(&self, app: &str, name: &str, spec: &str) -> String {
        self.gql(
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app, "in": {"name": name, "targetURL": "https://api.example.com/v1",
                   "spec": {"data": spec, "type": "OPEN_API", "format": "YAML"}}}),
        )
        .await["addAPIDefinition"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A one-time token pairing the runtime.
    pub async fn runtime_token(&self, runtime: &str) -> String {
        self.gql(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The bootstrap file a provisioner would write for this runtime.
    pub fn bootstrap(&self, runtime: &str, token: Option<&str>) -> BootstrapConfig {
        let text = format!(
            "# agent bootstrap\nCONNECTOR_URL={}/connector/graphql\nTOKEN={}\nRUNTIME_ID={runtime}\nTENANT={TENANT}\nCA_CERT_FILE={}\n",
            self.base(),
            token.unwrap_or(""),
            self.data_dir.join("ca.crt").display()
        );
        let path = self
            .db
            .dir
            .join(format!("agent-{}.env", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        BootstrapConfig::from_env_file(&path).unwrap()
    }

    /// An agent configuration with labels and a state directory of its own.
    pub fn agent_config(
        &self,
        runtime: &str,
        token: Option<&str>,
        state_dir: &Path,
    ) -> AgentConfig {
        let mut config = AgentConfig::new(self.bootstrap(runtime, token), state_dir);
        config.event_service_url = Some(EVENTS_URL.into());
        config.console_url = Some(CONSOLE_URL.into());
        config
    }

    pub fn state_dir(&self) -> PathBuf {
        self.db.dir.join("agent-state")
    }

    /// The runtime's labels and status (condition, message).
    pub async fn runtime(&self, runtime: &str) -> Value {
        self.gql(
            "query($id: ID!) { runtime(id: $id) { labels status { condition message } } }",
            json!({"id": runtime}),
        )
        .await["runtime"]
            .clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }
}

/// An agent running in a task of the test's runtime.
pub struct RunningAgent {
    pub handle: AgentHandle,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), AgentError>>,
}

impl RunningAgent {
    pub fn spawn(config: AgentConfig) -> RunningAgent {
        let agent = Agent::new(config).unwrap();
        let handle = agent.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(agent.run(shutdown.clone()));
        RunningAgent {
            handle,
            shutdown,
            task,
        }
    }

    /// Stops the agent; it must end without error.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the agent stops promptly")
            .unwrap();
        result.expect("the agent stops without an error");
    }

    /// Waits for the agent to end by itself (within `limit`) and answers its result.
    pub async fn ended(self, limit: Duration) -> Result<(), AgentError> {
        match tokio::time::timeout(limit, self.task).await {
            Ok(joined) => joined.unwrap(),
            Err(_) => {
                let status = self.handle.status().borrow().clone();
                self.shutdown.cancel();
                panic!("the agent did not stop within {limit:?}; status {status:?}")
            }
        }
    }

    pub fn status(&self) -> AgentStatus {
        self.handle.status().borrow().clone()
    }

    /// Waits until the status satisfies `ok`.
    pub async fn status_until(
        &self,
        limit: Duration,
        what: &str,
        ok: impl Fn(&AgentStatus) -> bool,
    ) -> AgentStatus {
        let mut rx = self.handle.status();
        let found = tokio::time::timeout(limit, rx.wait_for(|s| ok(s))).await;
        match found {
            Ok(Ok(status)) => status.clone(),
            _ => panic!("{what}: not within {limit:?}; status {:?}", self.status()),
        }
    }

    /// Waits until the applied configuration satisfies `ok`.
    pub async fn configuration_until(
        &self,
        limit: Duration,
        what: &str,
        ok: impl Fn(&RuntimeConfiguration) -> bool,
    ) -> Arc<RuntimeConfiguration> {
        let mut rx: watch::Receiver<Option<Arc<RuntimeConfiguration>>> =
            self.handle.configuration();
        let found =
            tokio::time::timeout(limit, rx.wait_for(|c| c.as_ref().is_some_and(|c| ok(c)))).await;
        match found {
            Ok(Ok(config)) => config.clone().unwrap(),
            _ => panic!(
                "{what}: not within {limit:?}; status {:?}, configuration {:?}",
                self.status(),
                self.handle
                    .configuration()
                    .borrow()
                    .as_ref()
                    .map(|c| c.applications.len())
            ),
        }
    }
}

/// The number of API definitions of all applications.
pub fn api_count(config: &RuntimeConfiguration) -> usize {
    config.applications.iter().map(|a| a.apis.len()).sum()
}

/// A client presenting the certificate of a state directory (as the agent stored it).
pub fn client_of_state(state_dir: &Path) -> reqwest::Client {
    let read = |name: &str| std::fs::read_to_string(state_dir.join(name)).unwrap();
    let identity = format!("{}{}", read("client.crt"), read("key.pem"));
    reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(read("ca.crt").as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
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
