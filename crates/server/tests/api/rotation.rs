//! Rotating the CA with clients connected: clients of the old CA keep working until they
//! renew, new and renewed certificates come from the new CA, revocation keeps working for
//! both, and the old CA is retired only once no client depends on it.

use base64::Engine;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use sextant_pki::CertificateAuthority;
use sextant_server::Retirement;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::helpers::{Backend, TestApp};

/// A paired client: its certificate and key, and the CAs the Connector said to trust.
pub struct Paired {
    pub cert_pem: String,
    pub key_pem: String,
    pub trusted_pem: String,
}

impl Paired {
    /// An HTTPS client presenting this certificate and trusting `trusted_pem` (all of it).
    pub fn client(&self, trusted_pem: &str) -> reqwest::Client {
        let identity = format!("{}{}", self.cert_pem, self.key_pem);
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(trusted_pem.as_bytes()).unwrap())
            .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
            .build()
            .unwrap()
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

pub(crate) fn csr_for(subject: &str, key: &KeyPair) -> String {
    let mut dn = DistinguishedName::new();
    for part in subject.split(',') {
        let (name, value) = part.split_once('=').unwrap();
        let ty = match name {
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            _ => DnType::CommonName,
        };
        dn.push(ty, value);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    b64(&params.serialize_request(key).unwrap().pem().unwrap())
}

pub(crate) const SIGN: &str = "mutation($csr: String!) { signCertificateSigningRequest(csr: $csr) { certificateChain caCertificate clientCertificate } }";

fn certification(body: &Value, key: &KeyPair) -> Paired {
    let result = &body["data"]["signCertificateSigningRequest"];
    assert!(result.is_object(), "no certificate: {body}");
    Paired {
        cert_pem: unb64(&result["clientCertificate"]),
        key_pem: key.serialize_pem(),
        trusted_pem: unb64(&result["caCertificate"]),
    }
}

/// Pairs an application through the token-secured Connector.
async fn pair(app: &TestApp, app_id: &str) -> Paired {
    pair_as(app, "Application", app_id).await
}

/// Pairs an application or runtime (`kind`) through the token-secured Connector.
pub async fn pair_as(app: &TestApp, kind: &str, id: &str) -> Paired {
    let token = app
        .gql(
            &format!(
                "mutation($id: ID!) {{ t: requestOneTimeTokenFor{kind}(id: $id) {{ token }} }}"
            ),
            json!({"id": id}),
        )
        .await["t"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let connector = |token: String, query: &'static str, vars: Value| {
        let request = app
            .client
            .post(format!("{}/connector/graphql", app.base))
            .header("Connector-Token", token)
            .json(&json!({"query": query, "variables": vars}));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let config = connector(
        token,
        "{ configuration { token { token } certificateSigningRequestInfo { subject } } }",
        json!({}),
    )
    .await;
    let config = &config["data"]["configuration"];
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let csr_token = config["token"]["token"].as_str().unwrap().to_owned();
    let body = connector(csr_token, SIGN, json!({"csr": csr_for(subject, &key)})).await;
    certification(&body, &key)
}

pub(crate) fn mtls_url(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{path}", app.server().mtls_addr.port())
}

/// The status of a probe of the certificate-secured Director with a new connection, or
/// `None` when the handshake fails.
async fn probe(app: &TestApp, client: &reqwest::Client) -> Option<u16> {
    client
        .post(mtls_url(app, "/director/graphql"))
        .json(&json!({"query": "{ applications { totalCount } }"}))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Renews through the certificate-secured Connector.
pub(crate) async fn renew(app: &TestApp, paired: &Paired, trusted_pem: &str) -> Paired {
    let subject = {
        let body: Value = paired
            .client(trusted_pem)
            .post(mtls_url(app, "/connector/graphql"))
            .json(&json!({"query": "{ configuration { certificateSigningRequestInfo { subject } } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]["configuration"]["certificateSigningRequestInfo"]["subject"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let body: Value = paired
        .client(trusted_pem)
        .post(mtls_url(app, "/connector/graphql"))
        .json(&json!({"query": SIGN, "variables": {"csr": csr_for(&subject, &key)}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    certification(&body, &key)
}

pub(crate) async fn revoke(app: &TestApp, paired: &Paired, trusted_pem: &str) {
    let body: Value = paired
        .client(trusted_pem)
        .post(mtls_url(app, "/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
}

fn load_ca(dir: &std::path::Path, name: &str) -> CertificateAuthority {
    CertificateAuthority::from_pem(
        &std::fs::read_to_string(dir.join(format!("{name}.crt"))).unwrap(),
        &std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap(),
    )
    .unwrap()
}

/// Waits (at most 5 s, the revocation goal) until `paired` is refused at the handshake.
async fn refused_at_handshake_within_5s(app: &TestApp, paired: &Paired, trusted_pem: &str) {
    let started = std::time::Instant::now();
    // A new client (so a new connection) each time: a pooled connection was accepted before
    // the revocation.
    while probe(app, &paired.client(trusted_pem)).await.is_some() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted at the handshake after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn the_ca_rotates_without_cutting_off_clients(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let dir = app.server().data_dir.clone();
    let app_id = app.register_app("app", json!({})).await;
    let old_ca_pem = std::fs::read_to_string(dir.join("ca.crt")).unwrap();
    let a = pair(&app, &app_id).await; // renews during the rotation
    let c = pair(&app, &app_id).await; // revoked during the rotation
    let d = pair(&app, &app_id).await; // never renews: cut off at retirement
    assert_eq!(a.trusted_pem, old_ca_pem, "before a rotation: one CA");

    let rotation = sextant_server::rotate_ca(&dir).unwrap();
    assert!(
        sextant_server::rotate_ca(&dir).is_err(),
        "a second rotation waits for the retirement of the previous CA"
    );
    app.restart().await;
    let old_ca = load_ca(&dir, "ca-previous");
    let new_ca = load_ca(&dir, "ca");
    assert_eq!(old_ca.cert_pem(), old_ca_pem);
    assert_eq!(new_ca.cert_pem(), rotation.new_ca_pem);
    assert_ne!(new_ca.fingerprint(), old_ca.fingerprint());

    // Clients of the old CA, trusting only the old CA, keep working.
    for client in [&a, &c, &d] {
        assert_eq!(probe(&app, &client.client(&old_ca_pem)).await, Some(200));
    }
    // New certificates come from the new CA; clients are told to trust both.
    let b = pair(&app, &app_id).await;
    assert!(new_ca.signed(&b.cert_pem) && !old_ca.signed(&b.cert_pem));
    assert_eq!(
        b.trusted_pem,
        format!("{}{}", new_ca.cert_pem(), old_ca.cert_pem())
    );
    assert_eq!(probe(&app, &b.client(&b.trusted_pem)).await, Some(200));
    // Retirement is refused while clients depend on the old CA.
    let retire =
        |force| sextant_server::retire_previous_ca(&dir, database_url(&app, backend), force);
    assert_eq!(retire(false).await.unwrap(), Retirement::ClientsRemain(3));

    // Renewal moves a client to the new CA.
    let a2 = renew(&app, &a, &old_ca_pem).await;
    assert!(new_ca.signed(&a2.cert_pem));
    assert_eq!(probe(&app, &a2.client(&a2.trusted_pem)).await, Some(200));
    // Revocation works for certificates of both CAs, at the handshake: each CA has a CRL.
    revoke(&app, &c, &old_ca_pem).await;
    refused_at_handshake_within_5s(&app, &c, &old_ca_pem).await;
    revoke(&app, &b, &b.trusted_pem).await;
    refused_at_handshake_within_5s(&app, &b, &b.trusted_pem).await;
    assert_eq!(probe(&app, &a2.client(&a2.trusted_pem)).await, Some(200));
    assert_eq!(probe(&app, &d.client(&old_ca_pem)).await, Some(200));
    for (path, ca) in [
        ("/connector/crl", &new_ca),
        ("/connector/crl/previous", &old_ca),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let der = response.bytes().await.unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        let ca_der = ca.cert_der();
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert!(crl.verify_signature(ca_cert.public_key()).is_ok(), "{path}");
        assert_eq!(crl.iter_revoked_certificates().count(), 2, "{path}");
    }

    // d still depends on the old CA: retirement waits, unless forced.
    assert_eq!(retire(false).await.unwrap(), Retirement::ClientsRemain(1));
    assert!(dir.join("ca-previous.crt").exists());
    assert_eq!(
        retire(true).await.unwrap(),
        Retirement::Retired { clients_cut_off: 1 }
    );
    assert_eq!(retire(false).await.unwrap(), Retirement::NothingToRetire);
    app.restart().await;

    // The listeners' certificate now comes from the new CA: renewed clients (told to trust
    // both CAs) work; the old CA's certificates are refused at the handshake.
    assert_eq!(probe(&app, &a2.client(&a2.trusted_pem)).await, Some(200));
    assert_eq!(probe(&app, &d.client(&a2.trusted_pem)).await, None);
    assert_eq!(
        probe(&app, &a2.client(new_ca.cert_pem())).await,
        Some(200),
        "the new CA alone verifies the server"
    );
    let response = app
        .client
        .get(format!("{}/connector/crl/previous", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // A new rotation can start.
    sextant_server::rotate_ca(&dir).unwrap();
}

fn database_url(app: &TestApp, backend: Backend) -> Option<&str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(app.db.url.as_str()),
    }
}

crate::on_both_backends!(the_ca_rotates_without_cutting_off_clients);
