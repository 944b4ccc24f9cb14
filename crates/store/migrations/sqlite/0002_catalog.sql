-- The catalog: API and event definitions, documents, webhooks, per-runtime API credentials
-- and each application's chosen default eventing runtime. A spec's fetch request, a version
-- and an Auth are value objects stored as JSON text in their owner's row (one row read per object,
-- no join). Ids are 16-byte BLOBs, times microseconds since the epoch.. Children carry the tenant and reference their application by (tenant_id, app_id).

CREATE TABLE api_definitions (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    group_name TEXT,
    target_url TEXT NOT NULL,
    spec_data TEXT,
    spec_format TEXT,
    spec_type TEXT,
    spec_fetch_request TEXT,
    version TEXT,
    default_auth TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_definitions_app ON api_definitions (tenant_id, app_id, id);

CREATE TABLE event_definitions (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    group_name TEXT,
    spec_data TEXT,
    spec_format TEXT NOT NULL,
    spec_type TEXT NOT NULL,
    spec_fetch_request TEXT,
    version TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX event_definitions_app ON event_definitions (tenant_id, app_id, id);

CREATE TABLE documents (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    title TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    format TEXT NOT NULL,
    kind TEXT,
    data TEXT,
    fetch_request TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX documents_app ON documents (tenant_id, app_id, id);

CREATE TABLE webhooks (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    type TEXT NOT NULL,
    url TEXT NOT NULL,
    auth TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhooks_app ON webhooks (tenant_id, app_id, id);

CREATE TABLE api_runtime_auths (
    tenant_id BLOB NOT NULL,
    api_id BLOB NOT NULL,
    runtime_id BLOB NOT NULL,
    auth TEXT NOT NULL,
    PRIMARY KEY (tenant_id, api_id, runtime_id),
    FOREIGN KEY (tenant_id, api_id) REFERENCES api_definitions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_runtime_auths_runtime ON api_runtime_auths (tenant_id, runtime_id);

CREATE TABLE default_eventing (
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    runtime_id BLOB NOT NULL,
    PRIMARY KEY (tenant_id, app_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX default_eventing_runtime ON default_eventing (tenant_id, runtime_id);
