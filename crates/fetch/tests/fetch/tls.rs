//! HTTPS with an extra trusted root.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sextant_fetch::{FetchError, Fetcher};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::helpers::policy;

/// A CA certificate (PEM) and an HTTPS server for `localhost` and 127.0.0.1 that it signed.
async fn https_server() -> (String, SocketAddr) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fetch test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // the client refused our certificate
                };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(axum::body::Body::from("secure")))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (ca_cert.pem(), addr)
}

#[tokio::test]
async fn https_with_an_extra_root() {
    let (ca_pem, addr) = https_server().await;
    let target = format!("https://localhost:{}/spec", addr.port());

    let trusting = Fetcher::with_root_certificates(policy(), ca_pem.as_bytes()).unwrap();
    let fetched = trusting.fetch(&target, None).await.unwrap();
    assert_eq!(fetched.body, "secure");

    // Without the root, the server's certificate is not trusted.
    let error = Fetcher::new(policy())
        .unwrap()
        .fetch(&target, None)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[test]
fn root_certificates_must_be_pem() {
    let error = Fetcher::with_root_certificates(policy(), b"not a certificate").unwrap_err();
    assert!(matches!(error, FetchError::Other(_)), "{error:?}");
}
