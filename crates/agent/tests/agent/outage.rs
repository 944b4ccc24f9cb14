//! An unreachable management plane: the agent retries with backoff (never a tight loop) and
//! carries on when it is back.

use std::time::Duration;

use sextant_agent::{AgentConfig, BootstrapConfig, Phase};

use crate::helpers::{AgentServer, Backend, OPENAPI_YAML, RunningAgent, TestServer, api_count};

async fn the_agent_rides_out_a_server_outage(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let mut config = server.agent_config(&runtime, Some(&token), &state_dir);
    config.poll_wait = Duration::from_secs(2);
    let agent = RunningAgent::spawn(config);
    agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await;
    let before = agent.status().failures;

    server.stop().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = agent.status().failures - before;
    assert!(
        (1..=12).contains(&during),
        "backoff: {during} failed attempts in 6 s"
    );
    assert!(
        agent.handle.configuration().borrow().is_some(),
        "the configuration stays"
    );

    server.start_again().await;
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(Duration::from_secs(45), "a change after the outage", |c| {
            api_count(c) == 2
        })
        .await;
    assert_eq!(agent.status().phase, Phase::Ready);
    agent.stop().await;
}

crate::on_both_backends!(the_agent_rides_out_a_server_outage);

#[tokio::test]
async fn pairing_against_a_closed_port_backs_off() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let bootstrap = BootstrapConfig::parse(&format!(
        "CONNECTOR_URL=https://127.0.0.1:{port}/connector/graphql\nTOKEN=some-token\n\
         RUNTIME_ID=7b5e5a7e-2f4c-4d9a-9a53-3c3a7c1f0f11\nTENANT=3e64ebae-38b5-46a0-b1ed-9ccee153a0ae\n"
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "sextant-agent-closed-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let agent = RunningAgent::spawn(AgentConfig::new(bootstrap, &dir));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = agent.status();
    assert_eq!(status.phase, Phase::Pairing);
    assert!(
        (2..=12).contains(&status.failures),
        "backoff: {} attempts in 5 s",
        status.failures
    );
    assert!(
        status.last_error.unwrap().contains("onnect"),
        "connection refused"
    );
    agent.stop().await;
    // The token was never accepted, so it is not recorded as used.
    let state = sextant_agent::read_state(&dir).unwrap();
    assert!(state.is_none_or(|s| s.used_tokens.is_empty()));
    std::fs::remove_dir_all(&dir).unwrap();
}
