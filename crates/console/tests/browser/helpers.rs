//! What the browser tests share with the server: scopes, applications registered through
//! the Director as the administrator.

use serde_json::{Value, json};
pub use sextant_test_server::{Backend, TestServer};

/// Every user scope but the operator's.
pub const ALL_SCOPES: &str = "application:read application:write application_template:read \
     application_template:write integration_system:read integration_system:write runtime:read \
     runtime:write label_definition:read label_definition:write eventing:manage \
     health_checks:read";

/// Registers an application in the default tenant; answers its id.
pub async fn register(server: &TestServer, name: &str, labels: Value) -> String {
    server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": name, "providerName": "acme", "labels": labels}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An application as the administrator's GraphQL sees it (`null` when there is none).
pub async fn application(server: &TestServer, id: &str) -> Value {
    server
        .director(
            "query($id: ID!) { application(id: $id) { name providerName description labels } }",
            json!({"id": id}),
        )
        .await["application"]
        .clone()
}
