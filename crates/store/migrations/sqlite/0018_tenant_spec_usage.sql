-- The spec bytes of each tenant's API and event definitions, kept as a counter by triggers,
-- so the tenant's spec quota is checked by reading one row instead of summing every
-- definition of the tenant on each write (which made a registration cost time in proportion
-- to the tenant's size).

CREATE TABLE tenant_spec_usage (
    tenant_id BLOB PRIMARY KEY NOT NULL,
    bytes INTEGER NOT NULL
);

INSERT INTO tenant_spec_usage (tenant_id, bytes)
SELECT tenant_id, SUM(size) FROM (
    SELECT tenant_id, COALESCE(spec_size, 0) AS size FROM api_definitions
    UNION ALL
    SELECT tenant_id, COALESCE(spec_size, 0) AS size FROM event_definitions
) GROUP BY tenant_id;

CREATE TRIGGER api_definitions_usage_inserted AFTER INSERT ON api_definitions
WHEN NEW.spec_size IS NOT NULL
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, bytes) VALUES (NEW.tenant_id, NEW.spec_size)
    ON CONFLICT (tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER api_definitions_usage_deleted AFTER DELETE ON api_definitions
WHEN OLD.spec_size IS NOT NULL
BEGIN
    UPDATE tenant_spec_usage SET bytes = bytes - OLD.spec_size WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER api_definitions_usage_resized AFTER UPDATE OF spec_size ON api_definitions
WHEN COALESCE(NEW.spec_size, 0) <> COALESCE(OLD.spec_size, 0)
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, bytes)
    VALUES (NEW.tenant_id, COALESCE(NEW.spec_size, 0) - COALESCE(OLD.spec_size, 0))
    ON CONFLICT (tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER event_definitions_usage_inserted AFTER INSERT ON event_definitions
WHEN NEW.spec_size IS NOT NULL
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, bytes) VALUES (NEW.tenant_id, NEW.spec_size)
    ON CONFLICT (tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER event_definitions_usage_deleted AFTER DELETE ON event_definitions
WHEN OLD.spec_size IS NOT NULL
BEGIN
    UPDATE tenant_spec_usage SET bytes = bytes - OLD.spec_size WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER event_definitions_usage_resized AFTER UPDATE OF spec_size ON event_definitions
WHEN COALESCE(NEW.spec_size, 0) <> COALESCE(OLD.spec_size, 0)
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, bytes)
    VALUES (NEW.tenant_id, COALESCE(NEW.spec_size, 0) - COALESCE(OLD.spec_size, 0))
    ON CONFLICT (tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
