//! A certificate the management plane refuses stops the agent with a clear error, unless
//! the bootstrap configuration holds a token it has not used yet: then it pairs again.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_agent::{AgentError, Phase};

use crate::helpers::{
    AgentServer, Backend, OPENAPI_YAML, RunningAgent, TestServer, api_count, client_of_state,
    read_json,
};

/// Revokes the state directory's certificate through the certificate-secured Connector.
async fn revoke(server: &TestServer, state_dir: &std::path::Path) {
    let body: Value = client_of_state(state_dir)
        .post(server.mtls_url("/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
}

fn assert_refused(result: Result<(), AgentError>) {
    let err = result.unwrap_err();
    assert!(matches!(err, AgentError::CertificateRefused(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("certificate revoked or unknown: re-pair with a new token"),
        "{err}"
    );
}

async fn a_revoked_certificate_stops_the_agent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, _) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await;
    revoke(&server, &state_dir).await;
    let handle = agent.handle.clone();
    assert_refused(agent.ended(Duration::from_secs(15)).await);
    let status = handle.status().borrow().clone();
    assert_eq!(status.phase, Phase::Stopped);
    assert!(
        status
            .last_error
            .unwrap()
            .contains("certificate revoked or unknown")
    );

    // Started again with the used token once the revocation reached the mTLS listener's
    // CRL (within 2 s): refused at the TLS handshake, and no pairing attempt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    let result = agent.ended(Duration::from_secs(15)).await;
    let message = result.as_ref().unwrap_err().to_string();
    assert!(
        message.contains("at the TLS handshake (CertificateRevoked)"),
        "{message}"
    );
    assert_refused(result);
}

async fn unregistering_the_runtime_stops_the_agent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, _) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await;
    server
        .director(
            "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
            json!({"id": runtime}),
        )
        .await;
    assert_refused(agent.ended(Duration::from_secs(15)).await);
}

async fn a_refused_agent_pairs_again_with_a_new_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    let first = agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await
        .certificate
        .unwrap();
    agent.stop().await;

    // The operator puts a new token into the bootstrap configuration; the agent resumes
    // with its certificate and keeps the token for when it is refused.
    let fresh = server.runtime_token(&runtime).await;
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&fresh), &state_dir));
    agent
        .status_until(Duration::from_secs(15), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await;
    assert_eq!(agent.status().certificate.unwrap().serial, first.serial);
    revoke(&server, &state_dir).await;
    let second = agent
        .status_until(Duration::from_secs(20), "paired again", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != first.serial)
        })
        .await
        .certificate
        .unwrap();
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(
            Duration::from_secs(10),
            "a change after pairing again",
            |c| api_count(c) == 2,
        )
        .await;
    let state = read_json(&state_dir.join("state.json"));
    assert_eq!(state["usedTokens"].as_array().unwrap().len(), 2);
    assert_eq!(state["connection"]["certificate"]["serial"], second.serial);
    agent.stop().await;
}

crate::on_both_backends!(
    a_revoked_certificate_stops_the_agent,
    unregistering_the_runtime_stops_the_agent,
    a_refused_agent_pairs_again_with_a_new_token
);
