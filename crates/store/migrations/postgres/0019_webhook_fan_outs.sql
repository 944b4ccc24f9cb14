-- Webhook fan-outs: a change that concerns a whole set of applications or runtimes (a
-- runtime joining a scenario with thousands of applications) records its decision here, one
-- row, in its own transaction; the notifier expands it into `webhook_deliveries` in batches,
-- each its own short transaction, keys up to `done_through` done. A later change that would
-- alter the set first expands the rest of the decisions it concerns, so the deliveries are
-- exactly those of the state the decision was taken in.

CREATE TABLE webhook_fan_outs (
    seq BIGSERIAL PRIMARY KEY,
    tenant_id UUID NOT NULL,
    kind TEXT NOT NULL,
    runtime_id UUID,
    app_id UUID,
    apis TEXT,
    joined TEXT NOT NULL,
    seen TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    done_through UUID
);
CREATE INDEX webhook_fan_outs_tenant ON webhook_fan_outs (tenant_id, seq);
