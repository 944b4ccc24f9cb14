//! The data directory: the CA, the listeners' certificate, the JWT signing key and the
//! administrator token, created on first start and reused afterwards. Secrets are written
//! owner-only (0600) inside an owner-only directory (0700), atomically (temp file + rename).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sextant_auth::{TokenIssuer, TokenVerifier};
use sextant_domain::{Scope, TenantId};
use sextant_pki::{CertificateAuthority, CertifiedKey};

use crate::ServerError;

const DAY: Duration = Duration::from_secs(24 * 3600);
/// The built-in CA lives ten years; rotating it is an operator action.
const CA_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 3600);
/// The listeners' certificate lives 90 days and is re-issued at start when under 30 are left.
const SERVER_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
const SERVER_CERT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The administrator token lives a year and is re-issued at start when under 30 days are left.
const ADMIN_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The loaded contents of a data directory.
pub struct DataDir {
    pub ca: CertificateAuthority,
    pub server_cert: CertifiedKey,
    pub verifier: TokenVerifier,
    pub admin_token_path: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// Writes `contents` to `path` with `mode`, atomically: a fresh temporary file (created with
/// the mode, so a secret is never readable by others, not even briefly), then a rename.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), ServerError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let tmp = PathBuf::from(name);
    // A leftover from a crash may have other permissions: never reuse it.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp)(e)),
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // The process umask may have narrowed the mode; set it exactly before writing.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(&tmp))?;
    file.write_all(contents.as_bytes()).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn read_if_exists(path: &Path) -> Result<Option<String>, ServerError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Path of the signing key inside a data directory.
pub fn signing_key_path(dir: &Path) -> PathBuf {
    dir.join("jwt.key")
}

/// Loads the token issuer of an existing data directory (for `sextant admin token`).
pub fn load_issuer(dir: &Path) -> Result<TokenIssuer, ServerError> {
    let path = signing_key_path(dir);
    let pem = fs::read_to_string(&path).map_err(io_err(&path))?;
    TokenIssuer::from_pem(&pem).map_err(ServerError::Auth)
}

/// Opens the data directory, creating what is missing. `names` are the host names and
/// addresses the listeners' certificate must cover.
pub fn open(path: &Path, names: &[String]) -> Result<DataDir, ServerError> {
    fs::create_dir_all(path).map_err(io_err(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io_err(path))?;

    // The CA.
    let ca_crt = path.join("ca.crt");
    let ca_key = path.join("ca.key");
    let mut ca_created = false;
    let ca = match (read_if_exists(&ca_crt)?, read_if_exists(&ca_key)?) {
        (Some(cert), Some(key)) => CertificateAuthority::from_pem(&cert, &key)?,
        (None, None) => {
            let generated = sextant_pki::generate_ca("Sextant CA", CA_VALIDITY)?;
            write_file(&ca_key, &generated.key_pem, 0o600)?;
            write_file(&ca_crt, &generated.cert_pem, 0o644)?;
            ca_created = true;
            CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem)?
        }
        _ => {
            return Err(ServerError::Inconsistent(format!(
                "{} and {} must both exist or both be absent",
                ca_crt.display(),
                ca_key.display()
            )));
        }
    };

    // The listeners' certificate: re-issued when new CA, missing names, or close to expiry.
    let server_crt = path.join("server.crt");
    let server_key = path.join("server.key");
    let existing = match (read_if_exists(&server_crt)?, read_if_exists(&server_key)?) {
        (Some(cert_pem), Some(key_pem)) if !ca_created => Some(CertifiedKey { cert_pem, key_pem }),
        _ => None,
    };
    let still_good = |cert: &CertifiedKey| -> bool {
        let Ok(summary) = sextant_pki::certificate_summary(&cert.cert_pem) else {
            return false;
        };
        let renew_at = summary.not_after - SERVER_CERT_RENEW_BEFORE;
        names.iter().all(|n| summary.names.contains(n))
            && time::OffsetDateTime::now_utc() < renew_at
    };
    let server_cert = match existing {
        Some(cert) if still_good(&cert) => cert,
        _ => {
            let issued = ca.issue_server_certificate(names, SERVER_CERT_VALIDITY)?;
            write_file(&server_key, &issued.key_pem, 0o600)?;
            write_file(&server_crt, &issued.cert_pem, 0o644)?;
            issued
        }
    };

    // The JWT signing key.
    let key_path = signing_key_path(path);
    let private_pem = match read_if_exists(&key_path)? {
        Some(pem) => pem,
        None => {
            let (private, _public) = sextant_pki::generate_signing_key()?;
            write_file(&key_path, &private, 0o600)?;
            private
        }
    };
    let public_pem = sextant_pki::public_key_pem(&private_pem)?;
    let issuer = TokenIssuer::from_pem(&private_pem).map_err(ServerError::Auth)?;
    let verifier = TokenVerifier::from_pem(&public_pem).map_err(ServerError::Auth)?;

    // The administrator token: default tenant, every scope.
    let admin_token_path = path.join("admin-token");
    let keep = read_if_exists(&admin_token_path)?.is_some_and(|token| {
        verifier.verify(token.trim()).is_ok_and(|claims| {
            claims.exp
                > time::OffsetDateTime::now_utc().unix_timestamp() + (30 * DAY).as_secs() as i64
        })
    });
    if !keep {
        let scopes: Vec<String> = Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect();
        let token = issuer
            .issue("admin", &[TenantId::DEFAULT], &scopes, ADMIN_TOKEN_TTL)
            .map_err(ServerError::Auth)?;
        write_file(&admin_token_path, &format!("{token}\n"), 0o600)?;
    }

    Ok(DataDir {
        ca,
        server_cert,
        verifier,
        admin_token_path,
    })
}
