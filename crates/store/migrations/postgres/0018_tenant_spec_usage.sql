-- The spec bytes of each tenant's API and event definitions, kept as a counter by triggers,
-- so the tenant's spec quota is checked by reading one row instead of summing every
-- definition of the tenant on each write (which made a registration cost time in proportion
-- to the tenant's size). The counter row also orders a tenant's concurrent spec writes.

CREATE TABLE tenant_spec_usage (
    tenant_id UUID PRIMARY KEY,
    bytes BIGINT NOT NULL
);

INSERT INTO tenant_spec_usage (tenant_id, bytes)
SELECT tenant_id, SUM(size) FROM (
    SELECT tenant_id, COALESCE(spec_size, 0) AS size FROM api_definitions
    UNION ALL
    SELECT tenant_id, COALESCE(spec_size, 0) AS size FROM event_definitions
) AS sizes GROUP BY tenant_id;

CREATE FUNCTION tenant_spec_usage_track() RETURNS trigger AS $$
DECLARE
    delta BIGINT;
    tenant UUID;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := COALESCE(NEW.spec_size, 0);
        tenant := NEW.tenant_id;
    ELSIF TG_OP = 'DELETE' THEN
        delta := -COALESCE(OLD.spec_size, 0);
        tenant := OLD.tenant_id;
    ELSE
        delta := COALESCE(NEW.spec_size, 0) - COALESCE(OLD.spec_size, 0);
        tenant := NEW.tenant_id;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO tenant_spec_usage (tenant_id, bytes) VALUES (tenant, delta)
        ON CONFLICT (tenant_id) DO UPDATE SET bytes = tenant_spec_usage.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_definitions_usage AFTER INSERT OR DELETE OR UPDATE OF spec_size
ON api_definitions FOR EACH ROW EXECUTE FUNCTION tenant_spec_usage_track();

CREATE TRIGGER event_definitions_usage AFTER INSERT OR DELETE OR UPDATE OF spec_size
ON event_definitions FOR EACH ROW EXECUTE FUNCTION tenant_spec_usage_track();
