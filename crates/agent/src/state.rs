//! The state directory: what the agent keeps between runs.
//!
//! ```text
//! <state_dir>/                        0700
//!   key.pem                           0600  the client key (PKCS#8 PEM)
//!   client.crt                        0600  the client certificate (PEM)
//!   ca.crt                            0600  the CA bundle the Connector named (PEM, 1+ certs)
//!   state.json                        0600  identity, URLs, certificate window, applied version
//!   applied-configuration.json        0600  the configuration document last applied
//!   specs/<sha256>                    0600  specs, named by the SHA-256 of their text
//!   event-gateway.key, .crt           0600  the event gateway's TLS key and certificate
//!   event-gateway-crls.json           0600  the management plane's last CRLs (base64 DER)
//! ```
//!
//! Every file is written atomically: a temporary file created with mode 0600 in the same
//! directory, synced, renamed over the old one, and the directory synced. The key, the
//! certificate and the CA bundle belong together, so they are replaced as one: all three are
//! staged as `*.next`, then a commit marker is written, then they are renamed into place and
//! the marker removed. A crash before the marker leaves the old set (the staged files are
//! discarded at the next start); a crash after it is completed at the next start.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certs::CertificateInfo;

/// The client key.
pub const KEY_FILE: &str = "key.pem";
/// The client certificate.
pub const CERT_FILE: &str = "client.crt";
/// The CA bundle.
pub const CA_FILE: &str = "ca.crt";
/// The agent's state.
pub const STATE_FILE: &str = "state.json";
/// The configuration document last applied.
pub const APPLIED_FILE: &str = "applied-configuration.json";
/// The spec cache directory.
pub const SPECS_DIR: &str = "specs";
/// Present while a new key, certificate and CA bundle are being moved into place.
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
    /// A file holds something else than the agent wrote.
    #[error("state directory: {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// `state.json`: who the agent is, where the management plane is, and what it applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The runtime.
    #[serde(rename = "runtimeID")]
    pub runtime_id: Uuid,
    /// Its tenant.
    pub tenant: Uuid,
    /// SHA-256 (hex) of the one-time tokens already spent: they are never tried again.
    #[serde(default)]
    pub used_tokens: Vec<String>,
    /// The certificate-secured connection, once paired.
    pub connection: Option<Connection>,
    /// The configuration last applied.
    pub applied: Option<Applied>,
}

/// Where the certificate-secured APIs are and which certificate the agent holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The certificate-secured Director (`managementPlaneInfo.directorURL`).
    #[serde(rename = "directorURL")]
    pub director_url: String,
    /// The certificate-secured Connector.
    #[serde(rename = "certificateSecuredConnectorURL")]
    pub certificate_secured_connector_url: String,
    /// The subject the Connector asked for.
    pub subject: String,
    /// The client certificate.
    pub certificate: CertificateInfo,
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
    #[serde(with = "crate::certs::rfc3339")]
    pub applied_at: OffsetDateTime,
}

impl State {
    /// A fresh state for a runtime.
    pub fn new(runtime_id: Uuid, tenant: Uuid) -> State {
        State {
            runtime_id,
            tenant,
            used_tokens: Vec::new(),
            connection: None,
            applied: None,
        }
    }

    /// Whether a token (by its hash) was spent already.
    pub fn token_used(&self, hash: &str) -> bool {
        self.used_tokens.iter().any(|h| h == hash)
    }

    /// Records a spent token.
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

/// Reads `state.json` of a state directory without changing anything (`None`: never paired
/// or never started).
pub fn read_state(state_dir: &Path) -> Result<Option<State>, StateError> {
    read_json(&state_dir.join(STATE_FILE))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
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

/// An opened state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    root: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates a directory with mode 0700 (parents as usual), or tightens an existing one.
fn private_dir(path: &Path) -> Result<(), StateError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
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
        }
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_owned(),
                source,
            });
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Writes a file atomically with mode 0600 (see the module documentation).
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

impl StateDir {
    /// Opens (creating with mode 0700) a state directory, and finishes or discards a
    /// replacement of the credentials that a crash interrupted.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        private_dir(root)?;
        let dir = StateDir {
            root: root.to_owned(),
        };
        private_dir(&dir.specs_dir())?;
        dir.recover()?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn specs_dir(&self) -> PathBuf {
        self.root.join(SPECS_DIR)
    }

    /// The cache file of a spec (`sha256` must be 64 lowercase hex digits).
    pub fn spec_path(&self, sha256: &str) -> PathBuf {
        self.specs_dir().join(sha256)
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
            tracing::info!(dir = %self.root.display(), "completed an interrupted certificate replacement");
            fs::remove_file(&marker).map_err(io_err(&marker))?;
        }
        // Temporary files of interrupted writes.
        for dir in [self.root.clone(), self.specs_dir()] {
            let entries = fs::read_dir(&dir).map_err(io_err(&dir))?;
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        sync_dir(&self.root)
    }

    /// Writes a file of the directory atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        write_atomic(&self.path(name), bytes)
    }

    /// Writes a spec into the cache atomically.
    pub fn write_spec(&self, sha256: &str, bytes: &[u8]) -> Result<(), StateError> {
        write_atomic(&self.spec_path(sha256), bytes)
    }

    pub fn read_state(&self) -> Result<Option<State>, StateError> {
        read_json(&self.path(STATE_FILE))
    }

    pub fn write_state(&self, state: &State) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(state).map_err(|e| StateError::Damaged {
            path: self.path(STATE_FILE),
            reason: e.to_string(),
        })?;
        self.write(STATE_FILE, &json)
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
        state: &State,
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

    /// Removes cached specs that `keep` does not name.
    pub fn prune_specs(&self, keep: &std::collections::BTreeSet<String>) {
        let dir = self.specs_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::certs::is_sha256_hex(&name)
                && !keep.contains(&name)
                && let Err(error) = fs::remove_file(entry.path())
            {
                tracing::debug!(%error, spec = %name, "cannot remove an unused cached spec");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        std::env::temp_dir()
            .join(format!("sextant-agent-state-{}", Uuid::new_v4().simple()))
            .join("state")
    }

    fn creds(n: &str) -> Credentials {
        Credentials {
            key_pem: format!("key {n}"),
            cert_pem: format!("cert {n}"),
            ca_pem: format!("ca {n}"),
        }
    }

    #[test]
    fn creates_private_files_in_a_private_directory() {
        let root = temp();
        let dir = StateDir::open(&root).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&dir.specs_dir()), 0o700);
        let state = State::new(Uuid::new_v4(), Uuid::new_v4());
        dir.install_credentials(&creds("1"), &state).unwrap();
        for name in [KEY_FILE, CERT_FILE, CA_FILE, STATE_FILE] {
            assert_eq!(mode(&dir.path(name)), 0o600, "{name}");
        }
        assert_eq!(dir.read_state().unwrap(), Some(state));
        assert_eq!(dir.read_credentials().unwrap().unwrap().key_pem, "key 1");
        // A directory that was too open is tightened.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        StateDir::open(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_interrupted_replacement_is_completed_or_discarded() {
        let root = temp();
        let dir = StateDir::open(&root).unwrap();
        let state = State::new(Uuid::new_v4(), Uuid::new_v4());
        dir.install_credentials(&creds("old"), &state).unwrap();

        // Staged but not committed: the old set stays.
        dir.write(&format!("{CERT_FILE}{STAGED}"), b"cert new")
            .unwrap();
        dir.write(&format!("{KEY_FILE}{STAGED}"), b"key new")
            .unwrap();
        let dir = StateDir::open(&root).unwrap();
        let kept = dir.read_credentials().unwrap().unwrap();
        assert_eq!(
            (kept.key_pem.as_str(), kept.cert_pem.as_str()),
            ("key old", "cert old")
        );
        assert!(!dir.path(&format!("{KEY_FILE}{STAGED}")).exists());

        // Committed, crash after the CA moved: the rest follows.
        for (name, content) in [(CERT_FILE, "cert new"), (KEY_FILE, "key new")] {
            dir.write(&format!("{name}{STAGED}"), content.as_bytes())
                .unwrap();
        }
        dir.write(CA_FILE, b"ca new").unwrap();
        dir.write(COMMIT_MARKER, b"").unwrap();
        let dir = StateDir::open(&root).unwrap();
        let new = dir.read_credentials().unwrap().unwrap();
        assert_eq!(
            (
                new.key_pem.as_str(),
                new.cert_pem.as_str(),
                new.ca_pem.as_str()
            ),
            ("key new", "cert new", "ca new")
        );
        assert!(!dir.path(COMMIT_MARKER).exists());
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn used_tokens_are_remembered_and_bounded() {
        let mut state = State::new(Uuid::new_v4(), Uuid::new_v4());
        for i in 0..40 {
            state.record_used_token(format!("h{i}"));
        }
        state.record_used_token("h39".into());
        assert_eq!(state.used_tokens.len(), MAX_USED_TOKENS);
        assert!(state.token_used("h39"));
        assert!(!state.token_used("h0"));
    }

    #[test]
    fn a_damaged_state_file_is_reported() {
        let root = temp();
        let dir = StateDir::open(&root).unwrap();
        dir.write(STATE_FILE, b"{not json").unwrap();
        let err = dir.read_state().unwrap_err().to_string();
        assert!(err.contains("state.json is damaged"), "{err}");
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
