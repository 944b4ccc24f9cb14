-- The Provisioner: the runtimes it created (their provider and its configuration) and its
-- operations. At most one operation per runtime is in progress (a partial unique index, so two
-- requests racing on any replica cannot both start one). An operation in progress is run by
-- the server holding its lease; a lease that runs out (the server died) lets another take it.

CREATE TABLE provisioned_runtimes (
    runtime_id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE provisioner_operations (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    runtime_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    message TEXT NOT NULL,
    input TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    lease_owner BLOB,
    lease_expires_at INTEGER
);
CREATE UNIQUE INDEX provisioner_operations_one_in_progress
    ON provisioner_operations (runtime_id) WHERE state = 'InProgress';
CREATE INDEX provisioner_operations_runtime ON provisioner_operations (runtime_id, started_at);
