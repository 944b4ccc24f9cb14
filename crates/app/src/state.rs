//! The application's state directory (`sextant_client::state` holds the key, the certificate,
//! the CA bundle and `state.json`, swapped in as one): what the application keeps besides.
//!
//! ```text
//! <state_dir>/                 0700
//!   key.pem, client.crt, ca.crt  0600  the credentials (see `sextant_client::state`)
//!   state.json                 0600  identity (application id, client id), URLs, certificate
//!   configuration.json         0600  the configuration last pulled (`config`)
//!   webhook-events.json        0600  ids of the webhook events already handled (bounded)
//! ```
//!
//! Every file is written atomically, as `sextant_client::state` writes them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use sextant_client::state::{
    CA_FILE, CERT_FILE, Connection, KEY_FILE, STATE_FILE, StateError, UsedTokens,
};

/// The configuration last pulled.
pub const CONFIGURATION_FILE: &str = "configuration.json";
/// The webhook events handled.
pub const EVENTS_FILE: &str = "webhook-events.json";

/// `state.json`: who the application is and where the management plane is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    /// The application's id in the Director (found after pairing: an application sees only
    /// itself in `applications`).
    #[serde(rename = "applicationID")]
    pub application_id: Option<Uuid>,
    /// The application's name (the path segment of its runtime event URL).
    pub application_name: Option<String>,
    /// The client id: the CN of the certificate (the application's system auth, not its id).
    #[serde(rename = "clientID")]
    pub client_id: Option<String>,
    /// The one-time tokens already spent.
    #[serde(default)]
    pub used_tokens: UsedTokens,
    /// The certificate-secured connection, once paired.
    pub connection: Option<Connection>,
}

/// Reads `state.json` of a state directory without changing anything.
pub fn read_state(state_dir: &Path) -> Result<Option<AppState>, StateError> {
    sextant_client::state::read_state(state_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_keeps_its_shape() {
        let mut state = AppState {
            application_id: Some(Uuid::nil()),
            client_id: Some("c1".into()),
            ..AppState::default()
        };
        state.used_tokens.record("h1".into());
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["applicationID"], Uuid::nil().to_string());
        assert_eq!(json["clientID"], "c1");
        assert_eq!(json["usedTokens"], serde_json::json!(["h1"]));
        let back: AppState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
    }
}
