//! The application gateway over real HTTP: a workload's call reaches the application's API
//! (a real local HTTP server standing in for the application) with the runtime's credentials,
//! never the workload's; configuration changes apply at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{Value, json};
use sextant_domain::runtime_config::{
    ConfiguredApi, ConfiguredApplication, CredentialsSource, RuntimeConfiguration,
};
use sextant_domain::{Auth, Credential};
use sextant_fetch::{FetchPolicy, Fetcher, HostAllowList};
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

/// The application's API: echoes what it received; answers 401 without the expected basic
/// credentials on `/v1/...`.
async fn application_api() -> String {
    async fn echo(
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("rt-user:rt-pass")
        );
        let authorized = headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap_or_default() == expected);
        if uri.path().starts_with("/v1") && !authorized {
            return (axum::http::StatusCode::UNAUTHORIZED, "who are you").into_response();
        }
        let seen: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        (
            axum::http::StatusCode::CREATED,
            [("x-app", "shop"), ("set-cookie", "session=secret")],
            axum::Json(json!({
                "method": method.as_str(),
                "uri": uri.to_string(),
                "headers": seen,
                "body": body,
            })),
        )
            .into_response()
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(echo))
            .await
            .unwrap()
    });
    format!("http://{addr}")
}

fn api(name: &str, target_url: String, credentials: Option<Auth>) -> ConfiguredApi {
    ConfiguredApi {
        id: Uuid::new_v4(),
        name: sextant_domain::Name::from_stored(name.to_owned()),
        description: None,
        target_url,
        group: None,
        version: None,
        spec: None,
        credentials_source: if credentials.is_some() {
            CredentialsSource::Runtime
        } else {
            CredentialsSource::None
        },
        credentials,
    }
}

fn configuration(apis: Vec<ConfiguredApi>) -> Arc<RuntimeConfiguration> {
    Arc::new(RuntimeConfiguration {
        runtime_id: Uuid::new_v4(),
        tenant: Uuid::new_v4(),
        runtime_name: sextant_domain::Name::parse("rt".to_owned()).unwrap(),
        event_service_url: None,
        scenarios: vec!["SHOP".to_owned()],
        applications: vec![ConfiguredApplication {
            id: Uuid::new_v4(),
            name: sextant_domain::Name::parse("shop".to_owned()).unwrap(),
            description: None,
            labels: BTreeMap::new(),
            apis,
            events: Vec::new(),
        }],
    })
}

fn basic() -> Auth {
    let mut headers = BTreeMap::new();
    headers.insert("x-runtime".to_owned(), vec!["rt".to_owned()]);
    let mut query = BTreeMap::new();
    query.insert("tenant".to_owned(), vec!["acme".to_owned()]);
    Auth {
        credential: Credential::Basic {
            username: "rt-user".to_owned(),
            password: "rt-pass".to_owned(),
        },
        additional_headers: Some(headers),
        additional_query_params: Some(query),
        request_auth: None,
    }
}

/// Serves the gateway on a local port; answers its base URL and the configuration sender.
async fn gateway(
    allow_private: bool,
) -> (String, watch::Sender<Option<Arc<RuntimeConfiguration>>>) {
    let (tx, rx) = watch::channel(None);
    let fetcher = Fetcher::new(FetchPolicy {
        allow_private,
        // No test reaches beyond loopback, not even with a DNS lookup.
        allow_hosts: Some(HostAllowList::loopback()),
        ..FetchPolicy::default()
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sextant_gateway::application_gateway(rx, fetcher);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), tx)
}

#[tokio::test]
async fn a_workload_calls_an_api_with_the_runtimes_credentials_only() {
    let app = application_api().await;
    let (gw, config) = gateway(true).await;
    let client = reqwest::Client::new();

    // Before the first configuration: unavailable.
    let response = client
        .get(format!("{gw}/shop/orders/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    let orders = api("orders", format!("{app}/v1"), Some(basic()));
    let orders_id = orders.id;
    config.send_replace(Some(configuration(vec![
        orders,
        api("open", format!("{app}/public"), None),
    ])));

    let response = client
        .post(format!("{gw}/shop/orders/items/7?page=2"))
        .header("authorization", "Bearer the-workloads-own")
        .header("cookie", "workload=1")
        .header("x-trace", "abc")
        .body("an order")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "the application's status is passed on"
    );
    assert_eq!(response.headers()["x-app"], "shop");
    assert!(
        response.headers().get("set-cookie").is_none(),
        "the application's cookies stay in the gateway"
    );
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/v1/items/7?page=2&tenant=acme");
    assert_eq!(seen["body"], "an order");
    assert_eq!(
        seen["headers"]["x-runtime"], "rt",
        "the auth's extra headers"
    );
    assert_eq!(
        seen["headers"]["x-trace"], "abc",
        "the workload's own headers"
    );
    assert!(
        seen["headers"].get("cookie").is_none(),
        "the workload's cookies are not forwarded"
    );
    assert!(
        seen["headers"]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Basic "),
        "the runtime's credentials replace the workload's"
    );

    // By id as well; an API without credentials gets none.
    let response = client
        .get(format!("{gw}/shop/{orders_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let seen: Value = client
        .get(format!("{gw}/shop/open/page"))
        .header("authorization", "Bearer the-workloads-own")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["uri"], "/public/page");
    assert!(seen["headers"].get("authorization").is_none());

    // Unknown application or API.
    for path in ["/other/orders/x", "/shop/nope/x"] {
        let response = client.get(format!("{gw}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }

    // The API leaves the configuration: unreachable from the next call on.
    config.send_replace(Some(configuration(vec![api(
        "open",
        format!("{app}/public"),
        None,
    )])));
    let response = client
        .get(format!("{gw}/shop/orders/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // New credentials apply at once too: wrong ones get the application's 401 back.
    let mut wrong = basic();
    wrong.credential = Credential::Basic {
        username: "rt-user".to_owned(),
        password: "old".to_owned(),
    };
    config.send_replace(Some(configuration(vec![api(
        "orders",
        format!("{app}/v1"),
        Some(wrong),
    )])));
    let response = client
        .get(format!("{gw}/shop/orders/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let app = application_api().await;
    let (gw, config) = gateway(false).await;
    config.send_replace(Some(configuration(vec![api(
        "open",
        format!("{app}/public"),
        None,
    )])));
    let response = reqwest::Client::new()
        .get(format!("{gw}/shop/open/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("could not be called")
    );
}

/// The attack: an application renames itself to a victim application's id and names its API
/// after the victim API's id. A workload's call addressed by the victim's ids must reach the
/// victim, whatever order the configuration lists the applications in.
#[tokio::test]
async fn a_name_never_captures_a_call_addressed_by_id() {
    let victim_api_server = application_api().await;
    let attacker_api_server = application_api().await;
    let (gw, config) = gateway(true).await;
    let client = reqwest::Client::new();

    let victim_api = api("orders", format!("{victim_api_server}/public/victim"), None);
    let victim_api_id = victim_api.id;
    let victim = ConfiguredApplication {
        id: Uuid::new_v4(),
        name: sextant_domain::Name::parse("shop".to_owned()).unwrap(),
        description: None,
        labels: BTreeMap::new(),
        apis: vec![victim_api],
        events: Vec::new(),
    };
    let attacker_api = api(
        &victim_api_id.to_string(),
        format!("{attacker_api_server}/public/attacker"),
        None,
    );
    let attacker_api_id = attacker_api.id;
    let attacker = ConfiguredApplication {
        id: Uuid::new_v4(),
        // Not a valid Name (a UUID may start with a digit): the gateway must still treat
        // whatever name a document carries as a name, as it reads names without the rule.
        name: sextant_domain::Name::from_stored(victim.id.to_string()),
        description: None,
        labels: BTreeMap::new(),
        apis: vec![attacker_api],
        events: Vec::new(),
    };
    let (victim_id, attacker_id) = (victim.id, attacker.id);
    let mut both = (*configuration(Vec::new())).clone();
    for applications in [
        vec![attacker.clone(), victim.clone()],
        vec![victim.clone(), attacker.clone()],
    ] {
        both.applications = applications;
        config.send_replace(Some(Arc::new(both.clone())));
        let reached = |path: String| {
            let client = client.clone();
            let url = format!("{gw}{path}");
            async move {
                let response = client.get(url).send().await.unwrap();
                let status = response.status().as_u16();
                let seen: Value = response.json().await.unwrap_or(Value::Null);
                (status, seen["uri"].as_str().unwrap_or_default().to_owned())
            }
        };
        // By ids, in any spelling of a UUID: the victim.
        for (app, api) in [
            (victim_id.to_string(), victim_api_id.to_string()),
            (
                victim_id.to_string().to_uppercase(),
                victim_api_id.simple().to_string(),
            ),
            (victim_id.to_string(), "orders".to_owned()),
            ("shop".to_owned(), victim_api_id.to_string()),
            ("shop".to_owned(), "orders".to_owned()),
        ] {
            assert_eq!(
                reached(format!("/{app}/{api}/x")).await,
                (201, "/public/victim/x".to_owned()),
                "/{app}/{api}"
            );
        }
        // The attacker's objects are reachable by their own ids only.
        assert_eq!(
            reached(format!("/{attacker_id}/{attacker_api_id}/x")).await,
            (201, "/public/attacker/x".to_owned())
        );
        assert_eq!(
            reached(format!("/{attacker_id}/{victim_api_id}/x")).await.0,
            404,
            "the attacker's API name is never matched as a name"
        );
    }

    // Two applications of one name: the name names neither.
    let mut twin = victim.clone();
    twin.id = Uuid::new_v4();
    both.applications = vec![victim, twin];
    config.send_replace(Some(Arc::new(both)));
    let response = client
        .get(format!("{gw}/shop/orders/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
