//! The Provisioner end to end: a server in this process, local runtimes as real
//! `sextant agent` processes (this crate's binary), a real local HTTP server as an
//! application's API. Both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

use common::{
    BIN, Backend, OPENAPI, Plane, TENANT, WAIT, agent_pid, eventually, fake_api, process_runs_in,
    through_gateway,
};
use sextant_test_support::on_both_backends;

on_both_backends!(
    a_name_never_captures_a_gateway_call_addressed_by_id,
    a_failing_agent_shows_no_server_internals_and_gets_no_server_environment,
    provision_use_and_deprovision_a_local_runtime,
    server_and_agent_restarts_resume,
    reconnect_and_upgrade,
    one_operation_at_a_time_and_bad_input,
);

/// The attack on the application gateway, through the Director and a real agent: an
/// application renames itself to a victim application's id and names its API after the
/// victim API's id. A workload's call addressed by the victim's ids still reaches the victim.
async fn a_name_never_captures_a_gateway_call_addressed_by_id(backend: Backend) {
    let plane = Plane::new(backend).await;
    let victim_target = fake_api().await;
    let attacker_target = fake_api().await;
    let register = "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id apiDefinitions { data { id } } } }";
    let with_api = |name: &str, target: &str| {
        json!({"in": {"name": name, "providerName": "acme", "labels": {"scenarios": ["DEFAULT"]},
               "apiDefinitions": [{"name": "orders", "targetURL": target,
                 "spec": {"data": OPENAPI, "type": "OPEN_API", "format": "YAML"},
                 "defaultAuth": {"credential": {"basic": {"username": "app-user", "password": "app-pass"}}}}]}})
    };
    // Names may not start with a digit: a victim whose id and API id start with a letter,
    // so that the attacker can take them as names.
    let (victim, victim_api) = loop {
        let data = plane
            .director(
                register,
                with_api(
                    &format!("shop-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                    &victim_target,
                ),
            )
            .await;
        let id = data["registerApplication"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let api = data["registerApplication"]["apiDefinitions"]["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let lettered = |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic());
        if lettered(&id) && lettered(&api) {
            break (id, api);
        }
        plane
            .director(
                "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;
    };
    let attacker = plane
        .director(register, with_api("mallory", &attacker_target))
        .await;
    let attacker_id = attacker["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attacker_api = attacker["registerApplication"]["apiDefinitions"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    plane
        .director(
            "mutation($id: ID!, $in: ApplicationUpdateInput!) { updateApplication(id: $id, in: $in) { name } }",
            json!({"id": attacker_id, "in": {"name": victim, "providerName": "acme"}}),
        )
        .await;
    plane
        .director(
            "mutation($id: ID!, $in: APIDefinitionInput!) { updateAPIDefinition(id: $id, in: $in) { name } }",
            json!({"id": attacker_api, "in": {"name": victim_api, "targetURL": format!("{attacker_target}/stolen"),
                "spec": {"data": OPENAPI, "type": "OPEN_API", "format": "YAML"},
                "defaultAuth": {"credential": {"basic": {"username": "app-user", "password": "app-pass"}}}}}),
        )
        .await;

    let (op, runtime) = plane.provision("gateway-ids", json!({})).await;
    plane.succeeded(&op).await;
    let status = plane.runtime_status(&runtime).await;
    let gateway = status["runtimeConfiguration"]["clusterConfig"]["gatewayPort"]
        .as_u64()
        .unwrap() as u16;
    // The applied configuration holds both applications, the attacker's under the victim's id
    // as its name.
    let applied = plane
        .runtime_dir(&runtime)
        .join("state")
        .join("applied-configuration.json");
    common::eventually(WAIT, "both applications applied", || {
        let applied = applied.clone();
        let (victim, victim_api) = (victim.clone(), victim_api.clone());
        async move {
            std::fs::read_to_string(&applied).is_ok_and(|text| {
                text.matches(&victim).count() >= 2 && text.matches(&victim_api).count() >= 2
            })
        }
    })
    .await;

    // The fake APIs answer with the path they were called on, so the target shows.
    let (status, _) = through_gateway(gateway, &victim, &victim_api).await;
    assert_eq!(status, 200, "the victim's API by ids");
    let victim_url = url::Url::parse(&victim_target).unwrap();
    let attacker_url = url::Url::parse(&attacker_target).unwrap();
    assert_ne!(victim_url.port(), attacker_url.port());
    let hits = |target: &str| {
        let target = target.to_owned();
        async move {
            reqwest::get(format!("{}/__hits", target.trim_end_matches("/api")))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        hits(&attacker_target).await,
        "0",
        "the attacker's API was never called"
    );
    assert_ne!(hits(&victim_target).await, "0");
    // The attacker's application is still reachable, by its own ids.
    let (status, _) = through_gateway(gateway, &attacker_id, &attacker_api).await;
    assert_eq!(status, 200);
    assert_eq!(hits(&attacker_target).await, "1");
}

/// An agent that records its environment and dies with a panic message naming a source
/// path and a backtrace: the operation fails with a short reason that shows neither (nor any
/// path of the server), and the agent started with a minimal environment, not the server's.
async fn a_failing_agent_shows_no_server_internals_and_gets_no_server_environment(
    backend: Backend,
) {
    use std::os::unix::fs::PermissionsExt as _;
    let scripts =
        std::env::temp_dir().join(format!("sextant-agent-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scripts).unwrap();
    let program = scripts.join("dying-agent");
    std::fs::write(
        &program,
        "#!/bin/sh\n\
         tr '\\000' '\\n' < /proc/$$/environ > environment.txt\n\
         echo \"thread 'main' panicked at /home/build/sextant/crates/agent/src/agent.rs:42:9:\" >&2\n\
         echo 'stack backtrace:' >&2\n\
         echo '   0: std::panicking::begin_panic at /rustc/library/std/src/panicking.rs:1' >&2\n\
         exit 101\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plane = Plane::running(backend, &program).await;
    let (op, runtime) = plane.provision("dying", json!({})).await;
    let op = plane.finished(&op).await;
    assert_eq!(op["state"], "Failed", "{op}");
    let status = plane.runtime_status(&runtime).await;
    let answers = format!("{op} {}", status["runtimeConnectionStatus"]);
    for internal in [
        "panicked",
        "backtrace",
        "agent.rs",
        "/home/",
        "/rustc/",
        "/tmp/",
        &plane.data_dir.display().to_string(),
    ] {
        assert!(!answers.contains(internal), "{internal:?} in {answers}");
    }
    let message = op["message"].as_str().unwrap();
    assert!(
        message.starts_with("the agent exited (") || message == "the agent is not running",
        "{message}"
    );

    // The agent's environment: PATH only (the server runs under cargo with CARGO_*, HOME,
    // and whatever else its parent had).
    let recorded =
        std::fs::read_to_string(plane.runtime_dir(&runtime).join("environment.txt")).unwrap();
    let names: Vec<&str> = recorded
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('=').map_or(l, |(name, _)| name))
        .collect();
    assert_eq!(names, ["PATH"], "{recorded}");
    assert!(
        std::env::vars_os().any(|(name, _)| name != "PATH"),
        "the test's own environment is not minimal"
    );
    let _ = std::fs::remove_dir_all(&scripts);
}

async fn provision_use_and_deprovision_a_local_runtime(backend: Backend) {
    let plane = Plane::new(backend).await;
    let target = fake_api().await;
    let app = plane
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": "shop", "providerName": "acme", "labels": {"scenarios": ["DEFAULT"]},
                   "apiDefinitions": [{"name": "orders", "targetURL": target,
                     "spec": {"data": OPENAPI, "type": "OPEN_API", "format": "YAML"},
                     "defaultAuth": {"credential": {"basic": {"username": "app-user", "password": "app-pass"}}}}]}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (op, runtime) = plane
        .provision(
            "local-one",
            json!({"eventServiceURL": "https://events.local-one.test", "consoleURL": "https://console.local-one.test"}),
        )
        .await;
    let started = plane.operation(&op).await;
    assert_eq!(started["operation"], "Provision");
    plane.succeeded(&op).await;

    // The runtime is READY with its labels, and the Provisioner sees its agent connected.
    let rt = plane.director_runtime(&runtime).await.unwrap();
    assert_eq!(rt["status"]["condition"], "READY", "{rt}");
    assert_eq!(
        rt["labels"]["runtime/event_service_url"],
        "https://events.local-one.test"
    );
    assert_eq!(
        rt["labels"]["runtime/console_url"],
        "https://console.local-one.test"
    );
    let status = plane.runtime_status(&runtime).await;
    assert_eq!(
        status["runtimeConnectionStatus"]["status"], "Connected",
        "{status}"
    );
    assert_eq!(status["lastOperationStatus"]["state"], "Succeeded");
    let config = &status["runtimeConfiguration"];
    assert_eq!(config["credentialsSecretName"], "unused-locally");
    assert_eq!(config["kymaConfig"]["version"], "1.8.0");
    assert_eq!(config["clusterConfig"]["__typename"], "LocalConfig");
    let gateway = config["clusterConfig"]["gatewayPort"].as_u64().unwrap() as u16;
    let dir = plane.runtime_dir(&runtime);
    assert_eq!(
        config["clusterConfig"]["directory"].as_str().unwrap(),
        dir.to_str().unwrap()
    );

    // Files: bootstrap injected, owner-only; the agent's state next to it.
    use std::os::unix::fs::PermissionsExt as _;
    let bootstrap = std::fs::read_to_string(dir.join("bootstrap.env")).unwrap();
    assert!(bootstrap.contains(&format!("RUNTIME_ID={runtime}")));
    assert!(bootstrap.contains(&format!("TENANT={TENANT}")));
    assert!(bootstrap.contains("CONNECTOR_URL=https://localhost:"));
    let mode = std::fs::metadata(dir.join("bootstrap.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        dir.join("state")
            .join("applied-configuration.json")
            .exists()
    );

    // A workload calls the application's API through the runtime's gateway with the
    // default credentials; new credentials for this runtime reach it without a restart.
    let (code, body) = through_gateway(gateway, "shop", "orders").await;
    assert_eq!((code, body.as_str()), (200, "default"));
    let api = plane
        .director(
            "query($id: ID!) { application(id: $id) { apiDefinitions { data { id } } } }",
            json!({"id": app}),
        )
        .await["application"]["apiDefinitions"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    plane
        .director(
            "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
            json!({"api": api, "rt": runtime, "in": {"credential": {"basic": {"username": "runtime-user", "password": "runtime-pass"}}}}),
        )
        .await;
    eventually(WAIT, "the runtime's own credentials applied", || async {
        through_gateway(gateway, "shop", "orders").await == (200, "runtime".into())
    })
    .await;
    // A removed API is gone from the gateway.
    plane
        .director(
            "mutation($id: ID!) { deleteAPIDefinition(id: $id) { id } }",
            json!({"id": api}),
        )
        .await;
    eventually(WAIT, "the API removed from the gateway", || async {
        through_gateway(gateway, "shop", "orders").await.0 == 404
    })
    .await;

    // Deprovisioning: the agent stops, its certificate is refused, the runtime is gone.
    let agent = plane.agent_client(&runtime);
    assert!(plane.accepted(&agent).await);
    let pid = agent_pid(&dir).expect("the agent runs");
    let op = plane
        .provisioner(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await["deprovisionRuntime"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = plane.succeeded(&op).await;
    assert_eq!(done["operation"], "Deprovision");
    assert!(!process_runs_in(pid, &dir), "the agent process is gone");
    assert!(!dir.exists(), "the runtime's directory is removed");
    assert!(plane.director_runtime(&runtime).await.is_none());
    eventually(
        WAIT,
        "the deprovisioned runtime's certificate refused",
        || {
            let agent = agent.clone();
            let plane = &plane;
            async move { !plane.accepted(&agent).await }
        },
    )
    .await;
    let status = plane.runtime_status(&runtime).await;
    assert_eq!(status["lastOperationStatus"]["operation"], "Deprovision");
    assert_eq!(status["runtimeConnectionStatus"]["status"], "Disconnected");
    assert!(status["runtimeConfiguration"].is_null());
}

async fn server_and_agent_restarts_resume(backend: Backend) {
    let mut plane = Plane::new(backend).await;
    // The server stops right after accepting the operation: the next one resumes it.
    let (op, runtime) = plane.provision("resumed", json!({})).await;
    assert_eq!(plane.operation(&op).await["state"], "InProgress");
    plane.restart().await;
    plane.succeeded(&op).await;
    let dir = plane.runtime_dir(&runtime);
    let pid = agent_pid(&dir).expect("the agent runs");
    // Without an eventServiceURL, the label is the event gateway the provider started.
    let status = plane.runtime_status(&runtime).await;
    let events_port = status["runtimeConfiguration"]["clusterConfig"]["eventGatewayPort"]
        .as_u64()
        .unwrap();
    assert_eq!(
        plane.director_runtime(&runtime).await.unwrap()["labels"]["runtime/event_service_url"],
        format!("https://127.0.0.1:{events_port}")
    );

    // The agent outlives a server restart and keeps following its configuration.
    plane.restart().await;
    assert_eq!(agent_pid(&dir), Some(pid), "the same agent process");
    let config_file = dir.join("state").join("applied-configuration.json");
    plane
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": "late", "providerName": "acme", "labels": {"scenarios": ["DEFAULT"]}}}),
        )
        .await;
    eventually(WAIT, "a change after the restart applied", || async {
        std::fs::read_to_string(&config_file).is_ok_and(|t| t.contains("\"late\""))
    })
    .await;

    // An agent that died while the server was down is started again at the server's start,
    // resuming from its state (no token needed).
    plane.stop().await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    eventually(WAIT, "the agent gone", || async {
        agent_pid(&dir).is_none()
    })
    .await;
    plane.restart().await;
    eventually(WAIT, "the agent started again", || async {
        agent_pid(&dir).is_some()
    })
    .await;
    assert_ne!(agent_pid(&dir), Some(pid));
    plane
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": "later", "providerName": "acme", "labels": {"scenarios": ["DEFAULT"]}}}),
        )
        .await;
    eventually(WAIT, "the restarted agent applies changes", || async {
        std::fs::read_to_string(&config_file).is_ok_and(|t| t.contains("\"later\""))
    })
    .await;
    let status = plane.runtime_status(&runtime).await;
    assert_eq!(status["runtimeConnectionStatus"]["status"], "Connected");

    let op = plane
        .provisioner(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await["deprovisionRuntime"]
        .as_str()
        .unwrap()
        .to_owned();
    plane.succeeded(&op).await;
}

async fn reconnect_and_upgrade(backend: Backend) {
    let plane = Plane::new(backend).await;
    let (op, runtime) = plane
        .provision("changing", json!({"consoleURL": "https://console.v1.test"}))
        .await;
    plane.succeeded(&op).await;
    let dir = plane.runtime_dir(&runtime);
    let old = plane.agent_client(&runtime);
    let old_cert = std::fs::read(dir.join("state").join("client.crt")).unwrap();

    // Reconnect: the old certificate is revoked, the agent pairs again with a new token.
    let op = plane
        .provisioner(
            "mutation($id: String!) { reconnectRuntimeAgent(id: $id) }",
            json!({"id": runtime}),
        )
        .await["reconnectRuntimeAgent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(plane.operation(&op).await["operation"], "ReconnectRuntime");
    plane.succeeded(&op).await;
    let new_cert = std::fs::read(dir.join("state").join("client.crt")).unwrap();
    assert_ne!(old_cert, new_cert, "a new certificate");
    assert!(plane.accepted(&plane.agent_client(&runtime)).await);
    eventually(WAIT, "the old certificate refused", || {
        let old = old.clone();
        let plane = &plane;
        async move { !plane.accepted(&old).await }
    })
    .await;

    // Upgrade: new settings, the agent restarted (resuming from its state).
    let pid = agent_pid(&dir).unwrap();
    let op = plane
        .provisioner(
            "mutation($id: String!, $config: UpgradeRuntimeInput!) { upgradeRuntime(id: $id, config: $config) }",
            json!({"id": runtime, "config": {"kymaConfig": {"version": "1.9.0"},
                   "localConfig": {"consoleURL": "https://console.v2.test"}}}),
        )
        .await["upgradeRuntime"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(plane.operation(&op).await["operation"], "Upgrade");
    plane.succeeded(&op).await;
    assert_ne!(agent_pid(&dir), Some(pid), "the agent was restarted");
    let rt = plane.director_runtime(&runtime).await.unwrap();
    assert_eq!(
        rt["labels"]["runtime/console_url"],
        "https://console.v2.test"
    );
    assert_eq!(rt["status"]["condition"], "READY");
    let status = plane.runtime_status(&runtime).await;
    let config = &status["runtimeConfiguration"];
    assert_eq!(config["kymaConfig"]["version"], "1.9.0");
    assert_eq!(config["clusterConfig"]["generation"], 1);
    assert_eq!(
        config["clusterConfig"]["consoleURL"],
        "https://console.v2.test"
    );
    // Upgrade does not re-pair: the certificate is the one from the reconnect.
    assert_eq!(
        std::fs::read(dir.join("state").join("client.crt")).unwrap(),
        new_cert
    );

    let op = plane
        .provisioner(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await["deprovisionRuntime"]
        .as_str()
        .unwrap()
        .to_owned();
    plane.succeeded(&op).await;
}

async fn one_operation_at_a_time_and_bad_input(backend: Backend) {
    let plane = Plane::new(backend).await;
    let (op, runtime) = plane.provision("busy", json!({})).await;
    // While the provisioning runs, nothing else may start on the runtime.
    let err = plane
        .provisioner_error(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await;
    assert_eq!(
        err,
        format!(
            "cannot start new operation for {runtime} Runtime while previous one is in progress"
        )
    );
    plane.succeeded(&op).await;
    let err = plane
        .provisioner_error(
            "mutation($id: String!, $config: ProvisionRuntimeInput!) { provisionRuntime(id: $id, config: $config) }",
            json!({"id": runtime, "config": {"clusterConfig": {"localConfig": {}}}}),
        )
        .await;
    assert_eq!(
        err,
        format!("cannot provision runtime. Runtime {runtime} already provisioned")
    );

    // Bad input changes nothing.
    let before = runtime_count(&plane).await;
    let provision = "mutation($id: String, $config: ProvisionRuntimeInput!) { provisionRuntime(id: $id, config: $config) }";
    let gardener = json!({"name": "g", "projectName": "p", "kubernetesVersion": "1.15", "nodeCount": 1,
        "volumeSizeGB": 30, "machineType": "n1", "region": "eu", "provider": "gcp", "seed": "s",
        "targetSecret": "t", "diskType": "pd", "workerCidr": "10.0.0.0/16", "autoScalerMin": 1,
        "autoScalerMax": 2, "maxSurge": 1, "maxUnavailable": 1,
        "providerSpecificConfig": {"gcpConfig": {"zone": "eu-1"}}});
    for (variables, expected) in [
        (
            json!({"config": {"runtimeInput": {"name": "g"}, "clusterConfig": {"gardenerConfig": gardener}}}),
            "clusterConfig: the gardener provider is not available on this server (available: localConfig)",
        ),
        (
            json!({"config": {"runtimeInput": {"name": "x"}}}),
            "clusterConfig: required; name a provider (localConfig)",
        ),
        (
            json!({"config": {"runtimeInput": {"name": "x"}, "clusterConfig": {"localConfig": {"eventServiceURL": "ftp://x"}}}}),
            "localConfig.eventServiceURL: an http(s) URL",
        ),
        (
            json!({"config": {"runtimeInput": {"name": "x"}, "clusterConfig": {"localConfig": {"gatewayPort": 70000}}}}),
            "localConfig.gatewayPort: must be 1..65535",
        ),
        (
            json!({"id": runtime, "config": {"runtimeInput": {"name": "x"}, "clusterConfig": {"localConfig": {}}}}),
            "give either id (a registered runtime) or config.runtimeInput (to register one), not both",
        ),
        (
            json!({"config": {"clusterConfig": {"localConfig": {}}}}),
            "give id (a registered runtime) or config.runtimeInput (to register one)",
        ),
        (
            json!({"config": {"runtimeInput": {"name": "busy"}, "clusterConfig": {"localConfig": {}}}}),
            "runtime name \"busy\" is not unique",
        ),
    ] {
        let err = plane.provisioner_error(provision, variables).await;
        assert!(err.contains(expected), "{err} should say {expected}");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let err = plane
        .provisioner_error(
            provision,
            json!({"id": unknown, "config": {"clusterConfig": {"localConfig": {}}}}),
        )
        .await;
    assert!(err.contains("does not exist"), "{err}");
    let err = plane
        .provisioner_error(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": unknown}),
        )
        .await;
    assert!(err.contains("was not provisioned"), "{err}");
    assert_eq!(runtime_count(&plane).await, before);
    assert!(
        plane
            .provisioner(
                "query($id: String!) { runtimeOperationStatus(id: $id) { id } }",
                json!({"id": unknown}),
            )
            .await["runtimeOperationStatus"]
            .is_null()
    );

    // Another tenant sees nothing; missing scopes and missing tokens are refused.
    let issuer = |tenant: &str, scopes: &str| {
        let out = std::process::Command::new(BIN)
            .args(["admin", "token", "--tenant", tenant, "--scopes", scopes])
            .arg("--data-dir")
            .arg(&plane.data_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let other = issuer(
        &uuid::Uuid::new_v4().to_string(),
        "runtime:read runtime:write",
    );
    let body = plane
        .graphql(
            "/provisioner/graphql",
            &other,
            "query($id: String!) { runtimeOperationStatus(id: $id) { id } runtimeStatus(id: $rt) { runtimeConnectionStatus { status } } }"
                .replace("$id: String!)", "$id: String!, $rt: String!)")
                .as_str(),
            json!({"id": op, "rt": runtime}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["runtimeOperationStatus"].is_null());
    assert!(body["data"]["runtimeStatus"].is_null());
    let body = plane
        .graphql(
            "/provisioner/graphql",
            &other,
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("was not provisioned")
    );
    let reader = issuer(TENANT, "runtime:read");
    let body = plane
        .graphql(
            "/provisioner/graphql",
            &reader,
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INSUFFICIENT_SCOPES",
        "{body}"
    );
    let response = plane
        .client
        .post(format!("https://localhost:{}/provisioner/graphql", plane.main_port))
        .json(&json!({"query": "{ runtimeStatus(id: \"x\") { runtimeConnectionStatus { status } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A runtime's own credentials (its certificate) never reach the Provisioner, and its
    // client credentials are not a user's.
    let client = plane
        .director(
            "mutation($id: ID!) { requestClientCredentialsForRuntime(id: $id) { auth { credential { ... on OAuthCredentialData { clientId clientSecret } } } } }",
            json!({"id": runtime}),
        )
        .await["requestClientCredentialsForRuntime"]["auth"]["credential"]
        .clone();
    let token: Value = plane
        .client
        .post(format!(
            "https://localhost:{}/oauth2/token",
            plane.main_port
        ))
        .basic_auth(
            client["clientId"].as_str().unwrap(),
            client["clientSecret"].as_str(),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = plane
        .graphql(
            "/provisioner/graphql",
            token["access_token"].as_str().unwrap(),
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await;
    let code = &body["errors"][0]["extensions"]["code"];
    assert!(
        code == "FORBIDDEN" || code == "INSUFFICIENT_SCOPES",
        "{body}"
    );

    let op = plane
        .provisioner(
            "mutation($id: String!) { deprovisionRuntime(id: $id) }",
            json!({"id": runtime}),
        )
        .await["deprovisionRuntime"]
        .as_str()
        .unwrap()
        .to_owned();
    plane.succeeded(&op).await;
    // cleanupRuntimeData removes the records of a runtime that is gone.
    let cleaned = plane
        .provisioner(
            "mutation($id: String!) { cleanupRuntimeData(id: $id) { id message } }",
            json!({"id": runtime}),
        )
        .await;
    assert_eq!(
        cleaned["cleanupRuntimeData"]["message"],
        format!("Successfully cleaned up data for Runtime with ID {runtime}")
    );
    assert!(plane.runtime_status(&runtime).await.is_null());
}

async fn runtime_count(plane: &Plane) -> i64 {
    plane
        .director("{ runtimes { totalCount } }", json!({}))
        .await["runtimes"]["totalCount"]
        .as_i64()
        .unwrap()
}
