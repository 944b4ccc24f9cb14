//! The web console's login links and sessions in a transaction: [`ConsoleTx`] is a
//! supertrait of [`crate::Tx`], implemented once for both backends by `console_tx!`.
//!
//! Only SHA-256 hashes of link tokens and session ids reach the database; the console makes
//! and hashes them. A link is redeemed by one `UPDATE … RETURNING`, so exactly one of any
//! number of concurrent redemptions, on any replica, gets it.

use sextant_domain::TenantId;
use uuid::Uuid;

use crate::error::StoreError;

/// Who a login link or a session acts as: a user's subject, the tenants it may act in (the
/// first is where it starts) and its scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleGrant {
    pub subject: String,
    pub tenants: Vec<TenantId>,
    pub scopes: Vec<String>,
}

/// A one-time console login link, by the hash of its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLoginLink {
    pub token_hash: Vec<u8>,
    pub grant: ConsoleGrant,
    pub created_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
}

/// A console session, by the hash of its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSession {
    pub session_hash: Vec<u8>,
    pub grant: ConsoleGrant,
    /// One of `grant.tenants`: where the session acts now.
    pub current_tenant: TenantId,
    /// What every form of the session carries back (compared in constant time).
    pub csrf_token: String,
    pub created_at: time::OffsetDateTime,
    /// Refreshed at most once a minute, so reading a page costs no write.
    pub last_seen: time::OffsetDateTime,
    /// The absolute end, whatever the activity.
    pub expires_at: time::OffsetDateTime,
}

/// The console's operations of a transaction.
#[async_trait::async_trait]
pub trait ConsoleTx: Send {
    async fn insert_console_login_link(
        &mut self,
        link: &ConsoleLoginLink,
    ) -> Result<(), StoreError>;
    /// Marks the link used and returns it, if it exists, is unused and has not expired at
    /// `now`. One statement: of concurrent redemptions exactly one gets it.
    async fn redeem_console_login_link(
        &mut self,
        token_hash: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<Option<ConsoleLoginLink>, StoreError>;
    async fn insert_console_session(&mut self, session: &ConsoleSession) -> Result<(), StoreError>;
    /// The session, expired or not (the console decides).
    async fn console_session(
        &mut self,
        session_hash: &[u8],
    ) -> Result<Option<ConsoleSession>, StoreError>;
    /// Records activity; false if the session is gone.
    async fn touch_console_session(
        &mut self,
        session_hash: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Makes `tenant` the session's current tenant; false if the session is gone.
    async fn set_console_session_tenant(
        &mut self,
        session_hash: &[u8],
        tenant: TenantId,
    ) -> Result<bool, StoreError>;
    /// Ends a session; false if it was not there.
    async fn delete_console_session(&mut self, session_hash: &[u8]) -> Result<bool, StoreError>;
    /// Removes links that expired before `now` and sessions that ended by `now` or were last
    /// seen before `idle_since`; returns how many rows went.
    async fn purge_console(
        &mut self,
        now: time::OffsetDateTime,
        idle_since: time::OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// Tenants as stored: space-separated UUIDs.
pub(crate) fn tenants_text(tenants: &[TenantId]) -> String {
    tenants
        .iter()
        .map(|t| t.0.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn tenants_from_text(text: &str) -> Result<Vec<TenantId>, StoreError> {
    text.split_whitespace()
        .map(|t| {
            Uuid::parse_str(t)
                .map(TenantId)
                .map_err(|e| StoreError::Corrupt(format!("console tenant {t:?}: {e}")))
        })
        .collect()
}

pub(crate) fn scopes_from_text(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

macro_rules! console_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn console_grant_from_row(
                row: &<$Db as sqlx::Database>::Row,
                first: usize,
            ) -> Result<$crate::tx::console::ConsoleGrant, StoreError> {
                let tenants: String = row.try_get(first + 1)?;
                let scopes: String = row.try_get(first + 2)?;
                Ok($crate::tx::console::ConsoleGrant {
                    subject: row.try_get(first)?,
                    tenants: $crate::tx::console::tenants_from_text(&tenants)?,
                    scopes: $crate::tx::console::scopes_from_text(&scopes),
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::console::ConsoleTx for $Tx {
            async fn insert_console_login_link(
                &mut self,
                link: &$crate::tx::console::ConsoleLoginLink,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO console_login_links (token_hash, subject, tenants, scopes, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(link.token_hash.as_slice())
                .bind(link.grant.subject.as_str())
                .bind($crate::tx::console::tenants_text(&link.grant.tenants))
                .bind(link.grant.scopes.join(" "))
                .bind(to_micros(link.created_at))
                .bind(to_micros(link.expires_at))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn redeem_console_login_link(
                &mut self,
                token_hash: &[u8],
                now: time::OffsetDateTime,
            ) -> Result<Option<$crate::tx::console::ConsoleLoginLink>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "UPDATE console_login_links SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING token_hash, subject, tenants, scopes, created_at, expires_at",
                )
                .bind(token_hash.to_vec())
                .bind(to_micros(now))
                .fetch_optional(self.conn())
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some($crate::tx::console::ConsoleLoginLink {
                    token_hash: row.try_get(0)?,
                    grant: Self::console_grant_from_row(&row, 1)?,
                    created_at: from_micros(row.try_get(4)?)?,
                    expires_at: from_micros(row.try_get(5)?)?,
                }))
            }

            async fn insert_console_session(
                &mut self,
                session: &$crate::tx::console::ConsoleSession,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO console_sessions (session_hash, subject, tenants, scopes, \
                     current_tenant, csrf_token, created_at, last_seen, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(session.session_hash.as_slice())
                .bind(session.grant.subject.as_str())
                .bind($crate::tx::console::tenants_text(&session.grant.tenants))
                .bind(session.grant.scopes.join(" "))
                .bind(session.current_tenant.0)
                .bind(session.csrf_token.as_str())
                .bind(to_micros(session.created_at))
                .bind(to_micros(session.last_seen))
                .bind(to_micros(session.expires_at))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn console_session(
                &mut self,
                session_hash: &[u8],
            ) -> Result<Option<$crate::tx::console::ConsoleSession>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "SELECT session_hash, subject, tenants, scopes, current_tenant, csrf_token, \
                     created_at, last_seen, expires_at FROM console_sessions \
                     WHERE session_hash = $1",
                )
                .bind(session_hash.to_vec())
                .fetch_optional(self.conn())
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some($crate::tx::console::ConsoleSession {
                    session_hash: row.try_get(0)?,
                    grant: Self::console_grant_from_row(&row, 1)?,
                    current_tenant: TenantId(row.try_get(4)?),
                    csrf_token: row.try_get(5)?,
                    created_at: from_micros(row.try_get(6)?)?,
                    last_seen: from_micros(row.try_get(7)?)?,
                    expires_at: from_micros(row.try_get(8)?)?,
                }))
            }

            async fn touch_console_session(
                &mut self,
                session_hash: &[u8],
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE console_sessions SET last_seen = $2 WHERE session_hash = $1",
                )
                .bind(session_hash.to_vec())
                .bind(to_micros(now))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_console_session_tenant(
                &mut self,
                session_hash: &[u8],
                tenant: TenantId,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE console_sessions SET current_tenant = $2 WHERE session_hash = $1",
                )
                .bind(session_hash.to_vec())
                .bind(tenant.0)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_console_session(
                &mut self,
                session_hash: &[u8],
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query("DELETE FROM console_sessions WHERE session_hash = $1")
                    .bind(session_hash.to_vec())
                    .execute(self.conn())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_console(
                &mut self,
                now: time::OffsetDateTime,
                idle_since: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                self.counter().inc();
                let links = sqlx::query("DELETE FROM console_login_links WHERE expires_at < $1")
                    .bind(to_micros(now))
                    .execute(self.conn())
                    .await?;
                self.counter().inc();
                let sessions = sqlx::query(
                    "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen < $2",
                )
                .bind(to_micros(now))
                .bind(to_micros(idle_since))
                .execute(self.conn())
                .await?;
                Ok(links.rows_affected() + sessions.rows_affected())
            }
        }
    };
}
