//! The agent's state directory (`sextant_client::state` holds the key, the certificate, the
//! CA bundle and `state.json`, swapped in as one): what the agent keeps besides.
//!
//! ```text
//! <state_dir>/                        0700
//!   key.pem, client.crt, ca.crt       0600  the credentials (see `sextant_client::state`)
//!   state.json                        0600  identity, URLs, certificate window, applied version
//!   applied-configuration.json        0600  the configuration document last applied
//!   specs/<sha256>                    0600  specs, named by the SHA-256 of their text
//!   event-gateway.key, .crt           0600  the event gateway's TLS key and certificate
//!   event-gateway-crls.json           0600  the management plane's last CRLs (base64 DER)
//! ```
//!
//! Every file is written atomically, as `sextant_client::state` writes them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sextant_client::StateDir;
use time::OffsetDateTime;
use uuid::Uuid;

pub use sextant_client::state::{
    CA_FILE, CERT_FILE, Connection, KEY_FILE, STATE_FILE, StateError, UsedTokens,
};

/// The configuration document last applied.
pub const APPLIED_FILE: &str = "applied-configuration.json";
/// The spec cache directory.
pub const SPECS_DIR: &str = "specs";

/// `state.json`: who the agent is, where the management plane is, and what it applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The runtime.
    #[serde(rename = "runtimeID")]
    pub runtime_id: Uuid,
    /// Its tenant.
    pub tenant: Uuid,
    /// The one-time tokens already spent: they are never tried again.
    #[serde(default)]
    pub used_tokens: UsedTokens,
    /// The certificate-secured connection, once paired.
    pub connection: Option<Connection>,
    /// The configuration last applied.
    pub applied: Option<Applied>,
}

/// The configuration last applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The document's version (its ETag without quotes).
    pub version: String,
    /// The ETag as the server sent it.
    pub etag: String,
    /// When it was applied.
    #[serde(with = "sextant_client::certs::rfc3339")]
    pub applied_at: OffsetDateTime,
}

impl State {
    /// A fresh state for a runtime.
    pub fn new(runtime_id: Uuid, tenant: Uuid) -> State {
        State {
            runtime_id,
            tenant,
            used_tokens: UsedTokens::default(),
            connection: None,
            applied: None,
        }
    }
}

/// Reads `state.json` of a state directory without changing anything (`None`: never paired
/// or never started).
pub fn read_state(state_dir: &Path) -> Result<Option<State>, StateError> {
    sextant_client::state::read_state(state_dir)
}

/// Opens the agent's state directory (with its spec cache).
pub(crate) fn open(root: &Path) -> Result<StateDir, StateError> {
    StateDir::open(root, &[SPECS_DIR])
}

/// The cache file of a spec (`sha256` must be 64 lowercase hex digits).
pub(crate) fn spec_path(dir: &StateDir, sha256: &str) -> PathBuf {
    dir.path(&spec_name(sha256))
}

fn spec_name(sha256: &str) -> String {
    format!("{SPECS_DIR}/{sha256}")
}

/// Writes a spec into the cache atomically.
pub(crate) fn write_spec(dir: &StateDir, sha256: &str, bytes: &[u8]) -> Result<(), StateError> {
    dir.write(&spec_name(sha256), bytes)
}

/// Removes cached specs that `keep` does not name.
pub(crate) fn prune_specs(dir: &StateDir, keep: &BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir.path(SPECS_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if sextant_client::certs::is_sha256_hex(&name)
            && !keep.contains(&name)
            && let Err(error) = std::fs::remove_file(entry.path())
        {
            tracing::debug!(%error, spec = %name, "cannot remove an unused cached spec");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_cache_keeps_what_is_named() {
        let root = std::env::temp_dir()
            .join(format!("sextant-agent-state-{}", Uuid::new_v4().simple()))
            .join("state");
        let dir = open(&root).unwrap();
        let (kept, dropped) = ("a".repeat(64), "b".repeat(64));
        for sha256 in [&kept, &dropped] {
            write_spec(&dir, sha256, b"openapi: 3.0.0").unwrap();
        }
        std::fs::write(dir.path(&spec_name("not-a-spec")), b"x").unwrap();
        prune_specs(&dir, &BTreeSet::from([kept.clone()]));
        assert!(spec_path(&dir, &kept).exists());
        assert!(!spec_path(&dir, &dropped).exists());
        assert!(dir.path(&spec_name("not-a-spec")).exists(), "only specs go");
        std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn state_json_keeps_its_shape() {
        let mut state = State::new(Uuid::nil(), Uuid::nil());
        state.used_tokens.record("h1".into());
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["runtimeID"], Uuid::nil().to_string());
        assert_eq!(json["usedTokens"], serde_json::json!(["h1"]));
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
    }
}
