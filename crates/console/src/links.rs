//! One-time login links: made by `sextant admin console-link`, redeemed by the login page.

use sextant_store::{ConsoleGrant, ConsoleLoginLink, Store};
use time::{Duration, OffsetDateTime};

use crate::error::ConsoleError;

/// How long a login link can be redeemed.
pub const LINK_TTL: Duration = Duration::minutes(10);

/// Stores a new login link for `grant`, valid from `now` for `ttl`, and returns its secret
/// token (only its SHA-256 is stored).
pub async fn create_login_link(
    store: &dyn Store,
    grant: ConsoleGrant,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<String, ConsoleError> {
    let sextant_auth::NewSecret {
        secret: token,
        hash: token_hash,
    } = sextant_auth::new_one_time_token().map_err(|_| ConsoleError::Random)?;
    let mut tx = store.write().await?;
    tx.insert_console_login_link(&ConsoleLoginLink {
        token_hash,
        grant,
        created_at: now,
        expires_at: now + ttl,
    })
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The URL that opens the login page for a link token (the token is base64url: nothing to
/// escape).
pub fn login_url(public_url: &url::Url, token: &str) -> String {
    format!(
        "{}/console/login?link={token}",
        public_url.as_str().trim_end_matches('/')
    )
}
