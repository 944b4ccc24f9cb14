-- The Provisioner: the runtimes it created (their provider and its configuration) and its
-- operations. At most one operation per runtime is in progress (a partial unique index, so two
-- requests racing on any replica cannot both start one). An operation in progress is run by
-- the server holding its lease; a lease that runs out (the server died) lets another take it.

CREATE TABLE provisioned_runtimes (
    runtime_id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE provisioner_operations (
    id UUID PRIMARY KEY NOT NULL,
    tenant_id UUID NOT NULL,
    runtime_id UUID NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    message TEXT NOT NULL,
    input TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    lease_owner UUID,
    lease_expires_at BIGINT
);
CREATE UNIQUE INDEX provisioner_operations_one_in_progress
    ON provisioner_operations (runtime_id) WHERE state = 'InProgress';
CREATE INDEX provisioner_operations_runtime ON provisioner_operations (runtime_id, started_at);
