-- Specs stored once, by content: an API or event definition names its spec by the SHA-256 of
-- its text (lowercase hex) and keeps its size, so a runtime's configuration and the quotas
-- are read without the text. A spec row goes with the last definition naming it (the
-- triggers below, which also fire for definitions deleted with their application).
-- `spec_data` is no longer written; the server moves what an older version stored there into
-- `specs` when it starts.
--
-- Writers upsert a spec with `ON CONFLICT DO UPDATE`, which locks its row: a concurrent
-- removal of the last other reference then waits, and its delete is refused by the foreign
-- key once the new reference commits. The trigger swallows that refusal (the spec is in use
-- again), so neither transaction fails.

CREATE TABLE specs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    data TEXT NOT NULL
);

ALTER TABLE api_definitions ADD COLUMN spec_sha256 TEXT REFERENCES specs (sha256);
ALTER TABLE api_definitions ADD COLUMN spec_size BIGINT;
CREATE INDEX api_definitions_spec ON api_definitions (spec_sha256);

ALTER TABLE event_definitions ADD COLUMN spec_sha256 TEXT REFERENCES specs (sha256);
ALTER TABLE event_definitions ADD COLUMN spec_size BIGINT;
CREATE INDEX event_definitions_spec ON event_definitions (spec_sha256);

CREATE FUNCTION specs_release() RETURNS trigger AS $$
BEGIN
    IF OLD.spec_sha256 IS NULL OR (TG_OP = 'UPDATE' AND NEW.spec_sha256 IS NOT DISTINCT FROM OLD.spec_sha256) THEN
        RETURN NULL;
    END IF;
    BEGIN
        DELETE FROM specs WHERE sha256 = OLD.spec_sha256
            AND NOT EXISTS (SELECT 1 FROM api_definitions WHERE spec_sha256 = OLD.spec_sha256)
            AND NOT EXISTS (SELECT 1 FROM event_definitions WHERE spec_sha256 = OLD.spec_sha256);
    EXCEPTION WHEN foreign_key_violation THEN
        NULL;
    END;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_definitions_spec_released AFTER DELETE OR UPDATE OF spec_sha256
    ON api_definitions FOR EACH ROW EXECUTE FUNCTION specs_release();
CREATE TRIGGER event_definitions_spec_released AFTER DELETE OR UPDATE OF spec_sha256
    ON event_definitions FOR EACH ROW EXECUTE FUNCTION specs_release();
