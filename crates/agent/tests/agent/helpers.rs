//! A real server on loopback (its own data directory and database), a seeded scenario, and
//! agents run in-process against it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_agent::{Agent, AgentConfig, AgentError, AgentHandle, AgentStatus, BootstrapConfig};
use sextant_domain::runtime_config::RuntimeConfiguration;
pub use sextant_test_server::Backend;
pub use sextant_test_server::{ASYNCAPI_YAML, OPENAPI_YAML, Setup, TestServer};
pub use sextant_test_support::eventually;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The server's default tenant.
pub const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
pub const EVENTS_URL: &str = "https://gateway.rt.local";
pub const CONSOLE_URL: &str = "https://console.rt.local";

/// What these tests add to the shared test server (`sextant-test-server`).
#[allow(async_fn_in_trait)]
pub trait AgentServer {
    /// Scenario SHOP: a runtime in it and application `shop` in it with an API (OpenAPI
    /// spec) and an event definition (AsyncAPI spec), plus an application `other` outside.
    /// Answers (runtime id, shop id).
    async fn seed(&self) -> (String, String);

    /// Adds an API definition with an OpenAPI spec to an application.
    async fn add_api(&self, app: &str, name: &str, spec: &str) -> String;

    /// A one-time token pairing the runtime.
    async fn runtime_token(&self, runtime: &str) -> String;

    /// The bootstrap file a provisioner would write for this runtime.
    fn bootstrap(&self, runtime: &str, token: Option<&str>) -> BootstrapConfig;

    /// An agent configuration with labels and a state directory of its own.
    fn agent_config(&self, runtime: &str, token: Option<&str>, state_dir: &Path) -> AgentConfig;

    fn state_dir(&self) -> PathBuf;

    /// The runtime's labels and status (condition, message).
    async fn runtime(&self, runtime: &str) -> Value;
}

impl AgentServer for TestServer {
    async fn seed(&self) -> (String, String) {
        self.define_scenarios(&["DEFAULT", "SHOP"]).await;
        let runtime = self
            .director(
                "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
                json!({"in": {"name": "rt", "labels": {"scenarios": ["SHOP"]}}}),
            )
            .await["registerRuntime"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let register_app = |name: &'static str, scenario: &'static str| async move {
            self.director(
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
        self.director(
            "mutation($app: ID!, $in: EventDefinitionInput!) { addEventDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": shop, "in": {"name": "order-created",
                   "spec": {"data": ASYNCAPI_YAML, "type": "ASYNC_API", "format": "YAML"}}}),
        )
        .await;
        (runtime, shop)
    }

    async fn add_api(&self, app: &str, name: &str, spec: &str) -> String {
        self.director(
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app, "in": {"name": name, "targetURL": "https://api.example.com/v1",
                   "spec": {"data": spec, "type": "OPEN_API", "format": "YAML"}}}),
        )
        .await["addAPIDefinition"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn runtime_token(&self, runtime: &str) -> String {
        self.director(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn bootstrap(&self, runtime: &str, token: Option<&str>) -> BootstrapConfig {
        let text = format!(
            "# agent bootstrap\nCONNECTOR_URL={}/connector/graphql\nTOKEN={}\nRUNTIME_ID={runtime}\nTENANT={TENANT}\nCA_CERT_FILE={}\n",
            self.base,
            token.unwrap_or(""),
            self.ca_path().display()
        );
        let path = self
            .db
            .dir
            .join(format!("agent-{}.env", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        BootstrapConfig::from_env_file(&path).unwrap()
    }

    fn agent_config(&self, runtime: &str, token: Option<&str>, state_dir: &Path) -> AgentConfig {
        let mut config = AgentConfig::new(self.bootstrap(runtime, token), state_dir);
        config.event_service_url = Some(EVENTS_URL.into());
        config.console_url = Some(CONSOLE_URL.into());
        config
    }

    fn state_dir(&self) -> PathBuf {
        self.db.dir.join("agent-state")
    }

    async fn runtime(&self, runtime: &str) -> Value {
        self.director(
            "query($id: ID!) { runtime(id: $id) { labels status { condition message } } }",
            json!({"id": runtime}),
        )
        .await["runtime"]
            .clone()
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

/// The JSON of a file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
