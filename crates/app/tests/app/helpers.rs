//! A real server on loopback, a seeded scenario, and paired applications.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sextant_app::{AppClient, PairOptions};
pub use sextant_test_server::Backend;
use sextant_test_server::{Setup, TestServer as Harness};
pub use sextant_test_support::eventually;

pub const OPENAPI_YAML: &str =
    "openapi: 3.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\npaths: {}\n";
pub const ASYNCAPI_YAML: &str =
    "asyncapi: 2.0.0\ninfo:\n  title: Orders\n  version: 1.0.0\nchannels: {}\n";

/// The shared test server (`sextant-test-server`) with the helpers these tests use.
pub struct TestServer(Harness);

impl Deref for TestServer {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.0
    }
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> TestServer {
        TestServer(Harness::start(backend).await)
    }

    /// A server issuing client certificates valid for `certificate_validity`.
    pub async fn spawn_with(backend: Backend, certificate_validity: Duration) -> TestServer {
        let setup = Setup {
            certificate_validity,
            ..Setup::default()
        };
        TestServer(Harness::start_with(backend, setup).await)
    }

    /// Runs a GraphQL request as the administrator and answers `data`, failing on errors.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.director(query, variables).await
    }

    /// Scenario SHOP with a runtime (labelled with `event_url` when given) and application
    /// `shop` in it. Answers (runtime id, shop id).
    pub async fn seed(&self, event_url: Option<&str>) -> (String, String) {
        self.define_scenarios(&["DEFAULT", "SHOP"]).await;
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
            ca_file: Some(self.ca_path()),
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

/// The JSON of a file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A file's permission bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
