-- The tenant's spec counter, split into shards and kept per statement.
--
-- Migration 0018 kept one counter row per tenant, updated by a trigger for every definition
-- row written. Every registration of the tenant then held that row from its first
-- definition until its commit, so a tenant's registrations ran one at a time (P6 on
-- PostgreSQL fell from about 500 to about 320 per second, the backends waiting on the row).
--
-- Now a statement adds its rows' sizes once (transition tables), into the shard of the
-- connection that runs it, so concurrent writers update different rows. A tenant's usage is
-- the sum of its shards. The quota stays exact: a write that adds spec bytes takes the
-- tenant's advisory lock (`lock_spec_quota`) before it reads that sum, and holds it until its
-- commit, so each check sees every earlier checked write committed.

ALTER TABLE tenant_spec_usage ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE tenant_spec_usage DROP CONSTRAINT tenant_spec_usage_pkey;
ALTER TABLE tenant_spec_usage ADD PRIMARY KEY (tenant_id, shard);

DROP TRIGGER api_definitions_usage ON api_definitions;
DROP TRIGGER event_definitions_usage ON event_definitions;
DROP FUNCTION tenant_spec_usage_track();

-- The shard of the running connection: pool connections have distinct process ids, so
-- concurrent writers rarely share one.
CREATE FUNCTION tenant_spec_usage_shard() RETURNS SMALLINT AS $$
    SELECT (pg_backend_pid() % 64)::SMALLINT
$$ LANGUAGE sql STABLE;

CREATE FUNCTION tenant_spec_usage_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, shard, bytes)
    SELECT tenant_id, tenant_spec_usage_shard(), SUM(spec_size)
    FROM added_rows
    WHERE spec_size IS NOT NULL
    GROUP BY tenant_id
    HAVING SUM(spec_size) <> 0
    ORDER BY tenant_id
    ON CONFLICT (tenant_id, shard) DO UPDATE SET bytes = tenant_spec_usage.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tenant_spec_usage_deleted() RETURNS trigger AS $$
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, shard, bytes)
    SELECT tenant_id, tenant_spec_usage_shard(), -SUM(spec_size)
    FROM removed_rows
    WHERE spec_size IS NOT NULL
    GROUP BY tenant_id
    HAVING SUM(spec_size) <> 0
    ORDER BY tenant_id
    ON CONFLICT (tenant_id, shard) DO UPDATE SET bytes = tenant_spec_usage.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tenant_spec_usage_updated() RETURNS trigger AS $$
BEGIN
    INSERT INTO tenant_spec_usage (tenant_id, shard, bytes)
    SELECT tenant_id, tenant_spec_usage_shard(), SUM(size)
    FROM (
        SELECT tenant_id, COALESCE(spec_size, 0) AS size FROM after_rows
        UNION ALL
        SELECT tenant_id, -COALESCE(spec_size, 0) AS size FROM before_rows
    ) AS sizes
    GROUP BY tenant_id
    HAVING SUM(size) <> 0
    ORDER BY tenant_id
    ON CONFLICT (tenant_id, shard) DO UPDATE SET bytes = tenant_spec_usage.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_definitions_usage_inserted AFTER INSERT ON api_definitions
REFERENCING NEW TABLE AS added_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_inserted();

CREATE TRIGGER api_definitions_usage_deleted AFTER DELETE ON api_definitions
REFERENCING OLD TABLE AS removed_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_deleted();

CREATE TRIGGER api_definitions_usage_updated AFTER UPDATE ON api_definitions
REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_updated();

CREATE TRIGGER event_definitions_usage_inserted AFTER INSERT ON event_definitions
REFERENCING NEW TABLE AS added_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_inserted();

CREATE TRIGGER event_definitions_usage_deleted AFTER DELETE ON event_definitions
REFERENCING OLD TABLE AS removed_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_deleted();

CREATE TRIGGER event_definitions_usage_updated AFTER UPDATE ON event_definitions
REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
FOR EACH STATEMENT EXECUTE FUNCTION tenant_spec_usage_updated();
