-- The web console's login links and sessions (migration 0021). Both live in the database so
-- that every replica honours a link or a session another one made, and a logout ends the
-- session everywhere.
--
-- Only SHA-256 hashes of link tokens and session ids are stored: a copy of the database
-- opens no session. A link is redeemed by one UPDATE ... WHERE used_at IS NULL AND
-- expires_at > now RETURNING, so it works once however many redeem it at the same time.
-- Tenants are space-separated UUIDs (the first is where a session starts), scopes
-- space-separated strings, times microseconds since the epoch, as everywhere.

CREATE TABLE console_login_links (
    token_hash BYTEA PRIMARY KEY,
    subject TEXT NOT NULL,
    tenants TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX console_login_links_expiry ON console_login_links (expires_at);

CREATE TABLE console_sessions (
    session_hash BYTEA PRIMARY KEY,
    subject TEXT NOT NULL,
    tenants TEXT NOT NULL,
    scopes TEXT NOT NULL,
    current_tenant UUID NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen);
