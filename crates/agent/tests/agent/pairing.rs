//! Pairing, applying and following the configuration, and reporting to the Director.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    ASYNCAPI_YAML, AgentServer, Backend, CONSOLE_URL, EVENTS_URL, OPENAPI_YAML, RunningAgent,
    TENANT, TestServer, api_count, client_of_state, eventually, read_json,
};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sha256_hex(bytes: &[u8]) -> String {
    sextant_agent::certs::sha256_hex(bytes)
}

async fn pairs_applies_follows_and_reports(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));

    let config = agent
        .configuration_until(Duration::from_secs(30), "first configuration", |_| true)
        .await;
    assert_eq!(config.runtime_id.to_string(), runtime);
    assert_eq!(config.tenant.to_string(), TENANT);
    assert_eq!(
        config.applications.len(),
        1,
        "only the applications of SHOP"
    );
    assert_eq!(config.applications[0].id.to_string(), shop);
    assert_eq!(api_count(&config), 1);
    assert_eq!(config.applications[0].events.len(), 1);

    // The state directory: private, with the key, certificate, CA bundle and state.
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("specs")), 0o700);
    for file in [
        "key.pem",
        "client.crt",
        "ca.crt",
        "state.json",
        "applied-configuration.json",
    ] {
        assert_eq!(mode(&state_dir.join(file)), 0o600, "{file}");
    }
    let key = std::fs::read_to_string(state_dir.join("key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    let cert = std::fs::read_to_string(state_dir.join("client.crt")).unwrap();
    let info = sextant_agent::certs::certificate_info(&cert, Some(&key)).unwrap();
    assert_eq!(
        std::fs::read_to_string(state_dir.join("ca.crt")).unwrap(),
        std::fs::read_to_string(server.data_dir.join("ca.crt")).unwrap(),
        "the CA bundle the Connector named"
    );

    let state = read_json(&state_dir.join("state.json"));
    assert_eq!(state["runtimeID"], runtime);
    assert_eq!(state["tenant"], TENANT);
    assert_eq!(state["usedTokens"], json!([sha256_hex(token.as_bytes())]));
    let connection = &state["connection"];
    assert_eq!(
        connection["directorURL"],
        server.mtls_url("/director/graphql")
    );
    assert_eq!(
        connection["certificateSecuredConnectorURL"],
        server.mtls_url("/connector/graphql")
    );
    assert!(
        connection["subject"]
            .as_str()
            .unwrap()
            .starts_with("O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=")
    );
    assert_eq!(connection["certificate"]["serial"], info.serial);
    assert!(connection["certificate"]["notBefore"].is_string());
    assert!(connection["certificate"]["notAfter"].is_string());
    assert!(state["applied"]["appliedAt"].is_string());

    // Labels and status reach the Director.
    let reported = eventually(Duration::from_secs(15), "labels and READY", || async {
        let rt = server.runtime(&runtime).await;
        (rt["labels"]["runtime/event_service_url"] == EVENTS_URL
            && rt["labels"]["runtime/console_url"] == CONSOLE_URL
            && rt["status"]["condition"] == "READY")
            .then_some(rt)
    })
    .await;
    assert_eq!(reported["labels"]["scenarios"], json!(["SHOP"]));
    // The event service URL label is part of the document: the agent follows it too.
    agent
        .configuration_until(Duration::from_secs(10), "eventServiceURL", |c| {
            c.event_service_url.as_deref() == Some(EVENTS_URL)
        })
        .await;

    // What was applied is what the server serves this runtime, version included.
    // (The labels it set are in the document too: compare once the agent caught up.)
    let client = client_of_state(&state_dir);
    let response = client
        .get(server.mtls_url("/runtime/configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let served: Value = response.json().await.unwrap();
    let state = eventually(
        Duration::from_secs(5),
        "the served version applied",
        || async {
            let state = read_json(&state_dir.join("state.json"));
            (state["applied"]["version"] == etag.trim_matches('"')).then_some(state)
        },
    )
    .await;
    // It asked for gzip: the tag it keeps is the weak tag of the same version.
    assert_eq!(state["applied"]["etag"], format!("W/{etag}"));
    assert_eq!(
        format!("\"{}\"", state["applied"]["version"].as_str().unwrap()),
        etag
    );
    assert_eq!(
        read_json(&state_dir.join("applied-configuration.json")),
        served
    );
    assert_eq!(
        agent.status().applied_version.as_deref(),
        state["applied"]["version"].as_str()
    );

    // Specs cached by hash, intact.
    let mut named = Vec::new();
    for app in &config.applications {
        named.extend(app.apis.iter().filter_map(|a| a.spec.clone()));
        named.extend(app.events.iter().filter_map(|e| e.spec.clone()));
    }
    assert_eq!(named.len(), 2);
    for spec in &named {
        let cached = std::fs::read(state_dir.join("specs").join(&spec.sha256)).unwrap();
        assert_eq!(sha256_hex(&cached), spec.sha256);
        assert_eq!(mode(&state_dir.join("specs").join(&spec.sha256)), 0o600);
    }
    let texts: Vec<String> = named
        .iter()
        .map(|s| std::fs::read_to_string(state_dir.join("specs").join(&s.sha256)).unwrap())
        .collect();
    assert!(texts.contains(&OPENAPI_YAML.to_owned()) && texts.contains(&ASYNCAPI_YAML.to_owned()));

    // A Director change is applied within 2 s (long poll), with its new spec.
    let spec = OPENAPI_YAML.replace("Orders", "Returns");
    let started = Instant::now();
    server.add_api(&shop, "returns", &spec).await;
    let config = agent
        .configuration_until(Duration::from_secs(2), "the new API", |c| api_count(c) == 2)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let returns = config.applications[0]
        .apis
        .iter()
        .find(|a| a.name == "returns")
        .unwrap();
    let sha = &returns.spec.as_ref().unwrap().sha256;
    assert_eq!(sha, &sha256_hex(spec.as_bytes()));
    eventually(Duration::from_secs(2), "the new spec cached", || async {
        std::fs::read_to_string(state_dir.join("specs").join(sha))
            .ok()
            .filter(|s| *s == spec)
    })
    .await;
    let status = agent.status();
    assert_eq!(status.phase, sextant_agent::Phase::Ready);
    assert_eq!(status.certificate.unwrap().serial, info.serial);

    // Removing the application from the scenario empties the configuration.
    server
        .director(
            "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"scenarios\", value: [\"DEFAULT\"]) { key } }",
            json!({"id": shop}),
        )
        .await;
    agent
        .configuration_until(Duration::from_secs(2), "no application", |c| {
            c.applications.is_empty()
        })
        .await;
    eventually(Duration::from_secs(2), "unused specs removed", || async {
        (std::fs::read_dir(state_dir.join("specs")).unwrap().count() == 0).then_some(())
    })
    .await;
    agent.stop().await;
}

/// Applying fails (the state directory cannot take the document): FAILED with the reason in
/// the Director; once it can, READY again.
async fn an_apply_failure_is_reported_and_recovered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let token = server.runtime_token(&runtime).await;
    let state_dir = server.state_dir();
    let agent = RunningAgent::spawn(server.agent_config(&runtime, Some(&token), &state_dir));
    agent
        .configuration_until(Duration::from_secs(30), "first configuration", |_| true)
        .await;
    eventually(Duration::from_secs(15), "READY", || async {
        (server.runtime(&runtime).await["status"]["condition"] == "READY").then_some(())
    })
    .await;

    // A non-empty directory where the document goes: the write fails (also as root).
    let applied = state_dir.join("applied-configuration.json");
    std::fs::remove_file(&applied).unwrap();
    std::fs::create_dir(&applied).unwrap();
    std::fs::write(applied.join("blocker"), b"x").unwrap();
    server.add_api(&shop, "returns", OPENAPI_YAML).await;
    let failed = eventually(Duration::from_secs(15), "FAILED", || async {
        let status = server.runtime(&runtime).await["status"].clone();
        (status["condition"] == "FAILED").then_some(status)
    })
    .await;
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("cannot store the configuration"),
        "{message}"
    );
    assert_eq!(agent.status().phase, sextant_agent::Phase::Failed);
    assert_eq!(
        api_count(&agent.handle.configuration().borrow().clone().unwrap()),
        1,
        "the last good configuration stays published"
    );

    std::fs::remove_dir_all(&applied).unwrap();
    agent
        .configuration_until(Duration::from_secs(40), "applied after the fix", |c| {
            api_count(c) == 2
        })
        .await;
    eventually(Duration::from_secs(15), "READY again", || async {
        (server.runtime(&runtime).await["status"]["condition"] == "READY").then_some(())
    })
    .await;
    assert!(applied.is_file());
    agent.stop().await;
}

crate::on_both_backends!(
    pairs_applies_follows_and_reports,
    an_apply_failure_is_reported_and_recovered
);
