//! What the console's browser tests share with the server: applications and runtimes
//! registered through the Director as the administrator, a silent agent, a paired one.

use std::time::Duration;

use serde_json::{Value, json};
pub use sextant_test_server::{Backend, TestServer};

/// Registers an application in the default tenant; answers its id.
pub async fn register(server: &TestServer, name: &str, labels: Value) -> String {
    server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": name, "providerName": "acme", "labels": labels}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An application as the administrator's GraphQL sees it (`null` when there is none).
pub async fn application(server: &TestServer, id: &str) -> Value {
    server
        .director(
            "query($id: ID!) { application(id: $id) { name providerName description labels } }",
            json!({"id": id}),
        )
        .await["application"]
        .clone()
}

/// Registers a runtime in the default tenant; answers its id.
pub async fn register_runtime(server: &TestServer, name: &str, labels: Value) -> String {
    server
        .director(
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": name, "labels": labels}}),
        )
        .await["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A runtime agent that never pairs: a shell script that sleeps (two minutes at most)
/// until the Provisioner stops it, so that an operation waiting for it runs until the
/// server's connect timeout and then fails, as for a real agent that cannot reach the
/// Connector.
pub struct SilentAgent {
    dir: std::path::PathBuf,
}

impl SilentAgent {
    pub fn create() -> SilentAgent {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("sextant-silent-agent-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("agent");
        std::fs::write(
            &program,
            "#!/bin/sh\n# A runtime agent that never pairs.\ni=0\nwhile [ \"$i\" -lt 120 ]; do sleep 1; i=$((i + 1)); done\n",
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        SilentAgent { dir }
    }

    /// A server whose local runtimes run this agent, each operation waiting
    /// `connect_timeout` for it to pair.
    pub async fn server(&self, backend: Backend, connect_timeout: Duration) -> TestServer {
        let mut setup = sextant_test_server::Setup::default();
        setup.options.agent_program = Some(self.dir.join("agent"));
        setup.options.connect_timeout = Some(connect_timeout);
        setup.options.lease = Some(Duration::from_secs(2));
        TestServer::start_with(backend, setup).await
    }
}

impl Drop for SilentAgent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pairs the runtime as its agent does and asks for its configuration once, so the
/// management plane has seen its agent; answers the HTTP status of that request.
pub async fn pair_and_fetch(server: &TestServer, runtime: &str) -> u16 {
    let token = server
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca = std::fs::read_to_string(server.ca_path()).unwrap();
    let client = sextant_client::http::token_client("browser-test", &[ca]).unwrap();
    let url = server.connector_url();
    let configured = sextant_client::connector::configuration(&client, &url, Some(&token))
        .await
        .unwrap();
    let request = sextant_client::connector::CertificateRequest::new(
        configured.subject().unwrap(),
        configured.endpoints().unwrap(),
    )
    .unwrap();
    let csr_token = configured.csr_token().unwrap();
    let signed = sextant_client::connector::sign(&client, &url, Some(&csr_token), request.csr())
        .await
        .unwrap();
    let (credentials, _) = request.issued(signed).unwrap();
    sextant_client::http::mtls_client("browser-test", &credentials)
        .unwrap()
        .get(server.mtls_url("/runtime/configuration"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
