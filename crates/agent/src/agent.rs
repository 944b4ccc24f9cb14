//! The agent's life: resume from the state directory or pair, then run a session (follow the
//! configuration, keep the certificate renewed, report to the Director) until shutdown or
//! until the management plane refuses the certificate; then re-pair if an unused token is at
//! hand, else stop with [`AgentError::CertificateRefused`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use sextant_domain::runtime_config::RuntimeConfiguration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use sextant_client::certs::{self, CertificateInfo};
use sextant_client::{Connection, Credentials, StateDir, StateError};

use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::failure::Failure;
use crate::state::State;
use crate::{AgentError, AgentStatus, Phase, follow, pairing, report};

/// How the agent introduces itself over HTTP.
pub(crate) const USER_AGENT: &str = concat!("sextant-agent/", env!("CARGO_PKG_VERSION"));

/// What every part of a running agent shares.
pub(crate) struct Shared {
    pub config: AgentConfig,
    pub dir: StateDir,
    /// `state.json` as last written.
    pub state: tokio::sync::Mutex<State>,
    pub status: watch::Sender<AgentStatus>,
    pub configuration: watch::Sender<Option<Arc<RuntimeConfiguration>>>,
    pub renew: Arc<Notify>,
    /// Cached specs whose hash was checked by this process.
    pub verified_specs: Mutex<HashSet<String>>,
    /// The event gateway, when configured.
    pub events: Option<crate::events::EventGateway>,
}

impl Shared {
    /// Changes `state.json`: written first, then remembered.
    pub async fn update_state(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let mut next = state.clone();
        change(&mut next);
        self.dir.write_state(&next)?;
        *state = next;
        Ok(())
    }

    /// Installs a new key, certificate and CA bundle, and the connection in `state.json`.
    pub async fn install(
        &self,
        credentials: &Credentials,
        connection: Connection,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let mut next = state.clone();
        next.connection = Some(connection);
        self.dir.install_credentials(credentials, &next)?;
        *state = next;
        Ok(())
    }

    /// Counts a failed attempt to reach the management plane.
    pub fn failure(&self, message: &str) {
        self.status.send_modify(|status| {
            status.failures += 1;
            status.last_error = Some(message.to_owned());
        });
    }

    pub fn set_phase(&self, phase: Phase) {
        self.status.send_if_modified(|status| {
            let changed = status.phase != phase;
            status.phase = phase;
            changed
        });
    }

    pub fn verified(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.verified_specs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The certificate-secured side as of now: a client with the current certificate and where
/// to reach the Director, the Connector and the configuration.
pub(crate) struct Link {
    pub client: reqwest::Client,
    pub director_url: String,
    pub connector_url: String,
    /// Scheme, host and port of the Director URL: the mTLS listener.
    pub base: String,
    pub certificate: CertificateInfo,
    /// The CA bundle of the pairing: the CAs of the management plane's client certificates.
    pub ca_pem: String,
    /// When the agent got the certificate (its `notBefore` for one found in the state
    /// directory).
    pub obtained_at: time::OffsetDateTime,
}

impl Link {
    pub fn new(credentials: &Credentials, connection: &Connection) -> Result<Link, String> {
        let director = url::Url::parse(&connection.director_url)
            .map_err(|e| format!("directorURL is not a URL: {e}"))?;
        let base = director.origin().ascii_serialization();
        if director.scheme() != "https" {
            return Err("directorURL is not https".into());
        }
        Ok(Link {
            client: sextant_client::http::mtls_client(USER_AGENT, credentials)?,
            director_url: connection.director_url.clone(),
            connector_url: connection.certificate_secured_connector_url.clone(),
            base,
            certificate: connection.certificate.clone(),
            ca_pem: credentials.ca_pem.clone(),
            obtained_at: time::OffsetDateTime::now_utc(),
        })
    }

    /// When to renew: at two thirds of the lifetime, counted from when the agent got the
    /// certificate if that is later than its `notBefore` (a CA backdates `notBefore` for
    /// clock skew; counted from there, a short-lived certificate would be due at once, and
    /// every renewal would be followed by the next).
    pub fn renew_at(&self) -> time::OffsetDateTime {
        let certificate = &self.certificate;
        let start = certificate
            .not_before
            .max(self.obtained_at.min(certificate.not_after));
        start + (certificate.not_after - start) * 2 / 3
    }
}

/// One certificate's session: the parts that use the link.
pub(crate) struct Session {
    pub link: ArcSwap<Link>,
    pub desired: watch::Sender<report::Desired>,
}

/// Why a session ended.
pub(crate) enum SessionEnd {
    /// The certificate was refused.
    Refused(String),
    /// Something that retrying cannot fix.
    Fatal(AgentError),
}

/// Runs the agent until `shutdown` (Ok) or an error it cannot get past.
pub(crate) async fn run(shared: Shared, shutdown: &CancellationToken) -> Result<(), AgentError> {
    let bootstrap = &shared.config.bootstrap;
    // Resume: the applied configuration is available at once, also while the management
    // plane is unreachable.
    {
        let mut state = shared.state.lock().await;
        if let Some((document, etag)) = follow::load_applied(&shared, &state) {
            tracing::info!(version = %etag, "resuming with the configuration applied before");
            let version = state.applied.as_ref().map(|a| a.version.clone());
            shared.configuration.send_replace(Some(document));
            shared
                .status
                .send_modify(|status| status.applied_version = version);
        } else {
            state.applied = None;
        }
    }
    let mut resume_failure = None;
    let mut link = match resume(&shared).await {
        Ok(link) => link,
        Err(reason) => {
            tracing::warn!(%reason, "cannot resume from the state directory");
            resume_failure = Some(reason);
            None
        }
    };
    loop {
        let current = match link.take() {
            Some(link) => link,
            None => {
                let token = match (unused_token(&shared).await, resume_failure.take()) {
                    (Ok(token), _) => token,
                    (Err(_), Some(reason)) => return Err(AgentError::CannotResume(reason)),
                    (Err(e), None) => return Err(e),
                };
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    paired = pairing::pair(&shared, &token) => paired?,
                }
            }
        };
        let end = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            end = session(&shared, current) => end,
        };
        match end {
            SessionEnd::Fatal(e) => return Err(e),
            SessionEnd::Refused(reason) => {
                let refused = AgentError::CertificateRefused(reason);
                tracing::error!(error = %refused, "the management plane refuses the certificate");
                shared.failure(&refused.to_string());
                let state = shared.state.lock().await;
                let fresh = bootstrap
                    .token
                    .as_ref()
                    .is_some_and(|t| !state.used_tokens.contains(&certs::sha256_hex(t.as_bytes())));
                if !fresh {
                    return Err(refused);
                }
                tracing::warn!("TOKEN holds a token not used yet: pairing again");
            }
        }
    }
}

/// The link of the state directory's certificate, if it has one.
async fn resume(shared: &Shared) -> Result<Option<Link>, String> {
    let state = shared.state.lock().await;
    let Some(connection) = &state.connection else {
        return Ok(None);
    };
    let credentials = shared
        .dir
        .read_credentials()
        .map_err(|e| sextant_client::chain(&e))?
        .ok_or("the key, certificate or CA bundle is missing")?;
    let certificate = certs::certificate_info(&credentials.cert_pem, Some(&credentials.key_pem))
        .map_err(|e| e.to_string())?;
    certs::check_ca_bundle(&credentials.ca_pem).map_err(|e| e.to_string())?;
    let connection = Connection {
        certificate,
        ..connection.clone()
    };
    let mut link = Link::new(&credentials, &connection)?;
    link.obtained_at = link.certificate.not_before;
    tracing::info!(
        serial = %link.certificate.serial,
        not_after = %link.certificate.not_after,
        "resuming with the certificate of the state directory"
    );
    Ok(Some(link))
}

/// The bootstrap token, if it was not used yet.
async fn unused_token(shared: &Shared) -> Result<String, AgentError> {
    let Some(token) = &shared.config.bootstrap.token else {
        return Err(AgentError::NoToken);
    };
    if shared
        .state
        .lock()
        .await
        .used_tokens
        .contains(&certs::sha256_hex(token.as_bytes()))
    {
        return Err(AgentError::TokenAlreadyUsed);
    }
    Ok(token.clone())
}

async fn session(shared: &Shared, link: Link) -> SessionEnd {
    let certificate = link.certificate.clone();
    shared.status.send_modify(|status| {
        status.certificate = Some(certificate);
        if matches!(status.phase, Phase::Starting | Phase::Pairing) {
            status.phase = Phase::Connected;
        }
    });
    let session = Session {
        link: ArcSwap::from_pointee(link),
        desired: watch::Sender::new(report::Desired::default()),
    };
    tokio::select! {
        end = follow::follow(shared, &session) => end,
        end = maintain(shared, &session) => end,
        end = report::report(shared, &session) => end,
        end = crate::events::maintain(shared, &session) => end,
    }
}

/// Renews the certificate at two thirds of its lifetime, or when asked.
async fn maintain(shared: &Shared, session: &Session) -> SessionEnd {
    loop {
        let renew_at = session.link.load().renew_at();
        let left = renew_at - time::OffsetDateTime::now_utc();
        if left.is_positive() {
            let sleep = std::time::Duration::try_from(left)
                .unwrap_or(pairing::RENEWAL_RECHECK)
                .min(pairing::RENEWAL_RECHECK);
            tokio::select! {
                () = tokio::time::sleep(sleep) => continue,
                () = shared.renew.notified() => tracing::info!("certificate renewal requested"),
            }
        } else {
            tracing::info!("the certificate is two thirds through its lifetime: renewing");
        }
        let mut backoff = Backoff::default();
        loop {
            let link = session.link.load_full();
            match pairing::renew(shared, &link).await {
                Ok(new) => {
                    tracing::info!(
                        serial = %new.certificate.serial,
                        not_after = %new.certificate.not_after,
                        "renewed the client certificate"
                    );
                    let certificate = new.certificate.clone();
                    session.link.store(Arc::new(new));
                    shared
                        .status
                        .send_modify(|status| status.certificate = Some(certificate));
                    break;
                }
                Err(Failure::Refused(reason)) => return SessionEnd::Refused(reason),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "certificate renewal failed; retrying");
                    shared.failure(&e.to_string());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
