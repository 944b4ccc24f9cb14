-- One counter per tenant, raised in every write transaction that can change what a runtime
-- of the tenant is configured with; runtimes' configuration documents are rebuilt only when it
-- moved, and agents waiting on a long poll are woken by it.

CREATE TABLE config_epochs (
    tenant_id UUID PRIMARY KEY NOT NULL,
    epoch BIGINT NOT NULL
);
