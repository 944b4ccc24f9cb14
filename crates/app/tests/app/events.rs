//! Sending an event to a runtime's event gateway (a real agent run in-process) with the
//! application's certificate, trusting the runtime serving CA from the management plane.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_agent::{Agent, AgentConfig, BootstrapConfig, EventGatewayConfig, EventSink};
use sextant_app::Event;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, TestServer, eventually};

const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn an_event_reaches_the_runtime_s_event_gateway(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    let (runtime, shop) = server.seed(None).await;

    // The runtime's agent with an event gateway delivering to a file.
    let token = server
        .gql(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let env = server.db.dir.join("agent.env");
    std::fs::write(
        &env,
        format!(
            "CONNECTOR_URL={}\nTOKEN={token}\nRUNTIME_ID={runtime}\nTENANT={TENANT}\nCA_CERT_FILE={}\n",
            server.connector_url(),
            server.data_dir.join("ca.crt").display()
        ),
    )
    .unwrap();
    let mut config = AgentConfig::new(
        BootstrapConfig::from_env_file(&env).unwrap(),
        server.db.dir.join("agent-state"),
    );
    let sink = server.db.dir.join("events.jsonl");
    let mut gateway = EventGatewayConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        EventSink::File(sink.clone()),
    );
    gateway.crl_refresh = Duration::from_secs(1);
    config.event_gateway = Some(gateway);
    let agent = Agent::new(config).unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(agent.run(stop.clone()));

    // The application learns the gateway's URL from its configuration.
    let client = server.paired(&shop).await;
    let config = eventually(
        Duration::from_secs(30),
        "the runtime's eventing URL",
        || async {
            let config = client.pull_configuration(None).await.unwrap();
            (!config.default_url.is_empty()).then_some(config)
        },
    )
    .await;
    assert!(config.default_url.starts_with("https://127.0.0.1:"));

    let event = Event::new(
        "order.created".into(),
        "v1".into(),
        Some("evt-42".into()),
        r#"{"order": 42}"#,
    )
    .unwrap();
    // The gateway serves once it holds its certificate and CRLs.
    let answer = eventually(Duration::from_secs(30), "the gateway accepts", || async {
        client.send_event(None, &event).await.ok()
    })
    .await;
    assert_eq!(answer["event-id"], "evt-42");
    let delivered = lines(&sink);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event-type"], "order.created");
    assert_eq!(delivered[0]["event-type-version"], "v1");
    assert_eq!(delivered[0]["data"], json!({"order": 42}));
    assert_eq!(delivered[0]["application-id"], shop.as_str());
    assert_eq!(delivered[0]["runtime-id"], runtime.as_str());

    // With the URL given explicitly.
    let answer = client
        .send_event(
            Some(&config.default_url),
            &Event::new("order.paid".into(), "v1".into(), None, "{}").unwrap(),
        )
        .await
        .unwrap();
    assert!(answer["event-id"].is_string());
    assert_eq!(lines(&sink).len(), 2);
}

crate::on_both_backends!(an_event_reaches_the_runtime_s_event_gateway);
