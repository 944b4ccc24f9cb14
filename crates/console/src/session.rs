//! Console sessions: the cookie, loading and refreshing a session, opening one, CSRF.
//!
//! The cookie holds a random session id (256 bits); the database holds only its SHA-256, so
//! a copy of the database opens no session. A session ends when idle for [`IDLE_TIMEOUT`],
//! at its absolute end ([`ABSOLUTE_TIMEOUT`] after it opened, or earlier: a session opened
//! with an API token ends with the token), or at logout, which deletes its row (on every
//! replica at once). Its `last_seen` is written at most once a [`TOUCH_INTERVAL`], so
//! reading pages costs one read and rarely a write.

use axum::http::{HeaderMap, HeaderValue, header};
use sextant_domain::{Consumer, ConsumerId, Scope, TenantId};
use sextant_store::{ConsoleGrant, ConsoleSession};
use time::{Duration, OffsetDateTime};

use crate::error::ConsoleError;
use crate::state::ConsoleState;

/// The session cookie's name. `__Host-`: browsers accept it only with `Secure`, `Path=/` and
/// no `Domain`, so no other host (or plain-HTTP page) can set or shadow it.
pub const COOKIE_NAME: &str = "__Host-sextant_console";

/// A session not used for this long has ended.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);

/// A session ends this long after it opened, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);

/// `last_seen` is written at most this often per session.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// A live session of the request.
pub(crate) struct Session {
    pub(crate) stored: ConsoleSession,
}

impl Session {
    /// The consumer every page of this session runs its GraphQL as: the user, in the
    /// session's current tenant, with the session's scopes.
    pub(crate) fn consumer(&self) -> Consumer {
        Consumer {
            tenant: self.stored.current_tenant,
            scopes: self.stored.grant.scopes.clone(),
            id: ConsumerId::User(self.stored.grant.subject.clone()),
        }
    }

    pub(crate) fn has(&self, scope: Scope) -> bool {
        self.stored.grant.scopes.iter().any(|s| s == scope.as_str())
    }

    /// Whether a form's CSRF token is this session's, compared in constant time.
    pub(crate) fn csrf_matches(&self, presented: Option<&str>) -> bool {
        let Some(presented) = presented else {
            return false;
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(
            presented.as_bytes(),
            self.stored.csrf_token.as_bytes(),
        )
        .is_ok()
    }

    pub(crate) fn session_hash(&self) -> &[u8] {
        &self.stored.session_hash
    }
}

/// The session id the request's cookie carries, if any.
fn cookie_session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether a stored session is still live at `now`.
fn live(session: &ConsoleSession, now: OffsetDateTime) -> bool {
    now < session.expires_at && now < session.last_seen + IDLE_TIMEOUT
}

/// The request's live session, if its cookie names one; refreshes `last_seen` when due.
pub(crate) async fn current(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Session>, ConsoleError> {
    let Some(id) = cookie_session_id(headers) else {
        return Ok(None);
    };
    let hash = sextant_auth::secret_hash(id);
    let now = OffsetDateTime::now_utc();
    let stored = {
        let mut tx = state.store().read().await?;
        tx.console_session(&hash).await?
    };
    let Some(mut stored) = stored.filter(|s| live(s, now)) else {
        return Ok(None);
    };
    if now - stored.last_seen >= TOUCH_INTERVAL {
        let mut tx = state.store().write().await?;
        let there = tx.touch_console_session(&hash, now).await?;
        tx.commit().await?;
        if !there {
            // Logged out meanwhile.
            return Ok(None);
        }
        stored.last_seen = now;
    }
    Ok(Some(Session { stored }))
}

/// A new session for `grant` (starting in its first tenant), ending at the absolute timeout
/// or at `end`, whichever is first; and its secret id, for the cookie. The caller stores it.
pub(crate) fn open(
    grant: ConsoleGrant,
    now: OffsetDateTime,
    end: Option<OffsetDateTime>,
) -> Result<(String, ConsoleSession), ConsoleError> {
    let current_tenant = grant.tenants.first().copied().unwrap_or(TenantId::DEFAULT);
    let sextant_auth::NewSecret {
        secret: id,
        hash: session_hash,
    } = sextant_auth::new_client_secret().map_err(|_| ConsoleError::Random)?;
    let csrf_token = sextant_auth::new_client_secret()
        .map_err(|_| ConsoleError::Random)?
        .secret;
    let absolute = now + ABSOLUTE_TIMEOUT;
    let expires_at = end.map_or(absolute, |end| end.min(absolute));
    Ok((
        id,
        ConsoleSession {
            session_hash,
            grant,
            current_tenant,
            csrf_token,
            created_at: now,
            last_seen: now,
            expires_at,
        },
    ))
}

/// The `Set-Cookie` value that hands the browser a session id: only over HTTPS, never to
/// scripts, never on a request another site starts.
pub(crate) fn set_cookie(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; Secure; SameSite=Strict"
    ))
    .ok()
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-sextant_console=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; __Host-sextant_console=abc ; c=d"),
        );
        assert_eq!(cookie_session_id(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("sextant_console=x"),
        );
        assert_eq!(cookie_session_id(&headers), None);
    }

    #[test]
    fn a_session_ends_idle_or_absolute() {
        let now = OffsetDateTime::now_utc();
        let grant = ConsoleGrant {
            subject: "admin".into(),
            tenants: vec![TenantId::DEFAULT],
            scopes: vec![],
        };
        let (_, session) = open(grant, now, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(live(&session, now + Duration::minutes(29)));
        assert!(!live(&session, now + IDLE_TIMEOUT));
        let mut active = session.clone();
        active.last_seen = now + Duration::hours(12) - Duration::minutes(1);
        assert!(!live(&active, now + ABSOLUTE_TIMEOUT));
    }

    #[test]
    fn a_token_session_ends_with_its_token() {
        let now = OffsetDateTime::now_utc();
        let grant = ConsoleGrant {
            subject: "admin".into(),
            tenants: vec![TenantId::DEFAULT],
            scopes: vec![],
        };
        let end = now + Duration::minutes(5);
        let (_, session) = open(grant, now, Some(end)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(session.expires_at, end);
    }
}
