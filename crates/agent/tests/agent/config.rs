//! What the agent refuses before talking to anyone.

use std::time::Duration;

use sextant_agent::{AgentConfig, AgentError, BootstrapConfig};

fn bootstrap(token: Option<&str>) -> BootstrapConfig {
    BootstrapConfig::parse(&format!(
        "CONNECTOR_URL=https://127.0.0.1:9/connector/graphql\nTOKEN={}\n\
         RUNTIME_ID=7b5e5a7e-2f4c-4d9a-9a53-3c3a7c1f0f11\nTENANT=3e64ebae-38b5-46a0-b1ed-9ccee153a0ae\n",
        token.unwrap_or("")
    ))
    .unwrap()
}

fn state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "sextant-agent-test-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

async fn run(config: AgentConfig) -> Result<(), AgentError> {
    tokio::time::timeout(
        Duration::from_secs(10),
        sextant_agent::run(config, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("ends at once")
}

#[tokio::test]
async fn without_state_and_token_it_says_what_is_missing() {
    let dir = state_dir();
    let err = run(AgentConfig::new(bootstrap(None), &dir))
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::NoToken), "{err}");
    assert!(err.to_string().contains("TOKEN is not set"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_state_directory_of_another_runtime_is_refused() {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let other = sextant_agent::State::new(uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&other).unwrap()).unwrap();
    let err = run(AgentConfig::new(bootstrap(Some("t")), &dir))
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::StateMismatch { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_used_token_is_not_tried_again() {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let b = bootstrap(Some("spent-token"));
    let mut state = sextant_agent::State::new(b.runtime_id, b.tenant);
    state
        .used_tokens
        .record(sextant_agent::certs::sha256_hex(b"spent-token"));
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    let err = run(AgentConfig::new(b, &dir)).await.unwrap_err();
    assert!(matches!(err, AgentError::TokenAlreadyUsed), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_agent_configuration_is_refused_up_front() {
    let mut config = AgentConfig::new(bootstrap(None), state_dir());
    config.event_service_url = Some("gateway without scheme".into());
    let err = sextant_agent::Agent::new(config).err().unwrap();
    assert!(matches!(err, AgentError::Config(_)));
}
