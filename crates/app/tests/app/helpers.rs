//! A real server on loopback, a seeded scenario, and paired applications.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sextant_app::{AppClient, PairOptions};
pub use sextant_test_server::Backend;
pub use sextant_test_server::{ASYNCAPI_YAML, OPENAPI_YAML, Setup, TestServer};
pub use sextant_test_support::eventually;

/// What these tests add to the shared test server (`sextant-test-server`).
#[allow(async_fn_in_trait)]
pub trait AppServer {
    /// Scenario SHOP with a runtime (labelled with `event_url` when given) and application
    /// `shop` in it. Answers (runtime id, shop id).
    async fn seed(&self, event_url: Option<&str>) -> (String, String);

    /// A one-time token for the application: (token, rawEncoded).
    async fn app_token(&self, app: &str) -> (String, String);

    /// Pair options for a raw token.
    fn raw_options(&self, token: &str) -> PairOptions;

    /// A fresh state directory.
    fn new_state_dir(&self) -> PathBuf;

    /// Pairs the application in a fresh state directory.
    async fn paired(&self, app: &str) -> AppClient;
}

impl AppServer for TestServer {
    async fn seed(&self, event_url: Option<&str>) -> (String, String) {
        self.define_scenarios(&["DEFAULT", "SHOP"]).await;
        let mut labels = json!({"scenarios": ["SHOP"]});
        if let Some(url) = event_url {
            labels["runtime/event_service_url"] = json!(url);
        }
        let runtime = self
            .director(
                "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
                json!({"in": {"name": "rt", "labels": labels}}),
            )
            .await["registerRuntime"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let shop = self
            .director(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": "shop", "providerName": "acme", "labels": {"scenarios": ["SHOP"]}}}),
            )
            .await["registerApplication"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (runtime, shop)
    }

    async fn app_token(&self, app: &str) -> (String, String) {
        let data = self
            .director(
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

    fn raw_options(&self, token: &str) -> PairOptions {
        PairOptions {
            token: Some(token.to_owned()),
            connector_url: Some(self.connector_url()),
            ca_file: Some(self.ca_path()),
            renew_now: false,
        }
    }

    fn new_state_dir(&self) -> PathBuf {
        self.db
            .dir
            .join(format!("app-state-{}", uuid::Uuid::new_v4().simple()))
    }

    async fn paired(&self, app: &str) -> AppClient {
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
