-- Director core: applications, runtimes, labels, label definitions, integration systems and
-- application templates. Ids are UUIDs stored as 16-byte BLOBs; times are microseconds since
-- the Unix epoch; JSON is TEXT.

CREATE TABLE integration_systems (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE app_templates (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    application_input TEXT NOT NULL,
    placeholders TEXT NOT NULL,
    access_level TEXT NOT NULL DEFAULT 'GLOBAL',
    created_at INTEGER NOT NULL
);

CREATE TABLE applications (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    name TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    description TEXT,
    health_check_url TEXT,
    integration_system_id BLOB REFERENCES integration_systems (id) ON DELETE RESTRICT,
    status_condition TEXT NOT NULL,
    status_timestamp INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE INDEX applications_integration_system ON applications (integration_system_id);

CREATE TABLE runtimes (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    status_condition TEXT NOT NULL,
    status_timestamp INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE INDEX runtimes_created ON runtimes (tenant_id, created_at, id);

CREATE TABLE label_definitions (
    tenant_id BLOB NOT NULL,
    key TEXT NOT NULL,
    schema TEXT,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE application_labels (
    tenant_id BLOB NOT NULL,
    app_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, app_id, key),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX application_labels_key ON application_labels (tenant_id, key);

CREATE TABLE runtime_labels (
    tenant_id BLOB NOT NULL,
    runtime_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, runtime_id, key),
    FOREIGN KEY (tenant_id, runtime_id) REFERENCES runtimes (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX runtime_labels_key ON runtime_labels (tenant_id, key);
