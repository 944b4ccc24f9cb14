-- The catalog: API and event definitions, documents, webhooks, per-runtime API credentials
-- and each application's chosen default eventing runtime. A spec's fetch request, a version
-- and an Auth are value objects stored as JSON in their owner's row (one row read per object,
-- no join). Children carry the tenant and reference their application by (tenant_id, app_id).

CREATE TABLE api_definitions (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    group_name TEXT,
    target_url TEXT NOT NULL,
    spec_data TEXT,
    spec_format TEXT,
    spec_type TEXT,
    spec_fetch_request JSONB,
    version JSONB,
    default_auth JSONB,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX api_definitions_app ON api_definitions (tenant_id, app_id, id);

CREATE TABLE event_definitions (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    group_name TEXT,
    spec_data TEXT,
    spec_format TEXT NOT NULL,
    spec_type TEXT NOT NULL,
    spec_fetch_request JSONB,
    version JSONB,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX event_definitions_app ON event_definitions (tenant_id, app_id, id);

CREATE TABLE documents (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    title TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    format TEXT NOT NULL,
    kind TEXT,
    data TEXT,
    fetch_request JSONB,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX documents_app ON documents (tenant_id, app_id, id);

CREATE TABLE webhooks (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    type TEXT NOT NULL,
    url TEXT NOT NULL,
    auth JSONB,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX webhooks_app ON webhooks (tenant_id, app_id, id);

CREATE TABLE api_runtime_auths (
    tenant_id UUID NOT NULL,
    api_id UUID NOT NULL,
    runtime_id UUID NOT NULL,
    auth JSONB NOT NULL,
    PRIMARY KEY (tenant_id, api_id, runtime_id),
    FOREIGN KEY (tenant_id, api_id) REFERENCES api_definitions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_runtime_auths_runtime ON api_runtime_auths (tenant_id, runtime_id);

CREATE TABLE default_eventing (
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    runtime_id UUID NOT NULL,
    PRIMARY KEY (tenant_id, app_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX default_eventing_runtime ON default_eventing (tenant_id, runtime_id);
