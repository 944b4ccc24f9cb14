-- The webhook outbox's attempt log: one row per attempt of a delivery (when it started, how
-- long it took, the HTTP status if the webhook answered, the error if it failed), written by
-- the notifier in the transaction that records the attempt on its delivery. Bounded: only
-- the newest attempts of a delivery are kept (`ATTEMPTS_KEPT` in the store; older ones are
-- deleted as newer ones are written), and attempts are deleted with their delivery.

CREATE TABLE webhook_delivery_attempts (
    delivery_id UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    tenant_id UUID NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    http_status BIGINT,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
