//! The event gateway: applications paired through the Connector post events with their
//! client certificate to the agent's gateway, which delivers them to its sink (a file, a
//! command, an HTTP endpoint) only for applications of the runtime's configuration.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use sextant_agent::{EventGatewayConfig, EventSink};

use crate::helpers::{AgentServer, Backend, RunningAgent, TestServer, eventually};

/// An application's client certificate and key (PEM).
struct AppIdentity {
    identity_pem: String,
}

/// Pairs an application through the token-secured Connector, as an application does.
async fn pair_application(server: &TestServer, app_id: &str) -> AppIdentity {
    let token = server
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token } }",
            json!({"id": app_id}),
        )
        .await["requestOneTimeTokenForApplication"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let connector = |token: String, query: &'static str, vars: Value| {
        let request = server
            .client
            .post(format!("{}/connector/graphql", server.base))
            .header("Connector-Token", token)
            .json(&json!({"query": query, "variables": vars}));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let body = connector(
        token,
        "{ configuration { token { token } certificateSigningRequestInfo { subject } } }",
        json!({}),
    )
    .await;
    let config = &body["data"]["configuration"];
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap();
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
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let csr = base64::engine::general_purpose::STANDARD.encode(csr);
    let body = connector(
        config["token"]["token"].as_str().unwrap().to_owned(),
        "mutation($csr: String!) { signCertificateSigningRequest(csr: $csr) { clientCertificate } }",
        json!({"csr": csr}),
    )
    .await;
    let cert = base64::engine::general_purpose::STANDARD
        .decode(
            body["data"]["signCertificateSigningRequest"]["clientCertificate"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    AppIdentity {
        identity_pem: format!(
            "{}{}",
            String::from_utf8(cert).unwrap(),
            key.serialize_pem()
        ),
    }
}

/// The runtime serving CA, as applications fetch it.
async fn serving_ca(server: &TestServer) -> String {
    server
        .client
        .get(format!("{}/connector/runtime-serving-ca", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A fresh client (a new connection each time) trusting `ca` and presenting `identity`.
fn client(ca: &str, identity: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30));
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn event(kind: &str) -> Value {
    json!({"event-type": kind, "event-type-version": "v1",
           "event-time": "2019-12-24T18:00:00Z", "data": {"order": 42}})
}

/// Posts to `url`; the status, or `None` when the connection is refused (handshake).
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Option<(u16, Value)> {
    let response = client.post(url).json(body).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Starts an agent with an event gateway delivering to `sink`; answers it with the gateway's
/// URL once the runtime reports it and the gateway serves.
async fn agent_with_gateway(
    server: &TestServer,
    runtime: &str,
    sink: EventSink,
) -> (RunningAgent, String) {
    let previous = server.runtime(runtime).await["labels"]["runtime/event_service_url"].clone();
    let token = server.runtime_token(runtime).await;
    let mut config = server.agent_config(runtime, Some(&token), &server.state_dir());
    config.event_service_url = None;
    let mut gateway = EventGatewayConfig::new("127.0.0.1:0".parse().unwrap(), sink);
    gateway.crl_refresh = Duration::from_secs(1);
    config.event_gateway = Some(gateway);
    let agent = RunningAgent::spawn(config);
    let url = eventually(
        Duration::from_secs(30),
        "the event gateway URL label",
        || async {
            let label =
                server.runtime(runtime).await["labels"]["runtime/event_service_url"].clone();
            (label != previous)
                .then(|| label.as_str().map(str::to_owned))
                .flatten()
        },
    )
    .await;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_ne!(url, "https://127.0.0.1:0");
    (agent, url)
}

async fn events_reach_the_file_sink_only_from_the_runtime_s_applications(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let other = server
        .director(r#"{ applications { data { id name } } }"#, json!({}))
        .await["applications"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "other")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sink = server.db.dir.join("events.jsonl");
    let (agent, url) = agent_with_gateway(&server, &runtime, EventSink::File(sink.clone())).await;
    let ca = serving_ca(&server).await;
    let shop_id = pair_application(&server, &shop).await;
    let other_id = pair_application(&server, &other).await;
    let shop_client = client(&ca, Some(&shop_id.identity_pem));

    // (a) Delivered, once the gateway serves.
    let (status, body) = eventually(Duration::from_secs(30), "the gateway serves", || async {
        post(
            &shop_client,
            &format!("{url}/shop/v1/events"),
            &event("order.created"),
        )
        .await
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["event-id"].as_str().unwrap().to_owned();
    let delivered = lines(&sink);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event-id"], id.as_str());
    assert_eq!(delivered[0]["event-type"], "order.created");
    assert_eq!(delivered[0]["data"], json!({"order": 42}));
    assert_eq!(delivered[0]["application-id"], shop.as_str());
    assert_eq!(delivered[0]["application-name"], "shop");
    assert_eq!(delivered[0]["runtime-id"], runtime.as_str());
    let mut with_id = event("order.paid");
    with_id["event-id"] = json!("evt-1");
    let (status, body) = post(&shop_client, &format!("{url}/v1/events"), &with_id)
        .await
        .unwrap();
    assert_eq!((status, body["event-id"].clone()), (200, json!("evt-1")));
    assert_eq!(lines(&sink).len(), 2);

    // (f) A path naming another application.
    let (status, _) = post(&shop_client, &format!("{url}/other/v1/events"), &event("x"))
        .await
        .unwrap();
    assert_eq!(status, 403);
    // (g) Malformed events.
    let mut no_time = event("order.created");
    no_time.as_object_mut().unwrap().remove("event-time");
    for (bad, message) in [
        (no_time, "event-time is required"),
        (json!({"event-type": 1}), "must be a string"),
        (json!([1, 2]), "not a JSON object"),
    ] {
        let (status, body) = post(&shop_client, &format!("{url}/v1/events"), &bad)
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains(message), "{body}");
    }
    // (b) An application outside the runtime's scenarios.
    let (status, body) = post(
        &client(&ca, Some(&other_id.identity_pem)),
        &format!("{url}/v1/events"),
        &event("x"),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not an application of this runtime")
    );
    // (d) No client certificate, or one of another CA: refused at the handshake.
    assert!(
        post(&client(&ca, None), &format!("{url}/v1/events"), &event("x"))
            .await
            .is_none()
    );
    let foreign = {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let foreign_ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, shop.as_str());
        let cert = params.signed_by(&key, &issuer).unwrap();
        drop(foreign_ca);
        format!("{}{}", cert.pem(), key.serialize_pem())
    };
    assert!(
        post(
            &client(&ca, Some(&foreign)),
            &format!("{url}/v1/events"),
            &event("x")
        )
        .await
        .is_none()
    );
    assert_eq!(lines(&sink).len(), 2, "nothing refused was delivered");

    // (e) A revoked certificate: refused once the gateway has the new CRL.
    let (status, _) = post(
        &client(&ca, Some(&shop_id.identity_pem)),
        &format!("{url}/v1/events"),
        &event("y"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let revoker = {
        let roots = vec![
            reqwest::Certificate::from_pem(&std::fs::read(server.data_dir.join("ca.crt")).unwrap())
                .unwrap(),
        ];
        reqwest::Client::builder()
            .tls_certs_only(roots)
            .identity(reqwest::Identity::from_pem(shop_id.identity_pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let revoked: Value = revoker
        .post(server.mtls_url("/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["data"]["revokeCertificate"], true, "{revoked}");
    eventually(
        Duration::from_secs(15),
        "the revoked certificate is refused",
        || async {
            post(
                &client(&ca, Some(&shop_id.identity_pem)),
                &format!("{url}/v1/events"),
                &event("z"),
            )
            .await
            .is_none()
            .then_some(())
        },
    )
    .await;
    // Accepted until then (the CRL takes a few seconds to travel); nothing after.
    let delivered = lines(&sink).len();
    assert!(
        post(
            &client(&ca, Some(&shop_id.identity_pem)),
            &format!("{url}/v1/events"),
            &event("z")
        )
        .await
        .is_none()
    );
    assert_eq!(lines(&sink).len(), delivered);
    agent.stop().await;
}

async fn an_application_removed_from_the_scenario_is_refused_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let sink = server.db.dir.join("events.jsonl");
    let (agent, url) = agent_with_gateway(&server, &runtime, EventSink::File(sink.clone())).await;
    let ca = serving_ca(&server).await;
    let shop_id = pair_application(&server, &shop).await;
    let shop_client = client(&ca, Some(&shop_id.identity_pem));
    let (status, _) = eventually(Duration::from_secs(30), "the gateway serves", || async {
        post(&shop_client, &format!("{url}/shop/v1/events"), &event("a")).await
    })
    .await;
    assert_eq!(status, 200);
    // The same connection stays open: the check is per event, not per connection.
    let kept = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(shop_id.identity_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        post(&kept, &format!("{url}/v1/events"), &event("b"))
            .await
            .unwrap()
            .0,
        200
    );

    server
        .director(
            "mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: \"scenarios\", value: [\"DEFAULT\"]) { key } }",
            json!({"id": shop}),
        )
        .await;
    agent
        .configuration_until(
            Duration::from_secs(10),
            "shop leaves the configuration",
            |c| c.applications.is_empty(),
        )
        .await;
    let (status, _) = post(&kept, &format!("{url}/v1/events"), &event("c"))
        .await
        .unwrap();
    assert_eq!(status, 403, "refused at once, on an open connection too");
    assert_eq!(lines(&sink).len(), 2);
    agent.stop().await;
}

/// A local HTTP endpoint recording what it is sent; `/fail` answers 500.
async fn http_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let store = received.clone();
    let app = axum::Router::new()
        .route(
            "/events",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(body);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/fail",
            axum::routing::post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

async fn events_reach_command_and_http_sinks(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed().await;
    let ca = serving_ca(&server).await;
    let shop_id = pair_application(&server, &shop).await;
    let shop_client = client(&ca, Some(&shop_id.identity_pem));
    let out = server.db.dir.join("command-out.jsonl");
    let (receiver, received) = http_receiver().await;

    for (sink, check) in [
        (
            format!("command:/bin/sh -c cat>>{}", out.display()),
            "command",
        ),
        (format!("{receiver}/events"), "http"),
        ("command:/bin/false".to_owned(), "failing command"),
        (format!("{receiver}/fail"), "failing http"),
    ] {
        let _ = std::fs::remove_dir_all(server.state_dir());
        let (agent, url) = agent_with_gateway(&server, &runtime, sink.parse().unwrap()).await;
        let (status, body) = eventually(Duration::from_secs(30), "the gateway serves", || async {
            post(
                &shop_client,
                &format!("{url}/shop/v1/events"),
                &event("order.created"),
            )
            .await
        })
        .await;
        match check {
            "command" => {
                assert_eq!(status, 200, "{body}");
                let delivered = lines(&out);
                assert_eq!(delivered.len(), 1);
                assert_eq!(delivered[0]["application-name"], "shop");
                assert_eq!(delivered[0]["event-id"], body["event-id"]);
            }
            "http" => {
                assert_eq!(status, 200, "{body}");
                let delivered = received.lock().unwrap().clone();
                assert_eq!(delivered.len(), 1);
                assert_eq!(delivered[0]["runtime-id"], runtime.as_str());
                assert_eq!(delivered[0]["event-id"], body["event-id"]);
            }
            _ => assert_eq!(status, 502, "{check}: {body}"),
        }
        agent.stop().await;
    }
}

crate::on_both_backends!(
    events_reach_the_file_sink_only_from_the_runtime_s_applications,
    an_application_removed_from_the_scenario_is_refused_at_once,
    events_reach_command_and_http_sinks,
);
