//! End-to-end tests of `sextant_tls::serve` with certificates from `sextant_pki`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use rustls_pki_types::CertificateRevocationListDer;
use sextant_pki::{CertificateAuthority, CertifiedKey, generate_ca};
use sextant_tls::{
    ClientAuth, ConnectionLimits, PeerCertificates, SharedServerConfig, serve, serve_with,
    server_config,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A CA with its key, as the server would keep it.
struct TestCa {
    generated: CertifiedKey,
    ca: CertificateAuthority,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let generated = generate_ca(name, DAY).unwrap();
        let ca = CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem).unwrap();
        Self { generated, ca }
    }

    fn server_cert(&self) -> CertifiedKey {
        self.ca
            .issue_server_certificate(&["localhost".to_owned(), "127.0.0.1".to_owned()], DAY)
            .unwrap()
    }

    fn issuer(&self) -> Issuer<'static, KeyPair> {
        let key = KeyPair::from_pem(&self.generated.key_pem).unwrap();
        Issuer::from_ca_cert_pem(&self.generated.cert_pem, key).unwrap()
    }

    /// A client certificate as an agent would get it, plus its serial for revocation.
    fn client_cert(&self, name: &str, serial: u8) -> (CertifiedKey, SerialNumber) {
        let key = KeyPair::generate().unwrap();
        let serial = SerialNumber::from_slice(&[0x10, serial]);
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(serial.clone());
        let cert = params.signed_by(&key, &self.issuer()).unwrap();
        let certified = CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        (certified, serial)
    }

    fn crl_revoking(&self, serial: SerialNumber) -> CertificateRevocationListDer<'static> {
        let now = time::OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(1),
            next_update: now + time::Duration::days(1),
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: serial,
                revocation_time: now - time::Duration::minutes(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer()).unwrap().der().clone()
    }
}

struct Server {
    addr: SocketAddr,
    config: SharedServerConfig,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(config: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(config, None).await
    }

    async fn start_with(
        config: Arc<rustls::ServerConfig>,
        limits: Option<ConnectionLimits>,
    ) -> Self {
        sextant_tls::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config: SharedServerConfig = Arc::new(ArcSwap::new(config));
        let shutdown = CancellationToken::new();
        let task = match limits {
            None => tokio::spawn(serve(listener, config.clone(), app(), shutdown.clone())),
            Some(limits) => tokio::spawn(serve_with(
                listener,
                config.clone(),
                app(),
                limits,
                shutdown.clone(),
            )),
        };
        Self {
            addr,
            config,
            shutdown,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "late"
            }),
        )
        .route(
            "/remote",
            get(|ConnectInfo(remote): ConnectInfo<SocketAddr>| async move {
                remote.ip().to_string()
            }),
        )
        .route(
            "/peer",
            get(|peer: Option<Extension<PeerCertificates>>| async move {
                // The leaf certificate's DER, or nothing without a client certificate.
                match peer {
                    Some(Extension(PeerCertificates(chain))) => chain[0].to_vec(),
                    None => Vec::new(),
                }
            }),
        )
}

fn client(ca: &TestCa, identity: Option<&CertifiedKey>) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(ca.generated.cert_pem.as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([root])
        // Never go through a proxy from the environment, and a fresh connection per client.
        .no_proxy()
        .timeout(Duration::from_secs(10));
    if let Some(identity) = identity {
        let pem = format!("{}{}", identity.cert_pem, identity.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn config(cert: &CertifiedKey, client_auth: ClientAuth) -> Arc<rustls::ServerConfig> {
    server_config(&cert.cert_pem, &cert.key_pem, client_auth).unwrap()
}

#[tokio::test]
async fn https_request_is_served_and_verified_against_the_ca() {
    let ca = TestCa::new("test CA");
    let server = Server::start(config(&ca.server_cert(), ClientAuth::None)).await;

    let response = client(&ca, None).get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // ALPN picked HTTP/2.
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "hello");

    // HTTP/1.1 works too, by IP SAN, and ConnectInfo is there.
    let http1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.generated.cert_pem.as_bytes()).unwrap()])
        .no_proxy()
        .http1_only()
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/remote", server.addr.port());
    let response = http1.get(url).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.text().await.unwrap(), "127.0.0.1");

    // No client certificate, no PeerCertificates.
    let body = client(&ca, None)
        .get(server.url("/peer"))
        .send()
        .await
        .unwrap();
    assert!(body.bytes().await.unwrap().is_empty());

    // A client that trusts another CA refuses the server.
    let other = TestCa::new("other CA");
    assert!(
        client(&other, None)
            .get(server.url("/"))
            .send()
            .await
            .is_err()
    );

    server.stop().await;
}

#[tokio::test]
async fn a_stalled_client_does_not_block_others() {
    let ca = TestCa::new("test CA");
    let server = Server::start(config(&ca.server_cert(), ClientAuth::None)).await;

    // Connects but never starts the handshake.
    let _stalled = TcpStream::connect(server.addr).await.unwrap();
    let response = client(&ca, None).get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // Shutdown does not wait for the stalled handshake.
    server.stop().await;
}

#[tokio::test]
async fn client_certificates_are_required_and_exposed() {
    let ca = TestCa::new("test CA");
    let auth = ClientAuth::Required {
        roots_pem: ca.generated.cert_pem.clone(),
        crls_der: Vec::new(),
    };
    let server = Server::start(config(&ca.server_cert(), auth)).await;

    // Without a certificate the handshake is refused.
    assert!(client(&ca, None).get(server.url("/")).send().await.is_err());

    // With one from another CA as well.
    let other = TestCa::new("other CA");
    let (foreign, _) = other.client_cert("intruder", 1);
    assert!(
        client(&ca, Some(&foreign))
            .get(server.url("/"))
            .send()
            .await
            .is_err()
    );

    // With one signed by the CA it gets through, and the handler sees the chain.
    let (agent, _) = ca.client_cert("agent-1", 2);
    let response = client(&ca, Some(&agent))
        .get(server.url("/peer"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let leaf = rustls_pki_types::pem::PemObject::from_pem_slice(agent.cert_pem.as_bytes())
        .map(|der: rustls_pki_types::CertificateDer<'_>| der.to_vec())
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().to_vec(), leaf);

    server.stop().await;
}

#[tokio::test]
async fn revoked_client_certificates_are_refused() {
    let ca = TestCa::new("test CA");
    let (good, _) = ca.client_cert("agent-good", 1);
    let (revoked, revoked_serial) = ca.client_cert("agent-revoked", 2);
    let auth = ClientAuth::Required {
        roots_pem: ca.generated.cert_pem.clone(),
        crls_der: vec![ca.crl_revoking(revoked_serial)],
    };
    let server = Server::start(config(&ca.server_cert(), auth)).await;

    let response = client(&ca, Some(&good))
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        client(&ca, Some(&revoked))
            .get(server.url("/"))
            .send()
            .await
            .is_err()
    );

    server.stop().await;
}

#[tokio::test]
async fn swapping_the_config_applies_to_new_connections() {
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let server = Server::start(config(&old_ca.server_cert(), ClientAuth::None)).await;

    let old_client = client(&old_ca, None);
    assert_eq!(
        old_client
            .get(server.url("/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        client(&new_ca, None)
            .get(server.url("/"))
            .send()
            .await
            .is_err()
    );

    server
        .config
        .store(config(&new_ca.server_cert(), ClientAuth::None));

    let response = client(&new_ca, None)
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        client(&old_ca, None)
            .get(server.url("/"))
            .send()
            .await
            .is_err()
    );

    server.stop().await;
}

#[tokio::test]
async fn cancelling_shutdown_makes_serve_return() {
    let ca = TestCa::new("test CA");
    let server = Server::start(config(&ca.server_cert(), ClientAuth::None)).await;
    let addr = server.addr;

    // Leave an idle keep-alive connection open: shutdown must close it, not wait for it.
    let keep_alive = client(&ca, None);
    let response = keep_alive.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");

    server.stop().await;

    // The listener is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn invalid_inputs_are_errors() {
    let ca = TestCa::new("test CA");
    let cert = ca.server_cert();
    let other = ca.server_cert();
    // Key of another certificate.
    assert!(server_config(&cert.cert_pem, &other.key_pem, ClientAuth::None).is_err());
    // No key at all.
    assert!(server_config(&cert.cert_pem, "", ClientAuth::None).is_err());
    // Client auth without roots.
    let no_roots = ClientAuth::Required {
        roots_pem: String::new(),
        crls_der: Vec::new(),
    };
    assert!(matches!(
        server_config(&cert.cert_pem, &cert.key_pem, no_roots),
        Err(sextant_tls::TlsError::NoRoots)
    ));
}

// --- connection limits ---

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn short_limits() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: 100,
        max_per_peer: 100,
        handshake_timeout: ms(500),
        idle_timeout: ms(600),
        keep_alive_interval: ms(400),
    }
}

/// A TCP connection from `source` (any address of 127/8) to the server.
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// A TLS client connection that completes the handshake (offering `alpn`).
async fn tls_from(
    ca: &TestCa,
    source: &str,
    server: SocketAddr,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let der =
        rustls_pki_types::CertificateDer::from_pem_slice(ca.generated.cert_pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = connect_from(source, server).await;
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// How long until the server closes the connection (EOF or an error), at most `within`.
async fn closed_after<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    within: Duration,
) -> Duration {
    use tokio::io::AsyncReadExt as _;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            within.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => panic!("the server kept the connection open for {within:?}"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            // Server frames (HTTP/2 SETTINGS, pings, GOAWAY) before the close.
            Ok(Ok(_)) => {}
        }
    }
}

use rustls_pki_types::pem::PemObject as _;

#[tokio::test]
async fn silent_connections_are_closed() {
    let ca = TestCa::new("test CA");
    let server = Server::start_with(
        config(&ca.server_cert(), ClientAuth::None),
        Some(short_limits()),
    )
    .await;

    // Plain TCP, never a handshake.
    let mut tcp = connect_from("127.0.0.1", server.addr).await;
    // A handshake, then nothing.
    let mut tls = tls_from(&ca, "127.0.0.1", server.addr, b"http/1.1").await;
    // HTTP/2: the preface and an empty SETTINGS frame, then silence (pings unanswered).
    let mut h2 = tls_from(&ca, "127.0.0.1", server.addr, b"h2").await;
    {
        use tokio::io::AsyncWriteExt as _;
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        h2.flush().await.unwrap();
    }
    let (a, b, c) = tokio::join!(
        closed_after(&mut tcp, Duration::from_secs(5)),
        closed_after(&mut tls, Duration::from_secs(5)),
        closed_after(&mut h2, Duration::from_secs(5)),
    );
    for (what, took) in [("tcp", a), ("tls", b), ("h2", c)] {
        assert!(took >= ms(400), "{what} closed too early: {took:?}");
        // The limit plus the grace an HTTP/2 peer gets to acknowledge GOAWAY at most.
        assert!(took < Duration::from_secs(4), "{what} took {took:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_is_closed_but_long_requests_are_served() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ca = TestCa::new("test CA");
    let server = Server::start_with(
        config(&ca.server_cert(), ClientAuth::None),
        Some(short_limits()),
    )
    .await;

    // A request that takes longer than the idle timeout is answered, over HTTP/2 (pinged
    // meanwhile; reqwest answers pings) and HTTP/1.1.
    let response = client(&ca, None)
        .get(server.url("/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "late");
    let http1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.generated.cert_pem.as_bytes()).unwrap()])
        .no_proxy()
        .http1_only()
        .build()
        .unwrap();
    let response = http1.get(server.url("/slow")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "late");

    // An HTTP/1.1 keep-alive connection is answered, then closed once idle.
    let mut tls = tls_from(&ca, "127.0.0.1", server.addr, b"http/1.1").await;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let took = closed_after(&mut tls, Duration::from_secs(5)).await;
    assert!(took >= ms(500) && took < Duration::from_secs(3), "{took:?}");
    server.stop().await;
}

#[tokio::test]
async fn connections_are_capped_per_peer_and_in_total() {
    let ca = TestCa::new("test CA");
    let limits = ConnectionLimits {
        max_connections: 4,
        max_per_peer: 2,
        handshake_timeout: Duration::from_secs(2),
        ..short_limits()
    };
    let server =
        Server::start_with(config(&ca.server_cert(), ClientAuth::None), Some(limits)).await;

    // Two silent connections from one address are held; its third is closed at once.
    let _one = connect_from("127.0.0.2", server.addr).await;
    let _two = connect_from("127.0.0.2", server.addr).await;
    let mut third = connect_from("127.0.0.2", server.addr).await;
    let took = closed_after(&mut third, Duration::from_secs(1)).await;
    assert!(took < ms(500), "{took:?}");

    // Another address is served meanwhile.
    let other = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.generated.cert_pem.as_bytes()).unwrap()])
        .no_proxy()
        .local_address(Some("127.0.0.3".parse().unwrap()))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/remote", server.addr.port());
    assert_eq!(
        other.get(&url).send().await.unwrap().text().await.unwrap(),
        "127.0.0.3"
    );

    // At the total limit (4), a new client waits until a silent connection is closed, then
    // is served.
    let _three = connect_from("127.0.0.4", server.addr).await;
    let _four = connect_from("127.0.0.4", server.addr).await;
    tokio::time::sleep(ms(100)).await;
    let started = std::time::Instant::now();
    let fifth = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.generated.cert_pem.as_bytes()).unwrap()])
        .no_proxy()
        .local_address(Some("127.0.0.5".parse().unwrap()))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(
        fifth.get(&url).send().await.unwrap().text().await.unwrap(),
        "127.0.0.5"
    );
    let waited = started.elapsed();
    assert!(
        waited > ms(1000),
        "served before a slot was free: {waited:?}"
    );
    server.stop().await;
}
