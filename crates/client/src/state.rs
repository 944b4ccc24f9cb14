//! The state directory: what a client of the management plane keeps between runs.
//!
//! ```text
//! <state_dir>/                        0700
//!   key.pem                           0600  the client key (PKCS#8 PEM)
//!   client.crt                        0600  the client certificate (PEM)
//!   ca.crt                            0600  the CA bundle the Connector named (PEM, 1+ certs)
//!   state.json                        0600  the holder's state, with its `Connection`
//! ```
//!
//! The holder (the agent, the application client) adds files and subdirectories of its own.
//!
//! Every file is written atomically: a temporary file created with mode 0600 in the same
//! directory, synced, renamed over the old one, and the directory synced. The key, the
//! certificate and the CA bundle belong together, so they are replaced as one: all three are
//! staged as `*.next`, then a commit marker is written, then they are renamed into place and
//! the marker removed. A crash before the marker leaves the old set (the staged files are
//! discarded when the directory is opened again); a crash after it is completed then.

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::certs::CertificateInfo;

/// The client key.
pub const KEY_FILE: &str = "key.pem";
/// The client certificate.
pub const CERT_FILE: &str = "client.crt";
/// The CA bundle.
pub const CA_FILE: &str = "ca.crt";
/// The holder's state.
pub const STATE_FILE: &str = "state.json";
/// Present while a new key, certificate and CA bundle are being moved into place.
const COMMIT_MARKER: &str = "credentials.commit";
const STAGED: &str = ".next";
/// How many spent tokens are remembered.
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
    /// A file holds something else than was written there.
    #[error("state directory: {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Where the certificate-secured APIs are and which certificate is held (in `state.json`).
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

/// The one-time tokens already spent, by their SHA-256 (hex): they are never tried again.
/// The last 32 are remembered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsedTokens(Vec<String>);

impl UsedTokens {
    /// Whether a token (by its hash) was spent already.
    pub fn contains(&self, hash: &str) -> bool {
        self.0.iter().any(|h| h == hash)
    }

    /// Records a spent token (by its hash), forgetting the oldest beyond 32.
    pub fn record(&mut self, hash: String) {
        if !self.contains(&hash) {
            self.0.push(hash);
        }
        if self.0.len() > MAX_USED_TOKENS {
            let excess = self.0.len() - MAX_USED_TOKENS;
            self.0.drain(..excess);
        }
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A key, its certificate and the CA bundle to trust, as PEM.
#[derive(Clone)]
pub struct Credentials {
    /// The client key (PKCS#8).
    pub key_pem: String,
    /// The client certificate.
    pub cert_pem: String,
    /// The CAs of the management plane (1+ certificates).
    pub ca_pem: String,
}

/// Reads `state.json` of a state directory without changing anything (`None`: never
/// written).
pub fn read_state<T: serde::de::DeserializeOwned>(
    state_dir: &Path,
) -> Result<Option<T>, StateError> {
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
    sextant_fs::sync_dir(dir).map_err(io_err(dir))
}

/// Writes a file atomically with mode 0600 (see the module documentation).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    sextant_fs::write_atomic(path, bytes, 0o600).map_err(io_err(path))
}

/// An opened state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
    /// Private subdirectories of the holder (temporary files are cleaned there too).
    subdirs: Vec<PathBuf>,
}

impl StateDir {
    /// Opens (creating with mode 0700) a state directory and its holder's private
    /// `subdirs`, and finishes or discards a replacement of the credentials that a crash
    /// interrupted.
    pub fn open(root: &Path, subdirs: &[&str]) -> Result<StateDir, StateError> {
        private_dir(root)?;
        let dir = StateDir {
            root: root.to_owned(),
            subdirs: subdirs.iter().map(|name| root.join(name)).collect(),
        };
        for subdir in &dir.subdirs {
            private_dir(subdir)?;
        }
        dir.recover()?;
        Ok(dir)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file of the directory (`name` may name one in a subdirectory: `specs/…`).
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
            tracing::info!(dir = %self.root.display(), "completed an interrupted certificate replacement");
            fs::remove_file(&marker).map_err(io_err(&marker))?;
        }
        // Temporary files of interrupted writes.
        for dir in std::iter::once(&self.root).chain(&self.subdirs) {
            sextant_fs::remove_leftovers(dir).map_err(io_err(dir))?;
        }
        sync_dir(&self.root)
    }

    /// Writes a file of the directory atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        write_atomic(&self.path(name), bytes)
    }

    /// Writes a value as pretty JSON, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(value).map_err(|e| StateError::Damaged {
            path: self.path(name),
            reason: e.to_string(),
        })?;
        self.write(name, &json)
    }

    /// Reads a JSON file (`None`: there is none).
    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        read_json(&self.path(name))
    }

    /// Reads `state.json`.
    pub fn read_state<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, StateError> {
        self.read_json(STATE_FILE)
    }

    /// Writes `state.json`.
    pub fn write_state<T: Serialize>(&self, state: &T) -> Result<(), StateError> {
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
    pub fn install_credentials<T: Serialize>(
        &self,
        credentials: &Credentials,
        state: &T,
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
    use super::*;

    fn temp() -> PathBuf {
        std::env::temp_dir()
            .join(format!(
                "sextant-client-state-{}",
                uuid::Uuid::new_v4().simple()
            ))
            .join("state")
    }

    fn creds(n: &str) -> Credentials {
        Credentials {
            key_pem: format!("key {n}"),
            cert_pem: format!("cert {n}"),
            ca_pem: format!("ca {n}"),
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        name: String,
        #[serde(default)]
        used_tokens: UsedTokens,
    }

    fn holder() -> Holder {
        Holder {
            name: "a holder".into(),
            used_tokens: UsedTokens::default(),
        }
    }

    #[test]
    fn creates_private_files_in_a_private_directory() {
        let root = temp();
        let dir = StateDir::open(&root, &["specs"]).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&dir.path("specs")), 0o700);
        dir.install_credentials(&creds("1"), &holder()).unwrap();
        for name in [KEY_FILE, CERT_FILE, CA_FILE, STATE_FILE] {
            assert_eq!(mode(&dir.path(name)), 0o600, "{name}");
        }
        dir.write("specs/abc", b"text").unwrap();
        assert_eq!(mode(&dir.path("specs/abc")), 0o600);
        assert_eq!(dir.read_state::<Holder>().unwrap(), Some(holder()));
        assert_eq!(read_state::<Holder>(&root).unwrap(), Some(holder()));
        assert_eq!(dir.read_credentials().unwrap().unwrap().key_pem, "key 1");
        // A directory that was too open is tightened.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        StateDir::open(&root, &[]).unwrap();
        assert_eq!(mode(&root), 0o700);
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_interrupted_replacement_is_completed_or_discarded() {
        let root = temp();
        let dir = StateDir::open(&root, &[]).unwrap();
        dir.install_credentials(&creds("old"), &holder()).unwrap();

        // Staged but not committed: the old set stays.
        dir.write(&format!("{CERT_FILE}{STAGED}"), b"cert new")
            .unwrap();
        dir.write(&format!("{KEY_FILE}{STAGED}"), b"key new")
            .unwrap();
        let dir = StateDir::open(&root, &[]).unwrap();
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
        let dir = StateDir::open(&root, &[]).unwrap();
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
    fn temporary_files_of_interrupted_writes_are_removed() {
        let root = temp();
        let dir = StateDir::open(&root, &["specs"]).unwrap();
        let stray = [
            dir.path(&format!("{}state.json-1", sextant_fs::TMP_PREFIX)),
            dir.path(&format!("specs/{}abc-1", sextant_fs::TMP_PREFIX)),
        ];
        for path in &stray {
            fs::write(path, b"half").unwrap();
        }
        StateDir::open(&root, &["specs"]).unwrap();
        for path in &stray {
            assert!(!path.exists(), "{}", path.display());
        }
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn used_tokens_are_remembered_and_bounded() {
        let mut used = UsedTokens::default();
        for i in 0..40 {
            used.record(format!("h{i}"));
        }
        used.record("h39".into());
        assert_eq!(used.len(), MAX_USED_TOKENS);
        assert!(used.contains("h39"));
        assert!(!used.contains("h0"));
        // `state.json` holds a plain list.
        let json = serde_json::to_value(&used).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(MAX_USED_TOKENS));
    }

    #[test]
    fn a_damaged_state_file_is_reported() {
        let root = temp();
        let dir = StateDir::open(&root, &[]).unwrap();
        dir.write(STATE_FILE, b"{not json").unwrap();
        let err = dir.read_state::<Holder>().unwrap_err().to_string();
        assert!(err.contains("state.json is damaged"), "{err}");
        fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
