//! Pairing with a raw or `rawEncoded` token, a spent token refused, resuming after a restart,
//! and renewal (on demand and at two thirds of the certificate's life).

use std::time::Duration;

use serde_json::json;
use sextant_app::{AppClient, AppError, PairOptions};

use crate::helpers::{AppServer, Backend, Setup, TestServer, mode, read_json};

async fn pairs_with_a_raw_token_and_resumes_after_a_restart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, shop) = server.seed(None).await;
    let (token, _) = server.app_token(&shop).await;
    let dir = server.new_state_dir();
    let client = AppClient::pair(&dir, server.raw_options(&token))
        .await
        .unwrap();
    assert_eq!(client.application_id().to_string(), shop);
    assert_eq!(client.application_name(), "shop");
    assert_eq!(mode(&dir), 0o700);
    for name in ["key.pem", "client.crt", "ca.crt", "state.json"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let state = read_json(&dir.join("state.json"));
    assert_eq!(state["applicationID"], shop.as_str());
    assert_eq!(state["applicationName"], "shop");
    assert_ne!(state["clientID"], shop.as_str(), "the CN is a client id");
    assert!(
        state["connection"]["directorURL"]
            .as_str()
            .unwrap()
            .ends_with("/director/graphql")
    );
    let serial = client.certificate().serial;
    // The certificate works on the certificate-secured Director, as the application.
    let me = client
        .director("query { applications { data { id } } }", json!({}))
        .await
        .unwrap();
    assert_eq!(me["applications"]["data"], json!([{"id": shop}]));
    drop(client);

    // A restart: no token needed.
    let resumed = AppClient::open(&dir).await.unwrap();
    assert_eq!(resumed.application_id().to_string(), shop);
    assert_eq!(resumed.certificate().serial, serial);
    // The spent token again, with the same state directory: resumes without asking.
    let again = AppClient::pair(&dir, server.raw_options(&token))
        .await
        .unwrap();
    assert_eq!(again.certificate().serial, serial);

    // Not paired and no token.
    let err = AppClient::open(&server.new_state_dir())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AppError::NoToken), "{err}");
}

async fn pairs_with_raw_encoded_and_a_spent_token_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, shop) = server.seed(None).await;
    let (_, encoded) = server.app_token(&shop).await;
    let options = PairOptions {
        token: Some(encoded.clone()),
        // The rawEncoded token names the Connector itself.
        connector_url: None,
        ca_file: Some(server.data_dir.join("ca.crt")),
        renew_now: false,
    };
    let client = AppClient::pair(&server.new_state_dir(), options.clone())
        .await
        .unwrap();
    assert_eq!(client.application_id().to_string(), shop);

    // Somewhere else, the same token: the Connector refuses it.
    let other_dir = server.new_state_dir();
    let err = AppClient::pair(&other_dir, options.clone())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AppError::TokenRefused(_)), "{err}");
    // …and it is remembered as spent: not even sent again.
    let err = AppClient::pair(&other_dir, options).await.err().unwrap();
    assert!(matches!(err, AppError::TokenAlreadyUsed), "{err}");
}

async fn renews_on_demand_and_at_two_thirds_of_the_life(backend: Backend) {
    let server = TestServer::start_with(backend, Setup::issuing_for(Duration::from_secs(6))).await;
    let (_, shop) = server.seed(None).await;
    let (token, _) = server.app_token(&shop).await;
    let dir = server.new_state_dir();
    let mut options = server.raw_options(&token);
    let client = AppClient::pair(&dir, options.clone()).await.unwrap();
    let first = client.certificate();
    let first_key = std::fs::read_to_string(dir.join("key.pem")).unwrap();

    // On demand (`--renew-now`).
    options.renew_now = true;
    let client = AppClient::pair(&dir, options).await.unwrap();
    let second = client.certificate();
    assert_ne!(second.serial, first.serial);
    assert_ne!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        first_key
    );
    assert_eq!(
        read_json(&dir.join("state.json"))["connection"]["certificate"]["serial"],
        second.serial.as_str()
    );
    client
        .director("query { applications { data { id } } }", json!({}))
        .await
        .expect("the renewed certificate works");

    // At two thirds of its life, while running.
    let client = std::sync::Arc::new(client);
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(client.clone().keep_renewed(stop.clone()));
    let started = std::time::Instant::now();
    while client.certificate().serial == second.serial {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not renewed at two thirds of the life"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = client.certificate();
    assert!(third.not_after >= second.not_after);
    client
        .director("query { applications { data { id } } }", json!({}))
        .await
        .expect("the certificate renewed by the loop works");
    stop.cancel();
    task.await.unwrap();
    // The state directory holds the latest.
    let resumed = AppClient::open(&dir).await.unwrap();
    assert!(resumed.certificate().not_after >= third.not_after);
}

crate::on_both_backends!(
    pairs_with_a_raw_token_and_resumes_after_a_restart,
    pairs_with_raw_encoded_and_a_spent_token_is_refused,
    renews_on_demand_and_at_two_thirds_of_the_life,
);
