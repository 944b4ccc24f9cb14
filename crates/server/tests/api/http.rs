//! The HTTP surface: TLS, health, readiness, metrics, the mTLS listener.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn health_ready_and_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    app.register_app("measured", json!({})).await;
    app.gql("{ applications { totalCount } }", json!({})).await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"sextant_graphql_requests_total{operation="mutation.registerApplication",outcome="ok"}"#,
        r#"sextant_graphql_requests_total{operation="query.applications",outcome="ok"}"#,
        "sextant_graphql_request_duration_seconds",
        r#"sextant_db_pool_connections{state="idle"}"#,
        "sextant_db_statements_total",
    ] {
        assert!(
            text.contains(expected),
            "/metrics lacks {expected}:\n{text}"
        );
    }
}

/// A client certificate signed by `ca_dir`'s CA (as the Connector will issue them), or by a
/// CA of its own when `foreign` is set.
fn client_identity(ca_dir: &std::path::Path, foreign: bool) -> reqwest::Identity {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let issuer = if foreign {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Issuer::from_ca_cert_pem(&cert.pem(), key).unwrap()
    } else {
        let key = std::fs::read_to_string(ca_dir.join("ca.key")).unwrap();
        let cert = std::fs::read_to_string(ca_dir.join("ca.crt")).unwrap();
        Issuer::from_ca_cert_pem(&cert, KeyPair::from_pem(&key).unwrap()).unwrap()
    };
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "some-client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    reqwest::Identity::from_pem(pem.as_bytes()).unwrap()
}

async fn mtls_listener_requires_a_certificate_of_the_ca(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!(
        "https://localhost:{}/healthz",
        app.server().mtls_addr.port()
    );
    let result = app.client.get(&url).send().await;
    assert!(
        result.is_err(),
        "a client without a certificate must be refused: {result:?}"
    );

    let data_dir = &app.server().data_dir;
    let ca = std::fs::read(data_dir.join("ca.crt")).unwrap();
    let ca = reqwest::Certificate::from_pem(&ca).unwrap();
    let with = |identity| {
        reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .identity(identity)
            .build()
            .unwrap()
    };
    let foreign = with(client_identity(data_dir, true)).get(&url).send().await;
    assert!(
        foreign.is_err(),
        "a certificate of another CA must be refused: {foreign:?}"
    );
    let ours = with(client_identity(data_dir, false));
    assert_eq!(ours.get(&url).send().await.unwrap().status(), 200);
}

async fn post_raw(app: &TestApp, token: Option<&str>, content_type: &str, body: String) -> u16 {
    let mut request = app
        .client
        .post(format!("{}/director/graphql", app.base))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn request_bodies_are_bounded_and_read_only_after_authentication(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let json = "application/json";
    let pad = "x".repeat(3 * 1024 * 1024);
    let big = format!(r#"{{"query": "{{ applications {{ totalCount }} }}", "pad": "{pad}"}}"#);
    // Without a token the body is not even read.
    assert_eq!(post_raw(&app, None, json, big.clone()).await, 401);
    // With a token, more than the limit is refused.
    assert_eq!(post_raw(&app, token, json, big).await, 413);
    // Not JSON (e.g. a multipart upload), malformed JSON: refused.
    let multipart = "multipart/form-data; boundary=x";
    assert_eq!(post_raw(&app, token, multipart, "--x--".into()).await, 415);
    assert_eq!(post_raw(&app, token, json, "{not json".into()).await, 400);
    // A query in a GET query string works.
    let response = app
        .client
        .get(format!(
            "{}/director/graphql?query=%7B%20applications%20%7B%20totalCount%20%7D%20%7D",
            app.base
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["applications"]["totalCount"], 0);
}

/// Aliased pages cost what they resolve (the execution budgets bound that); a document with
/// more selections than the limit is refused before it runs.
async fn aliases_cannot_multiply_page_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register_app("one", json!({})).await;
    let page = "applications(first: 100) { data { id name labels } totalCount }";
    let fields: Vec<String> = (0..60).map(|i| format!("a{i}: {page}")).collect();
    let data = app
        .gql(&format!("{{ {} }}", fields.join(" ")), json!({}))
        .await;
    assert_eq!(data["a59"]["totalCount"], 1);
    let fields: Vec<String> = (0..1_000).map(|i| format!("a{i}: {page}")).collect();
    let body = app
        .gql_as(
            &app.admin_token,
            &format!("{{ {} }}", fields.join(" ")),
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_LARGE");
}

async fn plain_http_is_not_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plain = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/healthz", app.server().main_addr.port());
    let result = plain.get(url).send().await;
    assert!(result.is_err() || !result.unwrap().status().is_success());
}

async fn restart_keeps_data_ca_and_token(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let id = app.register_app("survivor", json!({"env": "prod"})).await;
    let data_dir = app.server().data_dir.clone();
    let ca_before = std::fs::read(data_dir.join("ca.crt")).unwrap();
    let client = app.client.clone();
    app.restart().await;
    assert_eq!(std::fs::read(data_dir.join("ca.crt")).unwrap(), ca_before);
    // The same client (trusting the CA it trusted before) and the same admin token still work.
    app.client = client;
    let data = app
        .gql(
            "query($id: ID!) { application(id: $id) { name labels } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["application"]["name"], "survivor");
    assert_eq!(data["application"]["labels"]["env"], "prod");
}

on_both_backends!(
    health_ready_and_metrics,
    mtls_listener_requires_a_certificate_of_the_ca,
    request_bodies_are_bounded_and_read_only_after_authentication,
    aliases_cannot_multiply_page_work,
    plain_http_is_not_served,
    restart_keeps_data_ca_and_token,
);
