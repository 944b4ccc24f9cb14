-- What the servers saw of runtimes' agents, written in batches by each server from what it
-- keeps in memory (a configuration request, a 304 included, costs no statement): when the
-- agent last asked for its configuration, and the tenant's configuration epoch of the
-- newest document it holds (it was sent that document, or confirmed it with its ETag).
-- Both only move forward, so replicas sharing the database merge by keeping the larger.
-- No foreign key: a batch must not fail because a runtime was deleted meanwhile; rows of
-- deleted runtimes are never read (reads name existing runtimes) and are pruned.
CREATE TABLE runtime_agents (
    tenant_id UUID NOT NULL,
    runtime_id UUID NOT NULL,
    last_seen_at BIGINT NOT NULL,
    configuration_epoch BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, runtime_id)
);

-- How many configuration requests the servers answered per tenant and minute (microseconds
-- since the epoch of the minute's start), added up across replicas; kept about two hours.
CREATE TABLE runtime_fetch_counts (
    tenant_id UUID NOT NULL,
    minute BIGINT NOT NULL,
    fetches BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, minute)
);

-- The dashboard lists a tenant's client certificates that expire soon.
CREATE INDEX issued_certificates_expiry ON issued_certificates (tenant_id, not_after);

-- The dashboard's chart counts a tenant's webhook deliveries by their latest attempt.
CREATE INDEX webhook_deliveries_attempted ON webhook_deliveries (tenant_id, last_attempt_at);
