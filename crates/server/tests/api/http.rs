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

async fn mtls_listener_refuses_clients_without_certificate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!(
        "https://localhost:{}/healthz",
        app.server().mtls_addr.port()
    );
    let result = app.client.get(url).send().await;
    assert!(
        result.is_err(),
        "a client without a certificate must be refused: {result:?}"
    );
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
    let server = app.server.take().unwrap();
    let data_dir = server.data_dir.clone();
    let ca_before = std::fs::read(data_dir.join("ca.crt")).unwrap();
    server.stop().await;
    let restarted = sextant_server::start(sextant_server::ServerConfig {
        data_dir: data_dir.clone(),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(app.db.url.clone()),
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        mtls_listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
    })
    .await
    .unwrap();
    assert_eq!(std::fs::read(data_dir.join("ca.crt")).unwrap(), ca_before);
    app.base = format!("https://localhost:{}", restarted.main_addr.port());
    app.server = Some(restarted);
    // The same client (trusting the same CA) and the same admin token still work.
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
    mtls_listener_refuses_clients_without_certificate,
    plain_http_is_not_served,
    restart_keeps_data_ca_and_token,
);
