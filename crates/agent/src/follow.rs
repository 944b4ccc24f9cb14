//! Following the runtime's configuration document over mTLS.
//!
//! `GET {mTLS base}/runtime/configuration?wait=N` with `If-None-Match: <last ETag>`: the
//! server holds the request until the document changes (or N seconds pass: 304). A new
//! document is applied: every spec it names that is not in the local cache is fetched from
//! `/runtime/specs/{sha256}` and kept only if its SHA-256 matches, then the document is
//! written to `applied-configuration.json`, its version and the time to `state.json`, and it
//! is published to in-process consumers. Failures are retried with backoff. The document and
//! the specs are asked for gzip-encoded (`Accept-Encoding: gzip`) and decoded here, never
//! beyond the document's limit or the size the document declares for a spec.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use sextant_domain::runtime_config::{
    CONFIGURATION_PATH, RuntimeConfiguration, SPECS_PATH, SpecRef,
};

use sextant_client::certs::{is_sha256_hex, sha256_hex};
use sextant_client::http::{self, Security};

use crate::backoff::Backoff;
use crate::error::AgentError;
use crate::failure::Failure;
use crate::session::{Desired, Link, Session, SessionEnd, Shared, StatusReport};
use crate::state::{self, APPLIED_FILE, Applied, State};
use crate::status::Phase;

/// The largest configuration document read.
const MAX_DOCUMENT: usize = 64 * 1024 * 1024;
/// The largest spec read, whatever size the document declares (the server's default limit
/// for fetched specs is 16 MiB; an operator may raise it up to this).
const MAX_SPEC: usize = 256 * 1024 * 1024;
/// The least time between two polls that the server answered "unchanged" at once: a server
/// (or proxy) that does not hold the request must not make the agent spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How much longer than the long poll a configuration request may take.
const POLL_GRACE: Duration = Duration::from_secs(30);

/// Every spec a document names.
fn specs(document: &RuntimeConfiguration) -> impl Iterator<Item = &SpecRef> {
    document.applications.iter().flat_map(|app| {
        app.apis
            .iter()
            .filter_map(|api| api.spec.as_ref())
            .chain(app.events.iter().filter_map(|event| event.spec.as_ref()))
    })
}

/// Whether the cache holds this spec intact (checked once per process; a damaged file is
/// removed).
fn cached(shared: &Shared, sha256: &str) -> bool {
    let path = state::spec_path(&shared.dir, sha256);
    if shared.verified().contains(sha256) && path.exists() {
        return true;
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return false;
    };
    if sha256_hex(&bytes) == sha256 {
        shared.verified().insert(sha256.to_owned());
        return true;
    }
    tracing::warn!(
        spec = sha256,
        "a cached spec does not match its hash: fetching it again"
    );
    let _ = std::fs::remove_file(&path);
    false
}

/// The configuration applied before, if it is still all there (document and specs), with
/// its ETag.
pub(crate) fn load_applied(
    shared: &Shared,
    state: &State,
) -> Option<(Arc<RuntimeConfiguration>, String)> {
    let applied = state.applied.as_ref()?;
    let bytes = std::fs::read(shared.dir.path(APPLIED_FILE)).ok()?;
    let document: RuntimeConfiguration = serde_json::from_slice(&bytes).ok()?;
    if document.runtime_id != state.runtime_id {
        return None;
    }
    if !specs(&document).all(|spec| is_sha256_hex(&spec.sha256) && cached(shared, &spec.sha256)) {
        return None;
    }
    Some((Arc::new(document), applied.etag.clone()))
}

enum Poll {
    NotModified,
    Changed { etag: String, body: Vec<u8> },
}

async fn poll(link: &Link, etag: Option<&str>, wait: Duration) -> Result<Poll, Failure> {
    let url = format!("{}{CONFIGURATION_PATH}?wait={}", link.base, wait.as_secs());
    let mut request = link
        .client
        .get(url)
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .timeout(wait + POLL_GRACE);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let response = request
        .send()
        .await
        .map_err(|e| http::transport_error(&e, Security::Certificate))?;
    match response.status() {
        StatusCode::NOT_MODIFIED => Ok(Poll::NotModified),
        StatusCode::OK => {
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let gzipped = is_gzipped(&response);
            let body = http::read_limited(
                response,
                wire_limit(MAX_DOCUMENT, gzipped),
                Security::Certificate,
            )
            .await?;
            let body = if gzipped {
                gunzip_limited(&body, MAX_DOCUMENT).map_err(|e| {
                    http::CallError::Malformed(format!(
                        "the configuration arrived gzip-encoded but {e}"
                    ))
                })?
            } else {
                body
            };
            // The server always names the version; without it, the content names itself.
            let etag = etag.unwrap_or_else(|| format!("\"{}\"", sha256_hex(&body)));
            Ok(Poll::Changed { etag, body })
        }
        status => {
            let body = http::read_limited(response, 64 * 1024, Security::Certificate)
                .await
                .unwrap_or_default();
            Err(http::status_error(status, &body, Security::Certificate).into())
        }
    }
}

/// Why applying a document did not work.
enum ApplyError {
    /// Reaching the management plane failed.
    Call(Failure),
    /// The document cannot be applied (bad content, a spec that does not match its hash,
    /// the state directory not writable): reported to the Director as FAILED.
    Failed(String),
    /// The document is for another runtime.
    Fatal(AgentError),
}

/// Whether the answer is gzip-encoded.
fn is_gzipped(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"))
}

/// The most bytes read of a body that decodes to at most `limit`: gzip may grow
/// incompressible data a little, so it gets headroom for its framing.
fn wire_limit(limit: usize, gzipped: bool) -> usize {
    if gzipped {
        limit.saturating_add(limit / 64).saturating_add(1024)
    } else {
        limit
    }
}

/// Decodes a gzip body into at most `limit` bytes.
fn gunzip_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|e| format!("cannot decode it: {e}"))?;
    if decoded.len() > limit {
        return Err(format!("it decodes to more than {limit} bytes"));
    }
    Ok(decoded)
}

async fn fetch_spec(link: &Link, sha256: &str, size: u64) -> Result<Vec<u8>, ApplyError> {
    // The document declares the size; the hash check below catches a wrong one.
    let limit = usize::try_from(size).unwrap_or(usize::MAX).min(MAX_SPEC);
    let response = link
        .client
        .get(format!("{}{SPECS_PATH}/{sha256}", link.base))
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .timeout(http::CALL_TIMEOUT)
        .send()
        .await
        .map_err(|e| ApplyError::Call(http::transport_error(&e, Security::Certificate).into()))?;
    let status = response.status();
    if !status.is_success() {
        let body = http::read_limited(response, 64 * 1024, Security::Certificate)
            .await
            .unwrap_or_default();
        return Err(ApplyError::Call(
            http::status_error(status, &body, Security::Certificate).into(),
        ));
    }
    let gzipped = is_gzipped(&response);
    let body = http::read_limited(response, wire_limit(limit, gzipped), Security::Certificate)
        .await
        .map_err(|e| ApplyError::Call(e.into()))?;
    let body = if gzipped {
        gunzip_limited(&body, limit).map_err(|e| {
            ApplyError::Failed(format!("spec {sha256} arrived gzip-encoded but {e}"))
        })?
    } else {
        body
    };
    let got = sha256_hex(&body);
    if got != sha256 {
        return Err(ApplyError::Failed(format!(
            "spec {sha256} arrived with another content (SHA-256 {got})"
        )));
    }
    Ok(body)
}

/// Applies a new document (see the module documentation).
async fn apply(
    shared: &Shared,
    link: &Link,
    etag: String,
    body: Vec<u8>,
) -> Result<String, ApplyError> {
    let document: RuntimeConfiguration = serde_json::from_slice(&body)
        .map_err(|e| ApplyError::Failed(format!("the configuration document is not valid: {e}")))?;
    let bootstrap = &shared.config.bootstrap;
    if document.runtime_id != bootstrap.runtime_id || document.tenant != bootstrap.tenant {
        return Err(ApplyError::Fatal(AgentError::WrongRuntime {
            runtime: document.runtime_id,
            tenant: document.tenant,
        }));
    }
    let mut needed = BTreeMap::new();
    for spec in specs(&document) {
        if !is_sha256_hex(&spec.sha256) {
            return Err(ApplyError::Failed(format!(
                "the configuration names a spec {:?} that is no SHA-256",
                spec.sha256
            )));
        }
        needed.insert(spec.sha256.clone(), spec.size);
    }
    for (sha256, size) in &needed {
        if cached(shared, sha256) {
            continue;
        }
        let data = fetch_spec(link, sha256, *size).await?;
        state::write_spec(&shared.dir, sha256, &data).map_err(|e| {
            ApplyError::Failed(format!("cannot cache spec {sha256}: {}", http::chain(&e)))
        })?;
        shared.verified().insert(sha256.clone());
        tracing::debug!(spec = %sha256, bytes = data.len(), "fetched a spec");
    }
    shared.dir.write(APPLIED_FILE, &body).map_err(|e| {
        ApplyError::Failed(format!(
            "cannot store the configuration: {}",
            http::chain(&e)
        ))
    })?;
    let version = etag.trim_start_matches("W/").trim_matches('"').to_owned();
    let applied = Applied {
        version: version.clone(),
        etag,
        applied_at: time::OffsetDateTime::now_utc(),
    };
    shared
        .update_state(|state| state.applied = Some(applied))
        .await
        .map_err(|e| {
            ApplyError::Failed(format!(
                "cannot record the configuration: {}",
                http::chain(&e)
            ))
        })?;
    let keep: BTreeSet<String> = needed.into_keys().collect();
    state::prune_specs(&shared.dir, &keep);
    shared.verified().retain(|sha256| keep.contains(sha256));
    tracing::info!(
        %version,
        applications = document.applications.len(),
        "applied the runtime configuration"
    );
    shared.configuration.send_replace(Some(Arc::new(document)));
    shared
        .status
        .send_modify(|status| status.applied_version = Some(version.clone()));
    Ok(version)
}

/// The runtime is configured with the current document.
fn configured(shared: &Shared, session: &Session) {
    shared.set_phase(Phase::Ready);
    let wanted = Desired {
        labels: shared.config.labels(),
        status: Some(StatusReport::ready()),
    };
    session.desired.send_if_modified(|desired| {
        let changed = *desired != wanted;
        *desired = wanted;
        changed
    });
}

/// Applying failed: FAILED with the reason.
fn failed(shared: &Shared, session: &Session, message: &str) {
    shared.set_phase(Phase::Failed);
    shared
        .status
        .send_modify(|status| status.last_error = Some(message.to_owned()));
    let status = Some(StatusReport::failed(message));
    session.desired.send_if_modified(|desired| {
        let changed = desired.status != status;
        desired.status = status;
        changed
    });
}

/// Follows the configuration until the certificate is refused or a fatal error.
pub(crate) async fn follow(shared: &Shared, session: &Session) -> SessionEnd {
    let mut backoff = Backoff::default();
    // The first request of a session does not wait: whether the configuration applied
    // before is still current is known at once (READY without waiting for a change).
    let mut confirmed = false;
    loop {
        let wait = if confirmed {
            shared.config.poll_wait
        } else {
            Duration::ZERO
        };
        let link = session.link.load_full();
        let etag = shared
            .state
            .lock()
            .await
            .applied
            .as_ref()
            .map(|applied| applied.etag.clone());
        let started = tokio::time::Instant::now();
        let failure = match poll(&link, etag.as_deref(), wait).await {
            Ok(Poll::NotModified) => {
                backoff.reset();
                configured(shared, session);
                if confirmed {
                    tokio::time::sleep_until(started + MIN_POLL_INTERVAL).await;
                }
                confirmed = true;
                continue;
            }
            Ok(Poll::Changed { etag, body }) => match apply(shared, &link, etag, body).await {
                Ok(_) => {
                    backoff.reset();
                    configured(shared, session);
                    confirmed = true;
                    continue;
                }
                Err(ApplyError::Fatal(e)) => return SessionEnd::Fatal(e),
                Err(ApplyError::Failed(message)) => {
                    tracing::warn!(error = %message, "cannot apply the runtime configuration");
                    failed(shared, session, &message);
                    shared.failure(&message);
                    None
                }
                Err(ApplyError::Call(e)) => Some(e),
            },
            Err(e) => Some(e),
        };
        match failure {
            Some(Failure::Refused(reason)) => return SessionEnd::Refused(reason),
            Some(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "cannot read the runtime configuration; retrying");
                shared.failure(&e.to_string());
                tokio::time::sleep(delay).await;
            }
            None => tokio::time::sleep(backoff.next_delay()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::gunzip_limited;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_body_decodes_up_to_the_declared_size_only() {
        let text = b"openapi: 3.0.0\n".repeat(1000);
        assert_eq!(gunzip_limited(&gzip(&text), text.len()).unwrap(), text);
        // A bomb (a megabyte of zeros in about a kilobyte) stops at the limit.
        let bomb = gzip(&vec![0u8; 1024 * 1024]);
        assert!(bomb.len() < 8 * 1024);
        let refused = gunzip_limited(&bomb, text.len()).unwrap_err();
        assert!(refused.contains("more than"), "{refused}");
        assert!(gunzip_limited(b"not gzip at all", 100).is_err());
    }
}
