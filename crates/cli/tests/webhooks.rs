//! Webhook deliveries survive `kill -9` of the server: every acknowledged change's event
//! reaches the receiver (at least once, one id per event) after the server comes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sextant");

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `sextant server` on fixed ports and waits until it says it runs.
fn start(dir: &std::path::Path, ports: (u16, u16)) -> Server {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut child = Command::new(BIN)
            .args(["server", "--fetch-allow-private", "--webhook-lease", "3s"])
            .args(["--webhook-retry-base", "200ms"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", ports.0))
            .arg("--mtls-listen")
            .arg(format!("127.0.0.1:{}", ports.1))
            .arg("--data-dir")
            .arg(dir)
            .env("SEXTANT_LOG", "warn")
            // No test reaches beyond loopback, not even with a DNS lookup.
            .env("SEXTANT_FETCH_ALLOW_HOSTS", "localhost,127.0.0.1,::1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let started = lines
            .by_ref()
            .any(|l| l.is_ok_and(|l| l.contains("Director GraphQL:")));
        std::thread::spawn(move || for _ in lines {});
        if started {
            return Server { child };
        }
        let _ = child.wait();
        // The ports of a killed server may need a moment.
        assert!(Instant::now() < deadline, "the server does not start");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("sextant-kill-{}", uuid::Uuid::new_v4().simple()));
    let ports = (free_port(), free_port());
    let mut server = start(&dir, ports);

    // The receiver holds each request for 1 s, so attempts are in flight when the server dies.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let arrived: Arc<Mutex<usize>> = Arc::default();
    let (record, arrival) = (seen.clone(), arrived.clone());
    let handler = move |body: String| {
        let (record, arrival) = (record.clone(), arrival.clone());
        async move {
            *arrival.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let event: Value = serde_json::from_str(&body).unwrap();
            record
                .lock()
                .unwrap()
                .push(event["id"].as_str().unwrap().to_owned());
            axum::http::StatusCode::NO_CONTENT
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap();
    });

    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let token = std::fs::read_to_string(dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let gql = |query: &'static str, variables: Value| {
        let request = client
            .post(format!("https://localhost:{}/director/graphql", ports.0))
            .bearer_auth(&token)
            .json(&json!({"query": query, "variables": variables}));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let app = gql(
        "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
        json!({"in": {"name": "shop", "providerName": "acme"}}),
    )
    .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id } }",
        json!({"app": app, "in": {"type": "CONFIGURATION_CHANGED", "url": hook_url}}),
    )
    .await;
    // 20 acknowledged changes, each an event (a runtime joining the application's scenario).
    for i in 0..20 {
        gql(
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": format!("rt-{i}"), "labels": {"scenarios": ["DEFAULT"]}}}),
        )
        .await;
    }
    // Attempts are in flight (the receiver holds them): kill -9.
    let deadline = Instant::now() + Duration::from_secs(20);
    while *arrived.lock().unwrap() == 0 {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let before_restart: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
    assert!(
        before_restart.len() < 20,
        "all delivered before the kill; nothing tested"
    );

    let server = start(&dir, ports);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
        if distinct.len() == 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of 20 events arrived after the restart",
            distinct.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
