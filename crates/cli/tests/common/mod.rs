//! What the end-to-end tests of the `sextant` binary share: a management plane in this
//! process whose Provisioner runs this crate's binary as runtimes' agents, GraphQL helpers,
//! a fake application API, polling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
pub use sextant_test_server::Backend;
use sextant_test_server::{Setup, TestDatabase, TestServer};
pub use sextant_test_support::eventually;

pub const BIN: &str = env!("CARGO_BIN_EXE_sextant");
pub const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
pub const OPENAPI: &str = "openapi: 3.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\npaths: {}\n";

/// How long a test waits for agents and operations to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// The shared test server (`sextant-test-server`) whose Provisioner runs this crate's binary
/// (or another program) as local runtimes' agents.
pub struct Plane(TestServer);

impl Deref for Plane {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl DerefMut for Plane {
    fn deref_mut(&mut self) -> &mut TestServer {
        &mut self.0
    }
}

impl Drop for Plane {
    /// Stops the server's Provisioner and every agent a failed test left behind (they run in
    /// process groups of their own and would outlive the test).
    fn drop(&mut self) {
        self.0.cancel();
        let needle = self.data_dir.to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if String::from_utf8_lossy(&cmdline).contains(&needle)
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

pub fn agent_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("agent.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    process_runs_in(pid, dir).then_some(pid)
}

/// Whether `pid` is a live (not zombie) process whose command line names `dir`.
pub fn process_runs_in(pid: i32, dir: &Path) -> bool {
    let (Ok(cmdline), Ok(stat)) = (
        std::fs::read(format!("/proc/{pid}/cmdline")),
        std::fs::read_to_string(format!("/proc/{pid}/stat")),
    ) else {
        return false;
    };
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy())
}

/// The options of a plane whose local runtimes run `agent_program` as their agent.
fn options(agent_program: &Path) -> sextant_server::ServerOptions {
    sextant_server::ServerOptions {
        agent_program: Some(agent_program.to_owned()),
        connect_timeout: Some(Duration::from_secs(60)),
        lease: Some(Duration::from_secs(2)),
        ..sextant_server::ServerOptions::default()
    }
}

impl Plane {
    pub async fn new(backend: Backend) -> Plane {
        Plane::running(backend, Path::new(BIN)).await
    }

    /// A plane whose local runtimes run `agent_program` as their agent.
    pub async fn running(backend: Backend, agent_program: &Path) -> Plane {
        let setup = Setup {
            options: options(agent_program),
            ..Setup::default()
        };
        Plane(TestServer::start_with(backend, setup).await)
    }

    /// A plane aimed at a server this process did not start.
    pub fn attach(
        backend: Backend,
        db: TestDatabase,
        data_dir: PathBuf,
        ports: (u16, u16),
        token: String,
    ) -> Plane {
        Plane(TestServer::attach(backend, db, data_dir, ports, token))
    }

    pub async fn provisioner_body(&self, query: &str, variables: Value) -> Value {
        self.graphql("/provisioner/graphql", &self.admin_token, query, variables)
            .await
    }

    pub async fn provisioner(&self, query: &str, variables: Value) -> Value {
        let body = self.provisioner_body(query, variables).await;
        assert!(body.get("errors").is_none(), "{body} for {query}");
        body["data"].clone()
    }

    /// A provisioner error's message (failing if there is none).
    pub async fn provisioner_error(&self, query: &str, variables: Value) -> String {
        let body = self.provisioner_body(query, variables).await;
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {body}"))
            .to_owned()
    }

    pub async fn operation(&self, id: &str) -> Value {
        self.provisioner(
            "query($id: String!) { runtimeOperationStatus(id: $id) { id operation state message runtimeID } }",
            json!({"id": id}),
        )
        .await["runtimeOperationStatus"]
            .clone()
    }

    /// Waits for an operation to end; answers it.
    pub async fn finished(&self, id: &str) -> Value {
        eventually(
            Duration::from_secs(90),
            &format!("operation {id} ends"),
            || async {
                let op = self.operation(id).await;
                (op["state"] != "InProgress").then_some(op)
            },
        )
        .await
    }

    pub async fn succeeded(&self, id: &str) -> Value {
        let op = self.finished(id).await;
        if op["state"] != "Succeeded" {
            // The agent's own account of why, kept before the test's directory goes: the
            // Provisioner's message is short on purpose.
            let log = op["runtimeID"]
                .as_str()
                .map(|runtime| self.runtime_dir(runtime).join("agent.log"))
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "operation did not succeed: {op}\nthe agent's log (last lines):\n{}",
                tail.join("\n")
            );
        }
        assert_eq!(op["message"], "Operation succeeded.");
        op
    }

    pub async fn runtime_status(&self, runtime: &str) -> Value {
        self.provisioner(
            "query($id: String!) { runtimeStatus(id: $id) {
                lastOperationStatus { operation state }
                runtimeConnectionStatus { status errors { message } }
                runtimeConfiguration { credentialsSecretName kymaConfig { version }
                  clusterConfig { __typename ... on LocalConfig { directory gatewayPort eventGatewayPort eventSink consoleURL eventServiceURL generation } } } } }",
            json!({"id": runtime}),
        )
        .await["runtimeStatus"]
            .clone()
    }

    /// The Director's view of a runtime: status condition and labels (None if it is gone).
    pub async fn director_runtime(&self, runtime: &str) -> Option<Value> {
        let data = self
            .director(
                "query($id: ID!) { runtime(id: $id) { id status { condition } labels } }",
                json!({"id": runtime}),
            )
            .await;
        (!data["runtime"].is_null()).then(|| data["runtime"].clone())
    }

    pub async fn provision(&self, name: &str, local: Value) -> (String, String) {
        let op = self
            .provisioner(
                "mutation($config: ProvisionRuntimeInput!) { provisionRuntime(config: $config) }",
                json!({"config": {
                    "runtimeInput": {"name": name, "labels": {"scenarios": ["DEFAULT"]}},
                    "clusterConfig": {"localConfig": local},
                    "credentials": {"secretName": "unused-locally"},
                    "kymaConfig": {"version": "1.8.0"}
                }}),
            )
            .await["provisionRuntime"]
            .as_str()
            .unwrap()
            .to_owned();
        let runtime = self.operation(&op).await["runtimeID"]
            .as_str()
            .unwrap()
            .to_owned();
        (op, runtime)
    }

    pub fn runtime_dir(&self, runtime: &str) -> PathBuf {
        self.data_dir.join("runtimes").join(runtime)
    }

    /// An mTLS client with the runtime agent's current key and certificate.
    pub fn agent_client(&self, runtime: &str) -> reqwest::Client {
        let state = self.runtime_dir(runtime).join("state");
        let mut pem = std::fs::read(state.join("key.pem")).unwrap();
        pem.extend(std::fs::read(state.join("client.crt")).unwrap());
        let ca = std::fs::read(self.ca_path()).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .identity(reqwest::Identity::from_pem(&pem).unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// Whether the management plane accepts the client for the runtime's configuration.
    pub async fn accepted(&self, client: &reqwest::Client) -> bool {
        match client
            .get(self.mtls_url("/runtime/configuration"))
            .send()
            .await
        {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        }
    }
}

/// The application's API: answers with the user of the basic credentials it was called with.
/// `GET /__hits` (beside the returned `/api`) answers how many calls it answered.
pub async fn fake_api() -> String {
    use axum::http::HeaderMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let handler = move |headers: HeaderMap| {
        counted.fetch_add(1, Ordering::SeqCst);
        answer(headers)
    };
    let count = move || async move { hits.load(Ordering::SeqCst).to_string() };
    async fn answer(headers: HeaderMap) -> (axum::http::StatusCode, String) {
        use base64::Engine as _;
        let user = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        match user.as_deref() {
            Some("app-user:app-pass") => (axum::http::StatusCode::OK, "default".into()),
            Some("runtime-user:runtime-pass") => (axum::http::StatusCode::OK, "runtime".into()),
            _ => (axum::http::StatusCode::UNAUTHORIZED, "no".into()),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::Router::new()
                .route("/__hits", axum::routing::get(count))
                .fallback(handler),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}/api")
}

/// Calls `/<app>/<api>/orders` through a runtime's application gateway.
pub async fn through_gateway(port: u16, app: &str, api: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/{app}/{api}/orders"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match response {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}
