-- One-time tokens for pairing (Connector): stored only as SHA-256 hashes, with their kind,
-- the system auth (client id) they pair, its tenant and their expiry. Redeeming deletes the
-- row in one statement, so a token works once however many redeem it at the same time, on
-- any replica, across restarts. Deleting the system auth (or its owner) deletes its tokens.

CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    client_id BLOB NOT NULL REFERENCES system_auths (id) ON DELETE CASCADE,
    tenant_id BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX one_time_tokens_client ON one_time_tokens (client_id);
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);
