//! The agent's life: resume from the state directory or pair, then run a session (follow the
//! configuration, keep the certificate renewed, report to the Director) until shutdown or
//! until the management plane refuses the certificate; then re-pair if an unused token is at
//! hand, else stop with [`AgentError::CertificateRefused`].

use std::sync::Arc;

use arc_swap::ArcSwap;
use sextant_client::Connection;
use sextant_client::certs;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::error::AgentError;
use crate::events::{self, EventGateway};
use crate::failure::Failure;
use crate::session::{Desired, Link, Session, SessionEnd, Shared};
use crate::status::Phase;
use crate::{follow, pairing, report};

/// Runs the agent (and its event gateway, when configured) until `shutdown` (Ok) or an error
/// it cannot get past.
pub(crate) async fn run(
    shared: Shared,
    gateway: Option<EventGateway>,
    shutdown: &CancellationToken,
) -> Result<(), AgentError> {
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
            end = session(&shared, gateway.as_ref(), current) => end,
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

async fn session(shared: &Shared, gateway: Option<&EventGateway>, link: Link) -> SessionEnd {
    let certificate = link.certificate.clone();
    shared.status.send_modify(|status| {
        status.certificate = Some(certificate);
        if matches!(status.phase, Phase::Starting | Phase::Pairing) {
            status.phase = Phase::Connected;
        }
    });
    let session = Session {
        link: ArcSwap::from_pointee(link),
        desired: watch::Sender::new(Desired::default()),
    };
    tokio::select! {
        end = follow::follow(shared, &session) => end,
        end = maintain(shared, &session) => end,
        end = report::report(shared, &session) => end,
        end = events::maintain(shared, &session, gateway) => end,
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
