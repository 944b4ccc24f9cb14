//! A restarted agent resumes from its state directory: no token needed (a used one is not
//! tried again), the configuration applied before is available at once, and a damaged spec
//! cache is repaired.

use std::time::Duration;

use crate::helpers::{
    AgentServer, Backend, OPENAPI_YAML, RunningAgent, TestServer, api_count, read_json,
};

async fn a_restart_resumes_from_state_without_a_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    agent
        .configuration_until(Duration::from_secs(30), "first configuration", |_| true)
        .await;
    let serial = agent.status().certificate.unwrap().serial;
    agent.stop().await;

    // The same configuration, with its (used) token: resumed, the token is not tried.
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    let config = agent
        .configuration_until(
            Duration::from_secs(5),
            "the configuration applied before",
            |_| true,
        )
        .await;
    assert_eq!(api_count(&config), 1);
    let status = agent
        .status_until(Duration::from_secs(15), "ready", |s| {
            s.phase == sextant_agent::Phase::Ready
        })
        .await;
    assert_eq!(status.certificate.unwrap().serial, serial, "no new pairing");
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(Duration::from_secs(5), "a change after the restart", |c| {
            api_count(c) == 2
        })
        .await;
    agent.stop().await;

    // Without any token, too; and the certificate still works after the restart.
    let agent = RunningAgent::spawn(server.agent_config(&runtime, None, &state_dir));
    agent
        .configuration_until(Duration::from_secs(5), "resumed without a token", |c| {
            api_count(c) == 2
        })
        .await;
    server.add_api(&shop, "refunds", OPENAPI_YAML).await;
    agent
        .configuration_until(Duration::from_secs(5), "a change without a token", |c| {
            api_count(c) == 3
        })
        .await;
    assert_eq!(agent.status().certificate.unwrap().serial, serial);
    agent.stop().await;
    let state = read_json(&state_dir.join("state.json"));
    assert_eq!(state["usedTokens"].as_array().unwrap().len(), 1);
}

async fn a_damaged_spec_cache_is_fetched_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, _) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    let config = agent
        .configuration_until(Duration::from_secs(30), "first configuration", |_| true)
        .await;
    agent.stop().await;
    let sha = config.applications[0].apis[0]
        .spec
        .as_ref()
        .unwrap()
        .sha256
        .clone();
    let cached = state_dir.join("specs").join(&sha);
    std::fs::write(&cached, b"tampered").unwrap();

    let agent = RunningAgent::spawn(server.agent_config(&runtime, None, &state_dir));
    agent
        .status_until(Duration::from_secs(15), "ready", |s| {
            s.phase == sextant_agent::Phase::Ready
        })
        .await;
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), OPENAPI_YAML);
    agent.stop().await;
}

crate::on_both_backends!(
    a_restart_resumes_from_state_without_a_token,
    a_damaged_spec_cache_is_fetched_again
);
