//! The `sextant` binary as scripts use it: `server`, `admin token`, `schema director`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_sextant");

struct Server {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Spawns `sextant server` on free ports with a fresh data directory.
fn spawn_server() -> (Child, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("sextant-cli-{}", uuid::Uuid::new_v4().simple()));
    let child = Command::new(BIN)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--mtls-listen",
            "127.0.0.1:0",
            // No test reaches beyond loopback, not even with a DNS lookup.
            "--fetch-allow-hosts",
            "localhost,127.0.0.1,::1",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .env("SEXTANT_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    (child, dir)
}

/// Starts `sextant server` and reads its URL from what it prints.
fn start_server() -> Server {
    let (mut child, dir) = spawn_server();
    let stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut url = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("Director GraphQL:") {
            url = Some(rest.trim().to_owned());
            break;
        }
        assert!(Instant::now() < deadline, "server did not print its URL");
    }
    // Keep reading what the server prints, as a terminal would.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        dir,
        url: url.expect("server printed its URL"),
    }
}

fn client(dir: &std::path::Path) -> reqwest::Client {
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn server_survives_a_closed_stdout() {
    let (mut child, dir) = spawn_server();
    // Close our end of stdout at once, like `sextant server | head -0`.
    drop(child.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("admin-token").exists() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(still_running, "the server died when its stdout was closed");
}

#[test]
fn schema_director_prints_the_committed_sdl() {
    let out = Command::new(BIN)
        .args(["schema", "director"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, include_str!("../../director/schema.graphql"));
}

#[test]
fn an_invalid_egress_allow_list_is_refused_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("sextant-none-{}", uuid::Uuid::new_v4().simple()));
    for (flag, env) in [
        (Some("localhost,https://hooks.example.com"), None),
        (None, Some("localhost,,::1")),
    ] {
        let mut command = Command::new(BIN);
        command.args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--mtls-listen",
            "127.0.0.1:0",
        ]);
        command.arg("--data-dir").arg(&dir);
        if let Some(flag) = flag {
            command.args(["--fetch-allow-hosts", flag]);
        }
        if let Some(env) = env {
            command.env("SEXTANT_FETCH_ALLOW_HOSTS", env);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--fetch-allow-hosts"), "{stderr}");
        assert!(
            stderr.contains("is not a host pattern") || stderr.contains("empty entry"),
            "{stderr}"
        );
    }
    // Refused before anything was written.
    assert!(!dir.exists());
}

#[test]
fn admin_token_without_a_data_dir_fails_clearly() {
    let dir = std::env::temp_dir().join(format!("sextant-none-{}", uuid::Uuid::new_v4().simple()));
    let out = Command::new(BIN)
        .args([
            "admin",
            "token",
            "--tenant",
            &uuid::Uuid::new_v4().to_string(),
        ])
        .args(["--scopes", "application:read", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signing key"));
}

#[tokio::test]
async fn server_creates_its_data_dir_and_admin_tokens_carry_tenant_and_scopes() {
    use std::os::unix::fs::PermissionsExt;
    let server = start_server();
    for (file, mode) in [
        ("ca.key", 0o600),
        ("admin-token", 0o600),
        ("jwt.key", 0o600),
        ("server.key", 0o600),
    ] {
        let meta = std::fs::metadata(server.dir.join(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{file}");
    }
    assert!(server.dir.join("ca.crt").exists());
    let http = client(&server.dir);
    let graphql = server.url.clone();

    // The admin token from the data dir works.
    let admin = std::fs::read_to_string(server.dir.join("admin-token")).unwrap();
    let body: serde_json::Value = http
        .post(&graphql)
        .bearer_auth(admin.trim())
        .json(&json!({"query": "mutation { registerApplication(in: {name: \"a\", providerName: \"p\"}) { id } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        body["data"]["registerApplication"]["id"].is_string(),
        "{body}"
    );

    // A read-only token for another tenant: sees nothing of the default tenant, cannot write.
    let tenant = uuid::Uuid::new_v4();
    let out = Command::new(BIN)
        .args(["admin", "token", "--tenant", &tenant.to_string()])
        .args(["--scopes", "application:read", "--ttl", "10m", "--data-dir"])
        .arg(&server.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let ask = |query: &'static str| {
        http.post(&graphql)
            .bearer_auth(token.trim())
            .json(&json!({"query": query}))
            .send()
    };
    let body: serde_json::Value = ask("{ applications { totalCount } }")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["applications"]["totalCount"], 0);
    let body: serde_json::Value =
        ask("mutation { registerApplication(in: {name: \"b\", providerName: \"p\"}) { id } }")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "insufficient scopes provided, required: [application:write], actual: [application:read]"
    );
}
