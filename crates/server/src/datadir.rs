//! The data directory: the CA, the listeners' certificate, the JWT signing key and the
//! administrator token, created on first start and reused afterwards. Secrets are written
//! owner-only (0600) inside an owner-only directory (0700), atomically (temp file + rename).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sextant_auth::{TokenIssuer, TokenVerifier};
use sextant_domain::{Scope, TenantId};
use sextant_pki::{CertificateAuthority, CertifiedKey};
use sextant_tls::ClientAuth;

use crate::error::ServerError;

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
    /// The CA that signs client certificates.
    pub ca: CertificateAuthority,
    /// During a CA rotation, the previous CA: its client certificates are still accepted, it
    /// still issues the listeners' certificate (clients that know only it keep trusting the
    /// server), and revocations are published in a CRL of its own.
    pub previous_ca: Option<CertificateAuthority>,
    pub server_cert: CertifiedKey,
    /// The runtime serving CA: signs the TLS server certificates of runtimes' event gateways,
    /// and nothing else (a CA of its own, so that a runtime's certificate can never pass for
    /// the management plane's). Long-lived; rotating it is not supported yet.
    pub runtime_serving_ca: CertificateAuthority,
    pub verifier: TokenVerifier,
    pub admin_token_path: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// Writes `contents` to `path` with `mode`, atomically (`sextant_fs::write_atomic`: a secret
/// is never readable by others, not even briefly).
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), ServerError> {
    sextant_fs::write_atomic(path, contents.as_bytes(), mode).map_err(io_err(path))
}

fn read_if_exists(path: &Path) -> Result<Option<String>, ServerError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Makes sure the listeners' certificate in `dir` is usable, re-issuing it when the CA is new
/// (`fresh_ca`), when `ca` did not sign it (a rotated CA was retired), when it misses one of
/// `names`, when under 30 days of its life are left, or when the key does not belong to it (a
/// crash between writing the two). Returns the
/// certificate and whether it was issued now. The running server calls this periodically and
/// swaps a re-issued certificate into its listeners.
pub fn ensure_server_certificate(
    dir: &Path,
    ca: &CertificateAuthority,
    names: &[String],
    fresh_ca: bool,
) -> Result<(CertifiedKey, bool), ServerError> {
    let server_crt = dir.join("server.crt");
    let server_key = dir.join("server.key");
    let existing = match (read_if_exists(&server_crt)?, read_if_exists(&server_key)?) {
        (Some(cert_pem), Some(key_pem)) if !fresh_ca => Some(CertifiedKey { cert_pem, key_pem }),
        _ => None,
    };
    let still_good = |cert: &CertifiedKey| -> bool {
        let Ok(summary) = sextant_pki::certificate_summary(&cert.cert_pem) else {
            return false;
        };
        let renew_at = summary.not_after - SERVER_CERT_RENEW_BEFORE;
        ca.signed(&cert.cert_pem)
            && names.iter().all(|n| summary.names.contains(n))
            && time::OffsetDateTime::now_utc() < renew_at
            && sextant_tls::server_config(&cert.cert_pem, &cert.key_pem, ClientAuth::None).is_ok()
    };
    match existing {
        Some(cert) if still_good(&cert) => Ok((cert, false)),
        _ => {
            let issued = ca.issue_server_certificate(names, SERVER_CERT_VALIDITY)?;
            write_file(&server_key, &issued.key_pem, 0o600)?;
            write_file(&server_crt, &issued.cert_pem, 0o644)?;
            Ok((issued, true))
        }
    }
}

/// The file names of a CA: certificate and key.
type CaFiles = (&'static str, &'static str);
const CA_FILES: CaFiles = ("ca.crt", "ca.key");
const PREVIOUS_CA_FILES: CaFiles = ("ca-previous.crt", "ca-previous.key");
/// A rotation's new CA, written before it replaces the current one.
const NEXT_CA_FILES: CaFiles = ("ca-next.crt", "ca-next.key");
/// The runtime serving CA.
const RUNTIME_SERVING_CA_FILES: CaFiles = ("runtime-serving-ca.crt", "runtime-serving-ca.key");

fn load_ca(dir: &Path, (crt, key): CaFiles) -> Result<Option<CertificateAuthority>, ServerError> {
    let (crt, key) = (dir.join(crt), dir.join(key));
    match (read_if_exists(&crt)?, read_if_exists(&key)?) {
        (Some(cert), Some(key)) => Ok(Some(CertificateAuthority::from_pem(&cert, &key)?)),
        (None, None) => Ok(None),
        _ => Err(ServerError::Inconsistent(format!(
            "{} and {} must both exist or both be absent",
            crt.display(),
            key.display()
        ))),
    }
}

/// Writes a CA's key, then its certificate (the certificate's presence marks it complete).
fn write_ca(dir: &Path, (crt, key): CaFiles, ca: &CertifiedKey) -> Result<(), ServerError> {
    write_file(&dir.join(key), &ca.key_pem, 0o600)?;
    write_file(&dir.join(crt), &ca.cert_pem, 0o644)
}

fn exists(path: &Path) -> Result<bool, ServerError> {
    path.try_exists().map_err(io_err(path))
}

fn remove_if_exists(path: &Path) -> Result<(), ServerError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), ServerError> {
    fs::rename(from, to).map_err(io_err(from))
}

/// Completes a CA rotation a crash interrupted, or drops one that had not committed. The
/// rotation commits when `ca-next.crt` is written (after `ca-next.key`); from then on it is
/// carried through on every open: the current CA is copied to `ca-previous.*`, then
/// `ca-next.key` and `ca-next.crt` are renamed over `ca.key` and `ca.crt`, in that order.
/// A retirement is completed likewise: `ca-previous.crt` is removed before `ca-previous.key`.
fn finish_ca_rotation(dir: &Path) -> Result<(), ServerError> {
    let next_crt = dir.join(NEXT_CA_FILES.0);
    let next_key = dir.join(NEXT_CA_FILES.1);
    match (exists(&next_crt)?, exists(&next_key)?) {
        (true, true) => {
            let current = load_ca(dir, CA_FILES)?.ok_or_else(|| {
                ServerError::Inconsistent(format!(
                    "{} holds a rotation's new CA but no current CA",
                    dir.display()
                ))
            })?;
            let current_key =
                fs::read_to_string(dir.join(CA_FILES.1)).map_err(io_err(&dir.join(CA_FILES.1)))?;
            write_ca(
                dir,
                PREVIOUS_CA_FILES,
                &CertifiedKey {
                    cert_pem: current.cert_pem().to_owned(),
                    key_pem: current_key,
                },
            )?;
            rename(&next_key, &dir.join(CA_FILES.1))?;
            rename(&next_crt, &dir.join(CA_FILES.0))?;
        }
        // Crashed between the two renames.
        (true, false) => rename(&next_crt, &dir.join(CA_FILES.0))?,
        // Crashed before the rotation committed.
        (false, true) => remove_if_exists(&next_key)?,
        (false, false) => {}
    }
    let previous_key = dir.join(PREVIOUS_CA_FILES.1);
    if !exists(&dir.join(PREVIOUS_CA_FILES.0))? && exists(&previous_key)? {
        remove_if_exists(&previous_key)?;
    }
    Ok(())
}

/// What a CA rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The new CA's certificate (PEM).
    pub new_ca_pem: String,
}

/// Rotates the CA in a data directory: a new CA signs client certificates from the next
/// server start on, and the current one becomes the previous CA, still trusted for client
/// certificates and still issuing the listeners' certificate until it is retired
/// (`retire_previous_ca`). Refused while a previous CA exists (retire it first).
pub fn rotate_ca(dir: &Path) -> Result<Rotation, ServerError> {
    finish_ca_rotation(dir)?;
    if load_ca(dir, CA_FILES)?.is_none() {
        return Err(ServerError::Inconsistent(format!(
            "{} has no CA to rotate (start the server once to create it)",
            dir.display()
        )));
    }
    if load_ca(dir, PREVIOUS_CA_FILES)?.is_some() {
        return Err(ServerError::Inconsistent(
            "a previous CA is still trusted: retire it before rotating again".into(),
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    // A distinct subject: CRLs and chains are matched to their CA by name.
    let name = format!(
        "Sextant CA {:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let generated = sextant_pki::generate_ca(&name, CA_VALIDITY)?;
    write_ca(dir, NEXT_CA_FILES, &generated)?;
    finish_ca_rotation(dir)?;
    Ok(Rotation {
        new_ca_pem: generated.cert_pem,
    })
}

/// The previous CA of a data directory, if a rotation is in progress.
pub fn previous_ca(dir: &Path) -> Result<Option<CertificateAuthority>, ServerError> {
    finish_ca_rotation(dir)?;
    load_ca(dir, PREVIOUS_CA_FILES)
}

/// The current CA of a data directory.
pub fn current_ca(dir: &Path) -> Result<Option<CertificateAuthority>, ServerError> {
    finish_ca_rotation(dir)?;
    load_ca(dir, CA_FILES)
}

/// Ends a CA rotation: the previous CA is removed, so from the next server start on its
/// client certificates are refused and the listeners' certificate is issued by the current
/// CA. Returns whether there was a previous CA. The caller checks first that no client still
/// depends on it.
pub fn retire_previous_ca(dir: &Path) -> Result<bool, ServerError> {
    finish_ca_rotation(dir)?;
    if load_ca(dir, PREVIOUS_CA_FILES)?.is_none() {
        return Ok(false);
    }
    remove_if_exists(&dir.join(PREVIOUS_CA_FILES.0))?;
    remove_if_exists(&dir.join(PREVIOUS_CA_FILES.1))?;
    Ok(true)
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

    finish_ca_rotation(path)?;
    let (ca, ca_created) = match load_ca(path, CA_FILES)? {
        Some(ca) => (ca, false),
        None => {
            let generated = sextant_pki::generate_ca("Sextant CA", CA_VALIDITY)?;
            write_ca(path, CA_FILES, &generated)?;
            (
                CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem)?,
                true,
            )
        }
    };
    let previous_ca = load_ca(path, PREVIOUS_CA_FILES)?;
    if previous_ca.is_some() && ca_created {
        return Err(ServerError::Inconsistent(format!(
            "{} has a previous CA but no current one",
            path.display()
        )));
    }

    let signer = previous_ca.as_ref().unwrap_or(&ca);
    let (server_cert, _) = ensure_server_certificate(path, signer, names, ca_created)?;

    let runtime_serving_ca = match load_ca(path, RUNTIME_SERVING_CA_FILES)? {
        Some(ca) => ca,
        None => {
            let generated = sextant_pki::generate_ca("Sextant runtime serving CA", CA_VALIDITY)?;
            write_ca(path, RUNTIME_SERVING_CA_FILES, &generated)?;
            CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem)?
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
        previous_ca,
        server_cert,
        runtime_serving_ca,
        verifier,
        admin_token_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("sextant-datadir-{}", uuid::Uuid::new_v4().simple()))
    }

    fn names() -> Vec<String> {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    }

    fn pem(dir: &Path, name: &str) -> Option<String> {
        read_if_exists(&dir.join(name)).unwrap()
    }

    #[test]
    fn a_rotation_keeps_the_old_ca_as_previous_and_its_server_certificate() {
        let dir = temp_dir();
        let before = open(&dir, &names()).unwrap();
        let rotation = rotate_ca(&dir).unwrap();
        let after = open(&dir, &names()).unwrap();
        assert_eq!(after.ca.cert_pem(), rotation.new_ca_pem);
        let previous = after.previous_ca.as_ref().unwrap();
        assert_eq!(previous.cert_pem(), before.ca.cert_pem());
        assert_eq!(
            after.server_cert.cert_pem, before.server_cert.cert_pem,
            "the old CA keeps issuing the listeners' certificate"
        );
        assert!(rotate_ca(&dir).is_err(), "one rotation at a time");
        assert!(retire_previous_ca(&dir).unwrap());
        assert!(!retire_previous_ca(&dir).unwrap());
        let retired = open(&dir, &names()).unwrap();
        assert!(retired.previous_ca.is_none());
        assert!(retired.ca.signed(&retired.server_cert.cert_pem));
        assert!(!previous.signed(&retired.server_cert.cert_pem));
    }

    #[test]
    fn an_interrupted_rotation_is_completed_or_dropped() {
        let dir = temp_dir();
        let first = open(&dir, &names()).unwrap();
        let next = sextant_pki::generate_ca("Sextant CA next", DAY).unwrap();

        // Crashed while writing the new CA (key written, certificate not): dropped.
        write_file(&dir.join(NEXT_CA_FILES.1), &next.key_pem, 0o600).unwrap();
        let opened = open(&dir, &names()).unwrap();
        assert_eq!(opened.ca.cert_pem(), first.ca.cert_pem());
        assert!(opened.previous_ca.is_none());
        assert!(pem(&dir, NEXT_CA_FILES.1).is_none());

        // Crashed after committing (both written): completed.
        write_ca(&dir, NEXT_CA_FILES, &next).unwrap();
        let opened = open(&dir, &names()).unwrap();
        assert_eq!(opened.ca.cert_pem(), next.cert_pem);
        assert_eq!(
            opened.previous_ca.as_ref().unwrap().cert_pem(),
            first.ca.cert_pem()
        );

        // Crashed between the two renames (the new key is in place, its certificate not):
        // completed.
        assert!(retire_previous_ca(&dir).unwrap());
        let third = sextant_pki::generate_ca("Sextant CA third", DAY).unwrap();
        let current = opened.ca.cert_pem().to_owned();
        write_ca(
            &dir,
            PREVIOUS_CA_FILES,
            &CertifiedKey {
                cert_pem: current.clone(),
                key_pem: pem(&dir, CA_FILES.1).unwrap(),
            },
        )
        .unwrap();
        write_file(&dir.join(CA_FILES.1), &third.key_pem, 0o600).unwrap();
        write_file(&dir.join(NEXT_CA_FILES.0), &third.cert_pem, 0o644).unwrap();
        let opened = open(&dir, &names()).unwrap();
        assert_eq!(opened.ca.cert_pem(), third.cert_pem);
        assert_eq!(opened.previous_ca.as_ref().unwrap().cert_pem(), current);

        // Crashed while retiring (certificate removed, key not): completed.
        fs::remove_file(dir.join(PREVIOUS_CA_FILES.0)).unwrap();
        let opened = open(&dir, &names()).unwrap();
        assert!(opened.previous_ca.is_none());
        assert!(pem(&dir, PREVIOUS_CA_FILES.1).is_none());
    }

    #[test]
    fn reopening_keeps_everything() {
        let dir = temp_dir();
        let first = open(&dir, &names()).unwrap();
        let token = fs::read_to_string(&first.admin_token_path).unwrap();
        let second = open(&dir, &names()).unwrap();
        assert_eq!(first.ca.cert_pem(), second.ca.cert_pem());
        assert_eq!(first.server_cert.cert_pem, second.server_cert.cert_pem);
        assert_eq!(token, fs::read_to_string(&second.admin_token_path).unwrap());
        assert_eq!(
            first.runtime_serving_ca.cert_pem(),
            second.runtime_serving_ca.cert_pem()
        );
        assert_ne!(first.runtime_serving_ca.cert_pem(), first.ca.cert_pem());
        let key = dir.join(RUNTIME_SERVING_CA_FILES.1);
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn server_certificate_is_renewed_near_expiry_on_new_names_and_on_a_foreign_key() {
        let dir = temp_dir();
        let opened = open(&dir, &names()).unwrap();
        let (_, renewed) = ensure_server_certificate(&dir, &opened.ca, &names(), false).unwrap();
        assert!(!renewed, "a fresh certificate is kept");

        // Ten days left: renewed, for 90 days.
        let short = opened
            .ca
            .issue_server_certificate(&names(), Duration::from_secs(10 * 24 * 3600))
            .unwrap();
        write_file(&dir.join("server.crt"), &short.cert_pem, 0o644).unwrap();
        write_file(&dir.join("server.key"), &short.key_pem, 0o600).unwrap();
        let (cert, renewed) = ensure_server_certificate(&dir, &opened.ca, &names(), false).unwrap();
        assert!(renewed);
        let summary = sextant_pki::certificate_summary(&cert.cert_pem).unwrap();
        assert!(summary.not_after > time::OffsetDateTime::now_utc() + time::Duration::days(80));
        assert_eq!(
            fs::read_to_string(dir.join("server.crt")).unwrap(),
            cert.cert_pem
        );

        // A new public name: renewed to cover it.
        let mut more = names();
        more.push("sextant.example.com".to_owned());
        let (cert, renewed) = ensure_server_certificate(&dir, &opened.ca, &more, false).unwrap();
        assert!(renewed);
        let summary = sextant_pki::certificate_summary(&cert.cert_pem).unwrap();
        assert!(summary.names.contains(&"sextant.example.com".to_owned()));

        // A key that does not belong to the certificate (crash between the two writes).
        let other = opened
            .ca
            .issue_server_certificate(&more, SERVER_CERT_VALIDITY)
            .unwrap();
        write_file(&dir.join("server.key"), &other.key_pem, 0o600).unwrap();
        let (_, renewed) = ensure_server_certificate(&dir, &opened.ca, &more, false).unwrap();
        assert!(renewed);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_are_owner_only_even_over_a_readable_file() {
        let dir = temp_dir();
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("secret.key");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
        write_file(&target, "new secret", 0o600).unwrap();
        let meta = fs::metadata(&target).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&target).unwrap(), "new secret");
        fs::remove_dir_all(dir).unwrap();
    }
}
