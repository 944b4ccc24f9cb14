//! Renewal over mTLS: on demand, at start (`renew_now`), at two thirds of the lifetime, and
//! through a CA rotation (the bundle with both CAs is trusted, then only the new one).

use std::time::Duration;

use serde_json::json;
use sextant_agent::Phase;

use crate::helpers::{
    AgentServer, Backend, OPENAPI_YAML, RunningAgent, Setup, TestServer, api_count,
    client_of_state, read_json,
};

fn stored_serial(state_dir: &std::path::Path) -> String {
    let read = |name: &str| std::fs::read_to_string(state_dir.join(name)).unwrap();
    sextant_agent::certs::certificate_info(&read("client.crt"), Some(&read("key.pem")))
        .expect("the stored certificate certifies the stored key")
        .serial
}

async fn works(server: &TestServer, state_dir: &std::path::Path) {
    let response = client_of_state(state_dir)
        .get(server.mtls_url("/runtime/configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the stored certificate works");
}

async fn renewal_on_demand_gives_a_new_working_certificate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    let ready = agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await;
    let first = ready.certificate.unwrap();
    let first_key = std::fs::read_to_string(state_dir.join("key.pem")).unwrap();

    agent.handle.renew_certificate();
    let renewed = agent
        .status_until(Duration::from_secs(15), "renewed", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != first.serial)
        })
        .await
        .certificate
        .unwrap();
    assert!(renewed.not_after >= first.not_after);
    assert_eq!(stored_serial(&state_dir), renewed.serial);
    assert_ne!(
        std::fs::read_to_string(state_dir.join("key.pem")).unwrap(),
        first_key,
        "a new key"
    );
    let state = read_json(&state_dir.join("state.json"));
    assert_eq!(state["connection"]["certificate"]["serial"], renewed.serial);
    works(&server, &state_dir).await;
    // The agent uses it: a change arrives.
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(Duration::from_secs(5), "a change after renewal", |c| {
            api_count(c) == 2
        })
        .await;
    agent.stop().await;

    // --renew-now: renewed right after start.
    let mut config = server.agent_config(&runtime, None, &state_dir);
    config.renew_now = true;
    let agent = RunningAgent::spawn(config);
    let again = agent
        .status_until(Duration::from_secs(15), "renewed at start", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != renewed.serial && c.serial != first.serial)
        })
        .await;
    assert_eq!(stored_serial(&state_dir), again.certificate.unwrap().serial);
    works(&server, &state_dir).await;
    agent.stop().await;
}

async fn renews_at_two_thirds_of_the_lifetime(backend: Backend) {
    // Certificates valid for 6 s: renewed after about 4 s, again and again.
    let server = TestServer::start_with(backend, Setup::issuing_for(Duration::from_secs(6))).await;
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
    let started = std::time::Instant::now();
    let second = agent
        .status_until(Duration::from_secs(10), "first renewal", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != first.serial)
        })
        .await
        .certificate
        .unwrap();
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "not before two thirds: {:?}",
        started.elapsed()
    );
    agent
        .status_until(Duration::from_secs(10), "second renewal", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != first.serial && c.serial != second.serial)
        })
        .await;
    // Long after the first certificate expired, the agent still follows changes.
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(Duration::from_secs(5), "a change", |c| api_count(c) == 2)
        .await;
    assert!(agent.status().failures < 5, "{:?}", agent.status());
    agent.stop().await;
}

async fn a_ca_rotation_is_followed_through_renewal(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let mut config = server.agent_config(&runtime, Some(&token), &state_dir);
    config.poll_wait = Duration::from_secs(2);
    let agent = RunningAgent::spawn(config);
    let first = agent
        .status_until(Duration::from_secs(30), "ready", |s| {
            s.phase == Phase::Ready
        })
        .await
        .certificate
        .unwrap();
    let ca_count = || {
        sextant_agent::certs::check_ca_bundle(
            &std::fs::read_to_string(state_dir.join("ca.crt")).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(ca_count(), 1);

    // Rotate: the old CA stays trusted and keeps issuing the listeners' certificate.
    server.stop().await;
    sextant_server::rotate_ca(&server.data_dir).unwrap();
    server.start_again().await;
    agent.handle.renew_certificate();
    agent
        .status_until(Duration::from_secs(40), "renewed from the new CA", |s| {
            s.certificate
                .as_ref()
                .is_some_and(|c| c.serial != first.serial)
        })
        .await;
    assert_eq!(ca_count(), 2, "both CAs are trusted during the rotation");

    // Retire the old CA: nobody depends on it any more; the listeners get a certificate of
    // the new CA, which the agent trusts.
    server.stop().await;
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(server.db.url.clone()),
    };
    let retired =
        sextant_server::retire_previous_ca(&server.data_dir, database_url.as_deref(), false)
            .await
            .unwrap();
    assert_eq!(
        retired,
        sextant_server::Retirement::Retired { clients_cut_off: 0 }
    );
    server.start_again().await;
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    agent
        .configuration_until(
            Duration::from_secs(40),
            "a change after the retirement",
            |c| api_count(c) == 2,
        )
        .await;
    let labels = server.runtime(&runtime).await["labels"].clone();
    assert_eq!(labels["scenarios"], json!(["SHOP"]));
    agent.stop().await;
}

crate::on_both_backends!(
    renewal_on_demand_gives_a_new_working_certificate,
    renews_at_two_thirds_of_the_lifetime,
    a_ca_rotation_is_followed_through_renewal
);
