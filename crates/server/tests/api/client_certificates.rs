//! An application's client certificates (Sextant extensions): `Application.clientCertificates`
//! lists what the Connector issued to its paired clients, and `revokeClientCertificate`
//! revokes one of them, which the mTLS listener then refuses; scoped by tenant, scope and
//! confinement; the list costs a constant number of statements.

use serde_json::{Value, json};
use sextant_domain::TenantId;

use crate::connector::{mtls_gql, paired_full, rustls_pki_types_der};
use crate::helpers::{Backend, TestApp};

const CERTIFICATES: &str = "query($id: ID!) { application(id: $id) { \
    clientCertificates { serial clientID notBefore expiresAt revokedAt } } }";
const REVOKE: &str = "mutation($serial: String!) { revokeClientCertificate(serial: $serial) { \
    serial clientID revokedAt } }";
const PROBE: &str = "{ applications { totalCount } }";

/// The serial of a PEM certificate, as the API writes it.
fn serial_of(pem: &str) -> String {
    let der = rustls_pki_types_der(pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn certificates(app: &TestApp, id: &str) -> Vec<Value> {
    app.gql(CERTIFICATES, json!({"id": id})).await["application"]["clientCertificates"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether a new connection presenting the identity gets through the handshake.
async fn handshake(app: &TestApp, identity: &str) -> bool {
    let ca = std::fs::read_to_string(app.server().data_dir.join("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    client
        .get(format!(
            "https://localhost:{}/healthz",
            app.server().mtls_addr.port()
        ))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn certificates_are_listed_and_revoked_one_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shop = app.register_app("shop", json!({})).await;
    let other = app.register_app("other", json!({})).await;
    let (client, client_id, pem, identity) = paired_full(&app, "Application", &shop).await;
    let (kept, _, kept_pem, _) = paired_full(&app, "Application", &shop).await;
    let (other_client, _, _, _) = paired_full(&app, "Application", &other).await;
    let serial = serial_of(&pem);

    let listed = certificates(&app, &shop).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let mine = listed
        .iter()
        .find(|c| c["serial"] == serial.as_str())
        .unwrap();
    assert_eq!(mine["clientID"], client_id.as_str());
    assert!(mine["revokedAt"].is_null());
    assert!(mine["notBefore"].as_str().unwrap() < mine["expiresAt"].as_str().unwrap());
    assert!(
        listed
            .iter()
            .any(|c| c["serial"] == serial_of(&kept_pem).as_str())
    );
    // The application sees its own; another application sees none of them.
    let (_, body) = mtls_gql(&app, &client, &[], CERTIFICATES, json!({"id": shop})).await;
    assert_eq!(
        body["data"]["application"]["clientCertificates"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{body}"
    );
    let (_, body) = mtls_gql(&app, &other_client, &[], CERTIFICATES, json!({"id": shop})).await;
    assert!(body["data"]["application"].is_null(), "{body}");

    // Refusals revoke nothing.
    let (_, stranger) = app.other_tenant();
    app.gql_error_as("NOT_FOUND", &stranger, REVOKE, json!({"serial": serial}))
        .await;
    let reader = app.token(&[TenantId::DEFAULT], &["application:read"]);
    app.gql_error_as(
        "INSUFFICIENT_SCOPES",
        &reader,
        REVOKE,
        json!({"serial": serial}),
    )
    .await;
    let (_, body) = mtls_gql(&app, &other_client, &[], REVOKE, json!({"serial": serial})).await;
    crate::helpers::assert_error_code(&body, "NOT_FOUND");
    app.gql_error("NOT_FOUND", REVOKE, json!({"serial": "00ff"}))
        .await;
    app.gql_error("INVALID_DATA", REVOKE, json!({"serial": "not hex"}))
        .await;
    assert!(
        certificates(&app, &shop)
            .await
            .iter()
            .all(|c| c["revokedAt"].is_null())
    );
    assert_eq!(mtls_gql(&app, &client, &[], PROBE, json!({})).await.0, 200);

    let revoked =
        app.gql(REVOKE, json!({"serial": serial})).await["revokeClientCertificate"].clone();
    assert_eq!(revoked["serial"], serial.as_str());
    assert_eq!(revoked["clientID"], client_id.as_str());
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    // Refused from the next request on, and at the handshake within seconds; the client's
    // other certificate still works.
    assert_eq!(mtls_gql(&app, &client, &[], PROBE, json!({})).await.0, 401);
    assert_eq!(mtls_gql(&app, &kept, &[], PROBE, json!({})).await.0, 200);
    let started = std::time::Instant::now();
    while handshake(&app, &identity).await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted at the handshake after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let listed = certificates(&app, &shop).await;
    let mine = listed
        .iter()
        .find(|c| c["serial"] == serial.as_str())
        .unwrap();
    assert!(mine["revokedAt"].is_string(), "{listed:?}");
    let others = listed
        .iter()
        .find(|c| c["serial"] != serial.as_str())
        .unwrap();
    assert!(others["revokedAt"].is_null(), "{listed:?}");
    assert!(crate::connector::is_revoked(&app, &pem).await);
}

/// The statements a page of every application with its certificates costs (the fewest of a
/// few runs: a loaded machine may split a loader's batch), and how many it listed.
async fn certificate_statements(app: &TestApp) -> (u64, usize) {
    let query = "{ applications { data { id clientCertificates { serial revokedAt } } } }";
    let mut fewest = u64::MAX;
    let mut listed = 0;
    for _ in 0..5 {
        let before = app.statements();
        let data = app.gql(query, json!({})).await;
        fewest = fewest.min(app.statements() - before);
        listed = data["applications"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["clientCertificates"].as_array().unwrap().len())
            .sum();
    }
    (fewest, listed)
}

/// Applications' certificates cost the same statements for one application with one
/// certificate as for four with two each.
async fn certificates_cost_constant_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.register_app("first", json!({})).await;
    paired_full(&app, "Application", &first).await;
    let (small, listed) = certificate_statements(&app).await;
    assert_eq!(listed, 1);
    for i in 0..3 {
        let id = app.register_app(&format!("more-{i}"), json!({})).await;
        paired_full(&app, "Application", &id).await;
        paired_full(&app, "Application", &id).await;
    }
    let (large, listed) = certificate_statements(&app).await;
    assert_eq!(listed, 7);
    assert_eq!(
        small, large,
        "statements must not grow with the certificates"
    );
    assert!(large <= 4, "the list costs {large} statements");
}

crate::on_both_backends!(
    certificates_are_listed_and_revoked_one_at_a_time,
    certificates_cost_constant_statements,
);
