//! The application's state directory.
//!
//! ```text
//! <state_dir>/                 0700
//!   key.pem                    0600  the client key (PKCS#8 PEM)
//!   client.crt                 0600  the client certificate (PEM)
//!   ca.crt                     0600  the CA bundle the Connector named (PEM, 1+ certs)
//!   state.json                 0600  identity (application id, client id), URLs, certificate
//!   configuration.json         0600  the configuration last pulled (`config`)
//!   webhook-events.json        0600  ids of the webhook events already handled (bounded)
//! ```
//!
//! Every file is written atomically (a 0600 temporary file in the same directory, synced,
//! renamed, the directory synced). Key, certificate and CA bundle are replaced as one: staged
//! as `*.next`, a commit marker, renamed into place, the marker removed; an interrupted
//! replacement is completed (marker present) or discarded (no marker) when the directory is
//! opened again.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sextant_agent::state::Connection;
use uuid::Uuid;

/// The client key.
pub const KEY_FILE: &str = "key.pem";
/// The client certificate.
pub const CERT_FILE: &str = "client.crt";
/// The CA bundle of the management plane.
pub const CA_FILE: &str = "ca.crt";
/// The application's state.
pub const STATE_FILE: &str = "state.json";
/// The configuration last pulled.
pub const CONFIGURATION_FILE: &str = "configuration.json";
/// The webhook events handled.
pub const EVENTS_FILE: &str = "webhook-events.json";
const COMMIT_MARKER: &str = "credentials.commit";
const STAGED: &str = ".next";
const TMP_PREFIX: &str = ".tmp-";
/// How many used tokens are remembered.
const MAX_USED_TOKENS: usize = 32;

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file or directory operation failed.
    #[error("state directory: {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holds something else than the application client wrote.
    #[error("state directory: {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

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
    /// SHA-256 (hex) of the one-time tokens already spent.
    #[serde(default)]
    pub used_tokens: Vec<String>,
    /// The certificate-secured connection, once paired.
    pub connection: Option<Connection>,
}

impl AppState {
    /// Whether a token (by its hash) was spent already.
    pub fn token_used(&self, hash: &str) -> bool {
        self.used_tokens.iter().any(|h| h == hash)
    }

    pub(crate) fn record_used_token(&mut self, hash: String) {
        if !self.token_used(&hash) {
            self.used_tokens.push(hash);
        }
        if self.used_tokens.len() > MAX_USED_TOKENS {
            let excess = self.used_tokens.len() - MAX_USED_TOKENS;
            self.used_tokens.drain(..excess);
        }
    }
}

/// A key, its certificate and the CA bundle to trust, as PEM.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub key_pem: String,
    pub cert_pem: String,
    pub ca_pem: String,
}

/// Reads `state.json` of a state directory without changing anything.
pub fn read_state(state_dir: &Path) -> Result<Option<AppState>, StateError> {
    read_json(&state_dir.join(STATE_FILE))
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, StateError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Damaged {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

fn private_dir(path: &Path) -> Result<(), StateError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = fs::metadata(path).map_err(io_err(path))?;
            if !meta.is_dir() {
                return Err(StateError::Damaged {
                    path: path.to_owned(),
                    reason: "not a directory".into(),
                });
            }
            if meta.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                    .map_err(io_err(path))?;
            }
            Ok(())
        }
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}", Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::Io {
            path: path.to_owned(),
            source,
        });
    }
    sync_dir(dir)
}

/// An opened state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens (creating with mode 0700) a state directory and finishes or discards an
    /// interrupted replacement of the credentials.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        private_dir(root)?;
        let dir = StateDir {
            root: root.to_owned(),
        };
        dir.recover()?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn recover(&self) -> Result<(), StateError> {
        let marker = self.path(COMMIT_MARKER);
        let committed = marker.exists();
        for name in [CA_FILE, CERT_FILE, KEY_FILE] {
            let staged = self.path(&format!("{name}{STAGED}"));
            if !staged.exists() {
                continue;
            }
            if committed {
                fs::rename(&staged, self.path(name)).map_err(io_err(&staged))?;
            } else {
                fs::remove_file(&staged).map_err(io_err(&staged))?;
            }
        }
        if committed {
            fs::remove_file(&marker).map_err(io_err(&marker))?;
        }
        let entries = fs::read_dir(&self.root).map_err(io_err(&self.root))?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
        sync_dir(&self.root)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        write_atomic(&self.path(name), bytes)
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(value).map_err(|e| StateError::Damaged {
            path: self.path(name),
            reason: e.to_string(),
        })?;
        self.write(name, &json)
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        read_json(&self.path(name))
    }

    pub fn read_state(&self) -> Result<Option<AppState>, StateError> {
        self.read_json(STATE_FILE)
    }

    pub fn write_state(&self, state: &AppState) -> Result<(), StateError> {
        self.write_json(STATE_FILE, state)
    }

    /// The key, certificate and CA bundle, if all three are there.
    pub fn read_credentials(&self) -> Result<Option<Credentials>, StateError> {
        let mut parts = Vec::with_capacity(3);
        for name in [KEY_FILE, CERT_FILE, CA_FILE] {
            let path = self.path(name);
            match fs::read_to_string(&path) {
                Ok(text) => parts.push(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(StateError::Io { path, source }),
            }
        }
        let mut parts = parts.into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(key_pem), Some(cert_pem), Some(ca_pem)) => Ok(Some(Credentials {
                key_pem,
                cert_pem,
                ca_pem,
            })),
            _ => Ok(None),
        }
    }

    /// Replaces the key, certificate and CA bundle as one, then `state.json`.
    pub fn install_credentials(
        &self,
        credentials: &Credentials,
        state: &AppState,
    ) -> Result<(), StateError> {
        let files = [
            (CA_FILE, &credentials.ca_pem),
            (CERT_FILE, &credentials.cert_pem),
            (KEY_FILE, &credentials.key_pem),
        ];
        for (name, content) in files {
            self.write(&format!("{name}{STAGED}"), content.as_bytes())?;
        }
        self.write(COMMIT_MARKER, b"")?;
        for (name, _) in files {
            let staged = self.path(&format!("{name}{STAGED}"));
            fs::rename(&staged, self.path(name)).map_err(io_err(&staged))?;
        }
        sync_dir(&self.root)?;
        self.write_state(state)?;
        let marker = self.path(COMMIT_MARKER);
        fs::remove_file(&marker).map_err(io_err(&marker))?;
        sync_dir(&self.root)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn temp() -> PathBuf {
        std::env::temp_dir()
            .join(format!("sextant-app-state-{}", Uuid::new_v4().simple()))
            .join("state")
    }

    #[test]
    fn private_files_and_interrupted_replacements() {
        let root = temp();
        let dir = StateDir::open(&root).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        let creds = |n: &str| Credentials {
            key_pem: format!("key {n}"),
            cert_pem: format!("cert {n}"),
            ca_pem: format!("ca {n}"),
        };
        let state = AppState::default();
        dir.install_credentials(&creds("old"), &state).unwrap();
        for name in [KEY_FILE, CERT_FILE, CA_FILE, STATE_FILE] {
            assert_eq!(mode(&dir.path(name)), 0o600, "{name}");
        }
        // Staged without the marker: discarded.
        dir.write(&format!("{KEY_FILE}{STAGED}"), b"key new")
            .unwrap();
        let dir = StateDir::open(&root).unwrap();
        assert_eq!(dir.read_credentials().unwrap().unwrap().key_pem, "key old");
        // Staged with the marker: completed.
        dir.write(&format!("{KEY_FILE}{STAGED}"), b"key new")
            .unwrap();
        dir.write(COMMIT_MARKER, b"").unwrap();
        let dir = StateDir::open(&root).unwrap();
        assert_eq!(dir.read_credentials().unwrap().unwrap().key_pem, "key new");
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn used_tokens_are_bounded() {
        let mut state = AppState::default();
        for i in 0..40 {
            state.record_used_token(format!("h{i}"));
        }
        assert_eq!(state.used_tokens.len(), MAX_USED_TOKENS);
        assert!(state.token_used("h39"));
        assert!(!state.token_used("h0"));
    }
}
