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

ALTER TABLE integration_systems ADD COLUMN owner_tenant_id UUID;

UPDATE integration_systems s SET owner_tenant_id = CASE
    WHEN (SELECT COUNT(DISTINCT a.tenant_id) FROM applications a
          WHERE a.integration_system_id = s.id) = 1
    THEN (SELECT a.tenant_id FROM applications a WHERE a.integration_system_id = s.id LIMIT 1)
    ELSE '3e64ebae-38b5-46a0-b1ed-9ccee153a0ae'::uuid
END;

ALTER TABLE integration_systems ALTER COLUMN owner_tenant_id SET NOT NULL;
CREATE INDEX integration_systems_owner ON integration_systems (owner_tenant_id);

CREATE TABLE integration_system_grants (
    tenant_id UUID NOT NULL,
    integration_system_id UUID NOT NULL
        REFERENCES integration_systems (id) ON DELETE CASCADE,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration_system_id)
);
CREATE INDEX integration_system_grants_system
    ON integration_system_grants (integration_system_id);

INSERT INTO integration_system_grants (tenant_id, integration_system_id, granted_at)
SELECT used.tenant_id, used.integration_system_id, (EXTRACT(EPOCH FROM now()) * 1000000)::BIGINT
FROM (SELECT DISTINCT tenant_id, integration_system_id FROM applications
      WHERE integration_system_id IS NOT NULL) used;

-- Template names are unique per tenant, and among global templates.
ALTER TABLE app_templates ADD COLUMN tenant_id UUID;
ALTER TABLE app_templates DROP CONSTRAINT app_templates_name_key;
UPDATE app_templates SET access_level = 'GLOBAL';
ALTER TABLE app_templates ALTER COLUMN access_level DROP DEFAULT;
ALTER TABLE app_templates ADD CONSTRAINT app_templates_access_level
    CHECK ((tenant_id IS NULL) = (access_level = 'GLOBAL'));
CREATE UNIQUE INDEX app_templates_global_name ON app_templates (name) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX app_templates_tenant_name ON app_templates (tenant_id, name)
    WHERE tenant_id IS NOT NULL;
