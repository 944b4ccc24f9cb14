//! Sending an event to a runtime's event gateway (a real agent run in-process) with the
//! application's certificate, trusting the runtime serving CA from the management plane.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_agent::{Agent, AgentConfig, BootstrapConfig, EventGatewayConfig, EventSink};
use sextant_app::Event;
use tokio_util::sync::CancellationToken;

use crate::helpers::{AppServer, Backend, TestServer, eventually};

const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn an_event_reaches_the_runtime_s_event_gateway(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed(None).await;

    // The runtime's agent with an event gateway delivering to a file.
    let token = server
        .director(
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

/// Runs an agent for `runtime` of `tenant` (paired with `token`) with an event gateway on
/// 127.0.0.1 delivering to `sink`; answers its state directory.
fn run_agent(
    server: &TestServer,
    stop: &CancellationToken,
    name: &str,
    runtime: &str,
    tenant: &str,
    token: &str,
    sink: &std::path::Path,
) -> std::path::PathBuf {
    let env = server.db.dir.join(format!("{name}.env"));
    std::fs::write(
        &env,
        format!(
            "CONNECTOR_URL={}\nTOKEN={token}\nRUNTIME_ID={runtime}\nTENANT={tenant}\nCA_CERT_FILE={}\n",
            server.connector_url(),
            server.data_dir.join("ca.crt").display()
        ),
    )
    .unwrap();
    let state = server.db.dir.join(format!("{name}-state"));
    let mut config = AgentConfig::new(BootstrapConfig::from_env_file(&env).unwrap(), state.clone());
    let mut gateway = EventGatewayConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        EventSink::File(sink.to_owned()),
    );
    gateway.crl_refresh = Duration::from_secs(1);
    config.event_gateway = Some(gateway);
    tokio::spawn(Agent::new(config).unwrap().run(stop.clone()));
    state
}

/// The attack of issue 13 (6): a runtime of another tenant obtains a certificate of the
/// runtime serving CA for the host an application's runtime serves on, answers there, and
/// would receive the application's events. The application checks the runtime's id in the
/// certificate, so nothing is sent; and the serving CA issues no name bound to another
/// runtime.
async fn a_runtime_of_another_tenant_cannot_impersonate_the_event_gateway(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Where the attacker answers, and what the application's runtime says it serves on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let (runtime, shop) = server.seed(Some(&url)).await;

    // Tenant B's administrator pairs a runtime of B whose agent obtains a serving
    // certificate for 127.0.0.1, as any local runtime does.
    let tenant_b = sextant_domain::TenantId(uuid::Uuid::new_v4());
    let admin_b = sextant_server::load_issuer(&server.data_dir)
        .unwrap()
        .issue(
            "tenant-b",
            &[tenant_b],
            &["runtime:read".to_owned(), "runtime:write".to_owned()],
            Duration::from_secs(3600),
        )
        .unwrap();
    let gql_b = |query: &'static str, variables: Value| {
        let request = server
            .client
            .post(format!("{}/director/graphql", server.base))
            .bearer_auth(&admin_b)
            .json(&json!({"query": query, "variables": variables}));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let runtime_b = gql_b(
        "mutation { registerRuntime(in: {name: \"evil\"}) { id } }",
        json!({}),
    )
    .await["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token_b = gql_b(
        "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
        json!({"id": runtime_b}),
    )
    .await["requestOneTimeTokenForRuntime"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let state_b = run_agent(
        &server,
        &stop,
        "evil",
        &runtime_b,
        &tenant_b.0.to_string(),
        &token_b,
        &server.db.dir.join("evil-events.jsonl"),
    );
    let (cert_pem, key_pem) = eventually(
        Duration::from_secs(30),
        "runtime B's serving certificate",
        || async {
            let cert = std::fs::read_to_string(state_b.join("event-gateway.crt")).ok()?;
            let key = std::fs::read_to_string(state_b.join("event-gateway.key")).ok()?;
            Some((cert, key))
        },
    )
    .await;

    // The attacker serves that certificate where the application's runtime is said to be,
    // and keeps whatever is posted.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let keep = received.clone();
    let router = axum::Router::new().fallback(move |body: String| {
        let keep = keep.clone();
        async move {
            keep.lock().unwrap().push(body);
            axum::Json(json!({"event-id": "stolen"}))
        }
    });
    let tls =
        sextant_tls::server_config(&cert_pem, &key_pem, sextant_tls::ClientAuth::None).unwrap();
    tokio::spawn(sextant_tls::serve(
        listener,
        std::sync::Arc::new(arc_swap::ArcSwap::new(tls)),
        router,
        stop.clone(),
    ));

    let client = server.paired(&shop).await;
    let event = Event::new(
        "card.charged".into(),
        "v1".into(),
        None,
        r#"{"card": "4111111111111111"}"#,
    )
    .unwrap();
    let refused = client.send_event(None, &event).await.unwrap_err();
    let message = sextant_app::chain(&refused);
    assert!(
        message.contains(&format!(
            "belongs to runtime {runtime_b}, not to runtime {runtime}"
        )),
        "{message}"
    );
    // Naming the URL explicitly or the runtime changes nothing.
    assert!(client.send_event(Some(&url), &event).await.is_err());
    let id: uuid::Uuid = runtime.parse().unwrap();
    assert!(client.send_event_to(None, Some(id), &event).await.is_err());
    assert_eq!(
        received.lock().unwrap().len(),
        0,
        "the attacker got an event"
    );

    // A runtime id that is not the application's runtime is refused before any connection.
    let message = sextant_app::chain(
        &client
            .send_event_to(None, Some(runtime_b.parse().unwrap()), &event)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("not assigned"), "{message}");
}

crate::on_both_backends!(
    an_event_reaches_the_runtime_s_event_gateway,
    a_runtime_of_another_tenant_cannot_impersonate_the_event_gateway,
);
