//! The application's configuration by pull: its scenarios and the eventing URL of the
//! runtime its events go to.

use serde_json::json;

use crate::helpers::{AppServer, Backend, TestServer, read_json};

async fn pulls_the_configuration_of_its_runtimes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (runtime, shop) = server.seed(Some("https://gateway.rt.local")).await;
    let client = server.paired(&shop).await;
    let config = client.pull_configuration(None).await.unwrap();
    assert_eq!(config.application_id.to_string(), shop);
    assert_eq!(config.name, "shop");
    assert_eq!(config.scenarios, ["SHOP"]);
    assert_eq!(config.default_url, "https://gateway.rt.local");
    assert_eq!(
        config.event_url.as_deref(),
        Some("https://gateway.rt.local/shop/v1/events")
    );
    let saved = read_json(&client.state_dir().join("configuration.json"));
    assert_eq!(saved["defaultURL"], "https://gateway.rt.local");
    assert_eq!(client.saved_configuration().unwrap(), Some(config));

    // The runtime leaves the scenario: nothing takes the application's events any more.
    server
        .director(
            "mutation($id: ID!) { setRuntimeLabel(runtimeID: $id, key: \"scenarios\", value: [\"DEFAULT\"]) { key } }",
            json!({"id": runtime}),
        )
        .await;
    let config = client.pull_configuration(None).await.unwrap();
    assert_eq!(config.default_url, "");
    assert_eq!(config.event_url, None);
}

crate::on_both_backends!(pulls_the_configuration_of_its_runtimes);
