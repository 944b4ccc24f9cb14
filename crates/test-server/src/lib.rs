//! The one way Sextant's integration tests start a server: the real `sextant-server` on
//! loopback port 0 with real TLS, on a fresh database of either backend (SQLite in its data
//! directory, or a database of its own on PostgreSQL), with a client that trusts its CA and
//! the administrator token it wrote. The server stops when the [`TestServer`] drops; the
//! database and the directory holding everything go after it.
//!
//! A crate of its own rather than a part of `sextant-test-support`: the store's tests use
//! the throwaway databases and must not have to build the server. The server's own
//! integration tests depend on this crate, which depends on the server's library: cargo
//! allows that cycle through a dev-dependency, and both sides see the same library (only
//! the server's unit tests could not use it, and they do not).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_server::{RunningServer, ServerConfig, ServerError, ServerOptions};
pub use sextant_test_support::Backend;
pub use sextant_test_support::TestDatabase;

/// How long a request of the test client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`TestServer::start_again`] keeps trying to bind the ports it just closed.
const REBIND_LIMIT: Duration = Duration::from_secs(20);

/// What a test may change about the server it starts.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The server's options (the notifier's schedule, limits, the agent program...).
    pub options: ServerOptions,
    /// How long the client certificates the Connector issues are valid.
    pub certificate_validity: Duration,
}

impl Setup {
    /// The default setup with client certificates valid for `certificate_validity`.
    pub fn issuing_for(certificate_validity: Duration) -> Setup {
        Setup {
            certificate_validity,
            ..Setup::default()
        }
    }
}

/// A small OpenAPI spec the tests register.
pub const OPENAPI_YAML: &str =
    "openapi: 3.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\npaths: {}\n";
/// A small AsyncAPI spec the tests register.
pub const ASYNCAPI_YAML: &str =
    "asyncapi: 2.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\nchannels: {}\n";

impl Default for Setup {
    fn default() -> Self {
        Setup {
            options: ServerOptions::default(),
            certificate_validity: sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
        }
    }
}

/// The configuration tests run a server with: both listeners on loopback at `ports` (0: any
/// free port), fetches allowed to loopback only, default token lifetimes.
pub fn loopback_config(
    data_dir: &Path,
    database_url: Option<String>,
    ports: (u16, u16),
    certificate_validity: Duration,
) -> ServerConfig {
    ServerConfig {
        data_dir: data_dir.to_owned(),
        database_url,
        listen: ([127, 0, 0, 1], ports.0).into(),
        mtls_listen: ([127, 0, 0, 1], ports.1).into(),
        public_url: None,
        fetch_allow_private: true,
        // No test or benchmark reaches beyond loopback, not even with a DNS lookup.
        fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
        token_lifetimes: sextant_server::TokenLifetimes::default(),
        certificate_validity,
    }
}

/// A running server on a database of its own.
pub struct TestServer {
    server: Option<RunningServer>,
    pub backend: Backend,
    /// The server's data directory (its CA, keys, administrator token, SQLite database).
    pub data_dir: PathBuf,
    /// `https://localhost:<main port>`.
    pub base: String,
    pub main_port: u16,
    pub mtls_port: u16,
    /// A client trusting the data directory's CAs (current and, after a rotation, previous).
    pub client: reqwest::Client,
    /// The administrator token the server wrote into its data directory.
    pub admin_token: String,
    setup: Setup,
    // Dropped last: the database (and the directory holding everything) outlives the server.
    pub db: TestDatabase,
}

impl TestServer {
    /// A server with the default setup.
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, Setup::default()).await
    }

    /// A server with this setup.
    pub async fn start_with(backend: Backend, setup: Setup) -> TestServer {
        init_tracing();
        let db = TestDatabase::create(backend).await;
        let data_dir = db.dir.join("data");
        let server = match try_start(backend, &db, &data_dir, (0, 0), &setup).await {
            Ok(server) => server,
            Err(e) => panic!("the server does not start: {e}"),
        };
        let admin_token = read_admin_token(&server);
        TestServer {
            backend,
            base: format!("https://localhost:{}", server.main_addr.port()),
            main_port: server.main_addr.port(),
            mtls_port: server.mtls_addr.port(),
            client: client_trusting(&data_dir),
            server: Some(server),
            data_dir,
            admin_token,
            setup,
            db,
        }
    }

    /// A handle on a server this process did not start (a `sextant server` child process,
    /// for instance) on a database and data directory the test made: the same helpers,
    /// nothing to stop.
    pub fn attach(
        backend: Backend,
        db: TestDatabase,
        data_dir: PathBuf,
        ports: (u16, u16),
        admin_token: String,
    ) -> TestServer {
        TestServer {
            server: None,
            backend,
            base: format!("https://localhost:{}", ports.0),
            main_port: ports.0,
            mtls_port: ports.1,
            client: client_trusting(&data_dir),
            data_dir,
            admin_token,
            setup: Setup::default(),
            db,
        }
    }

    /// The running server; fails if it was stopped.
    pub fn server(&self) -> &RunningServer {
        match &self.server {
            Some(server) => server,
            None => panic!("the server is stopped"),
        }
    }

    /// Asks the server to stop without waiting for it (as dropping the [`TestServer`] does).
    pub fn cancel(&self) {
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }

    /// Stops the server (its ports close); open requests may finish.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Starts the stopped server again on the same ports, data directory and database; the
    /// client then trusts the data directory's CAs as they are now.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "stop the server first");
        let deadline = Instant::now() + REBIND_LIMIT;
        // The ports were just closed; binding them again may need a moment.
        let server = loop {
            match try_start(
                self.backend,
                &self.db,
                &self.data_dir,
                (self.main_port, self.mtls_port),
                &self.setup,
            )
            .await
            {
                Ok(server) => break server,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("starting the server again: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the server does not start again: {e}"),
            }
        };
        assert_eq!(
            (server.main_addr.port(), server.mtls_addr.port()),
            (self.main_port, self.mtls_port),
            "the server started again on its ports"
        );
        self.client = client_trusting(&self.data_dir);
        self.server = Some(server);
    }

    /// Stops the server and starts it again (see [`TestServer::start_again`]).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// A URL on the main listener.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A URL on the mTLS listener.
    pub fn mtls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.mtls_port)
    }

    /// The Connector's GraphQL endpoint.
    pub fn connector_url(&self) -> String {
        self.url("/connector/graphql")
    }

    /// The file holding the server's CA certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.data_dir.join("ca.crt")
    }

    /// POSTs a GraphQL request to `path` with a bearer token; answers the whole body (data
    /// and errors).
    pub async fn graphql(&self, path: &str, token: &str, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => panic!("POST {path} fails: {e}"),
        };
        match response.json().await {
            Ok(body) => body,
            Err(e) => panic!("POST {path} answers no JSON: {e}"),
        }
    }

    /// A Director request as the administrator; answers the whole body.
    pub async fn director_body(&self, query: &str, variables: Value) -> Value {
        self.graphql("/director/graphql", &self.admin_token, query, variables)
            .await
    }

    /// A Director request as the administrator; answers `data`, failing on errors.
    pub async fn director(&self, query: &str, variables: Value) -> Value {
        let body = self.director_body(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {body} for {query}"
        );
        body["data"].clone()
    }

    /// Makes `scenarios` the tenant's allowed scenarios (the `scenarios` label definition,
    /// created or replaced), as an administrator does before labelling objects with them.
    pub async fn define_scenarios(&self, scenarios: &[&str]) {
        let schema = serde_json::json!({
            "type": "array", "minItems": 1, "uniqueItems": true,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9]([-_A-Za-z0-9\\s]*[A-Za-z0-9])$",
                      "enum": scenarios, "maxLength": 128}
        });
        let exists = self
            .director(
                r#"{ labelDefinition(key: "scenarios") { key } }"#,
                serde_json::json!({}),
            )
            .await["labelDefinition"]
            .is_object();
        let mutation = if exists {
            "updateLabelDefinition"
        } else {
            "createLabelDefinition"
        };
        self.director(
            &format!("mutation($in: LabelDefinitionInput!) {{ {mutation}(in: $in) {{ key }} }}"),
            serde_json::json!({"in": {"key": "scenarios", "schema": schema.to_string()}}),
        )
        .await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.cancel();
    }
}

async fn try_start(
    backend: Backend,
    db: &TestDatabase,
    data_dir: &Path,
    ports: (u16, u16),
    setup: &Setup,
) -> Result<RunningServer, ServerError> {
    let database_url = match backend {
        // The default: the server puts SQLite into its data directory.
        Backend::Sqlite => None,
        Backend::Postgres => Some(db.url.clone()),
    };
    sextant_server::start_with(
        loopback_config(data_dir, database_url, ports, setup.certificate_validity),
        setup.options.clone(),
    )
    .await
}

fn read_admin_token(server: &RunningServer) -> String {
    match std::fs::read_to_string(&server.admin_token_path) {
        Ok(token) => token.trim().to_owned(),
        Err(e) => panic!(
            "cannot read the admin token {}: {e}",
            server.admin_token_path.display()
        ),
    }
}

/// A client trusting the data directory's CAs (current and previous).
pub fn client_trusting(data_dir: &Path) -> reqwest::Client {
    let mut roots = Vec::new();
    for name in ["ca.crt", "ca-previous.crt"] {
        if let Ok(pem) = std::fs::read(data_dir.join(name)) {
            match reqwest::Certificate::from_pem(&pem) {
                Ok(root) => roots.push(root),
                Err(e) => panic!("{name} is no certificate: {e}"),
            }
        }
    }
    match reqwest::Client::builder()
        .tls_certs_only(roots)
        .timeout(CLIENT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(e) => panic!("cannot build the test client: {e}"),
    }
}

/// Logs to the test's output when `TEST_LOG` is set (to a filter such as `info` or
/// `sextant_server=debug`; `1` means `debug`).
fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let Some(filter) = std::env::var_os("TEST_LOG") else {
            return;
        };
        let filter = match filter.to_str() {
            Some("" | "1") | None => "debug".to_owned(),
            Some(filter) => filter.to_owned(),
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    });
}
