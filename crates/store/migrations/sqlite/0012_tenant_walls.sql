-- Tenants are walls. An integration system is owned by the tenant that registered it and
-- acts only in the tenants that granted it access (the owner grants itself at registration).
-- An application template belongs to one tenant, or is global (tenant_id NULL: read by every
-- tenant, written only by operators).
--
-- Existing data. Integration systems were global and acted wherever their clients asked: each
-- keeps a grant in every tenant where applications name it, so what worked keeps working and
-- nothing else does. Its owner is the one tenant whose applications name it, or, when several
-- or none do, the default tenant (the operator's): who registered it was not recorded.
-- Existing templates stay global: every tenant may have registered from them, and only
-- operators may now change them.

ALTER TABLE integration_systems ADD COLUMN owner_tenant_id BLOB;

UPDATE integration_systems SET owner_tenant_id = CASE
    WHEN (SELECT COUNT(DISTINCT a.tenant_id) FROM applications a
          WHERE a.integration_system_id = integration_systems.id) = 1
    THEN (SELECT a.tenant_id FROM applications a
          WHERE a.integration_system_id = integration_systems.id LIMIT 1)
    ELSE X'3e64ebae38b546a0b1ed9ccee153a0ae'
END;

CREATE INDEX integration_systems_owner ON integration_systems (owner_tenant_id);

CREATE TABLE integration_system_grants (
    tenant_id BLOB NOT NULL,
    integration_system_id BLOB NOT NULL
        REFERENCES integration_systems (id) ON DELETE CASCADE,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, integration_system_id)
);
CREATE INDEX integration_system_grants_system
    ON integration_system_grants (integration_system_id);

INSERT INTO integration_system_grants (tenant_id, integration_system_id, granted_at)
SELECT used.tenant_id, used.integration_system_id, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
FROM (SELECT DISTINCT tenant_id, integration_system_id FROM applications
      WHERE integration_system_id IS NOT NULL) used;

-- Template names are unique per tenant, and among global templates. SQLite cannot drop the
-- old table-wide UNIQUE (name), so the table is rebuilt; nothing references it.
CREATE TABLE app_templates_walled (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB,
    name TEXT NOT NULL,
    description TEXT,
    application_input TEXT NOT NULL,
    placeholders TEXT NOT NULL,
    access_level TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((tenant_id IS NULL) = (access_level = 'GLOBAL'))
);
INSERT INTO app_templates_walled
    (id, tenant_id, name, description, application_input, placeholders, access_level,
     created_at)
SELECT id, NULL, name, description, application_input, placeholders, 'GLOBAL', created_at
FROM app_templates;
DROP TABLE app_templates;
ALTER TABLE app_templates_walled RENAME TO app_templates;
CREATE UNIQUE INDEX app_templates_global_name ON app_templates (name) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX app_templates_tenant_name ON app_templates (tenant_id, name)
    WHERE tenant_id IS NOT NULL;
