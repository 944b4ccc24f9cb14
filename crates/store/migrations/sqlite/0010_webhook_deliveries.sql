-- The Application Webhook API. Each webhook gets a secret its deliveries are signed with
-- (HMAC-SHA256; webhooks made before this migration have none and are signed with an empty
-- key until updated) and is marked failing when a delivery gave up. The outbox: one row per
-- event and webhook, written in the transaction of the change that caused the event, then
-- delivered at least once by the server holding its lease (a lease that runs out, the
-- server died mid-attempt, lets any server retry it).

ALTER TABLE webhooks ADD COLUMN secret TEXT;
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;

CREATE TABLE webhook_deliveries (
    id BLOB PRIMARY KEY NOT NULL,
    event_id BLOB NOT NULL,
    tenant_id BLOB NOT NULL,
    webhook_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_error TEXT,
    delivered_at INTEGER,
    lease_owner BLOB,
    lease_expires_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
