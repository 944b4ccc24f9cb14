//! Connections held open against `sextant server` run as its own process with a low file
//! limit (256, like a small container): silent TCP sockets, TLS connections silent after the
//! handshake, HTTP/2 connections silent after the preface. They are closed by the server,
//! capped per address, and stop neither `/healthz` nor a runtime's configuration fetch; held
//! long polls keep working. Both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sextant_test_support::TestDatabase;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use common::{BIN, Backend, Plane, agent_pid};
use sextant_test_support::on_both_backends;

on_both_backends!(held_open_connections_stop_neither_health_nor_runtimes);

/// The server's file limit in this test.
const FILE_LIMIT: u32 = 256;

/// Kills the server process at the end of the test (Plane's drop kills its agents).
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sextant server` under `ulimit -n FILE_LIMIT` with short connection timeouts;
/// answers the process and a `Plane` (without an in-process server) aimed at it.
async fn server_with_a_low_file_limit(backend: Backend) -> (ServerProcess, Plane) {
    let db = TestDatabase::create(backend).await;
    let data_dir = db.dir.join("data");
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {FILE_LIMIT} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--mtls-listen",
            "127.0.0.1:0",
            "--fetch-allow-private",
            "--max-connections-per-peer",
            "8",
            "--handshake-timeout",
            "2s",
            "--idle-timeout",
            "2s",
            "--http2-keep-alive",
            "1s",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("SEXTANT_LOG", "warn")
        // No test reaches beyond loopback, not even with a DNS lookup.
        .env("SEXTANT_FETCH_ALLOW_HOSTS", "localhost,127.0.0.1,::1")
        .stdout(Stdio::piped());
    if backend == Backend::Postgres {
        command.arg("--database-url").arg(&db.url);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = ServerProcess(child);
    let (mut main, mut mtls, mut token_path) = (None, None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let line = line.trim();
        if let Some(url) = line.strip_prefix("Director GraphQL:") {
            let url = url::Url::parse(url.trim()).unwrap();
            main = url.port();
        } else if let Some(addr) = line.strip_prefix("mTLS listener:") {
            mtls = Some(addr.trim().parse::<SocketAddr>().unwrap().port());
        } else if let Some(path) = line.strip_prefix("Admin token:") {
            token_path = Some(path.trim().to_owned());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let ports = (main.unwrap(), mtls.unwrap());
    let token = std::fs::read_to_string(token_path.unwrap())
        .unwrap()
        .trim()
        .to_owned();
    let plane = Plane::attach(backend, db, data_dir, ports, token);
    (process, plane)
}

/// A TCP connection from `source` (an address of 127/8 of its own, as another host would
/// have) to `port`.
async fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

/// A TLS connection from `source` whose handshake completed, offering `alpn`.
async fn tls_from(
    ca_pem: &[u8],
    source: &str,
    port: u16,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = connect_from(source, port).await;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// Whether the server closes the connection (EOF or an error) within `within`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // Frames the server sends before it closes (SETTINGS, PING, GOAWAY).
            Ok(Ok(_)) => {}
        }
    }
}

async fn held_open_connections_stop_neither_health_nor_runtimes(backend: Backend) {
    let (mut server, plane) = server_with_a_low_file_limit(backend).await;
    let (main, mtls) = (plane.main_port, plane.mtls_port);
    let ca = std::fs::read(plane.data_dir.join("ca.crt")).unwrap();

    // A runtime, provisioned through the Provisioner: its agent (a child of the server,
    // with the same file limit) pairs and follows its configuration.
    let (op, runtime) = plane.provision("held-open", json!({})).await;
    plane.succeeded(&op).await;
    let agent = plane.agent_client(&runtime);
    let configuration = format!("https://localhost:{mtls}/runtime/configuration");
    let first = agent.get(&configuration).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    // The attack. TLS connections silent after the handshake, and HTTP/2 connections silent
    // after the preface (their pings unanswered), from two addresses.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tls_from(&ca, "127.0.0.2", main, b"http/1.1").await);
    }
    let mut preface = Vec::new();
    for _ in 0..8 {
        let mut h2 = tls_from(&ca, "127.0.0.3", main, b"h2").await;
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        h2.flush().await.unwrap();
        preface.push(h2);
    }
    // Plain TCP: far more than one address may hold on either listener, and from many
    // addresses more than the main listener takes at once (96 at this file limit).
    let mut tcp = Vec::new();
    for _ in 0..40 {
        tcp.push(connect_from("127.0.0.4", main).await);
        tcp.push(connect_from("127.0.0.4", mtls).await);
    }
    for host in 10..30 {
        for _ in 0..8 {
            tcp.push(connect_from(&format!("127.0.0.{host}"), main).await);
        }
    }

    // Meanwhile: the runtime's configuration (mTLS listener, at once), health on both
    // listeners (the main one once the silent connections are cut), over new connections.
    let started = Instant::now();
    let fresh = |identity: bool| {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .timeout(Duration::from_secs(20));
        if identity {
            let state = plane.runtime_dir(&runtime).join("state");
            let mut pem = std::fs::read(state.join("key.pem")).unwrap();
            pem.extend(std::fs::read(state.join("client.crt")).unwrap());
            builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        builder.build().unwrap()
    };
    let fetched = fresh(true).get(&configuration).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the mTLS listener kept its share: {:?}",
        started.elapsed()
    );
    let health = fresh(true)
        .get(format!("https://localhost:{mtls}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let health = fresh(false)
        .get(format!("https://localhost:{main}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "health took {:?}",
        started.elapsed()
    );

    // The silent connections were closed by the server (the time to the first request, plus
    // the grace a GOAWAY gets), not held.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "silent TLS"
        );
    }
    for stream in &mut preface {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "HTTP/2 preface"
        );
    }
    for stream in &mut tcp {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "silent TCP"
        );
    }

    // A held long poll outlives the idle timeout (2 s), over HTTP/2 (pinged meanwhile) and
    // HTTP/1.1: unchanged after 5 s, so 304.
    let http1 = {
        let state = plane.runtime_dir(&runtime).join("state");
        let mut pem = std::fs::read(state.join("key.pem")).unwrap();
        pem.extend(std::fs::read(state.join("client.crt")).unwrap());
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .identity(reqwest::Identity::from_pem(&pem).unwrap())
            .http1_only()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    for client in [&agent, &http1] {
        let started = Instant::now();
        let held = client
            .get(format!("{configuration}?wait=5"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(held.status(), 304);
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }

    // The server and the runtime's agent still run; the runtime is READY.
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
    assert!(
        agent_pid(&plane.runtime_dir(&runtime)).is_some(),
        "the agent exited"
    );
    let rt = plane.director_runtime(&runtime).await.unwrap();
    assert_eq!(rt["status"]["condition"], "READY", "{rt}");
}
