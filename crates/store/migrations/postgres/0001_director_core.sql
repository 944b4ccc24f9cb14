-- Director core: applications, runtimes, labels, label definitions, integration systems and
-- application templates. Times are microseconds since the Unix epoch (as on SQLite, so both
-- backends order and compare them the same way).

CREATE TABLE integration_systems (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE app_templates (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    application_input TEXT NOT NULL,
    placeholders JSONB NOT NULL,
    access_level TEXT NOT NULL DEFAULT 'GLOBAL',
    created_at BIGINT NOT NULL
);

CREATE TABLE applications (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    name TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    description TEXT,
    health_check_url TEXT,
    integration_system_id UUID REFERENCES integration_systems (id) ON DELETE RESTRICT,
    status_condition TEXT NOT NULL,
    status_timestamp BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name),
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX applications_integration_system ON applications (integration_system_id);

CREATE TABLE runtimes (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    status_condition TEXT NOT NULL,
    status_timestamp BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name),
    CHECK (id <> '00000000-0000-0000-0000-000000000000')
);
CREATE INDEX runtimes_created ON runtimes (tenant_id, created_at, id);

CREATE TABLE label_definitions (
    tenant_id UUID NOT NULL,
    key TEXT NOT NULL,
    schema JSONB,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE application_labels (
    tenant_id UUID NOT NULL,
    app_id UUID NOT NULL,
    key TEXT NOT NULL,
    value JSONB NOT NULL,
    PRIMARY KEY (tenant_id, app_id, key),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX application_labels_key ON application_labels (tenant_id, key);
CREATE INDEX application_labels_value ON application_labels USING GIN (value);

CREATE TABLE runtime_labels (
    tenant_id UUID NOT NULL,
    runtime_id UUID NOT NULL,
    key TEXT NOT NULL,
    value JSONB NOT NULL,
    PRIMARY KEY (tenant_id, runtime_id, key),
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX runtime_labels_key ON runtime_labels (tenant_id, key);
CREATE INDEX runtime_labels_value ON runtime_labels USING GIN (value);
