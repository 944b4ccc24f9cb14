-- Specs stored once, by content: an API or event definition names its spec by the SHA-256 of
-- its text (lowercase hex) and keeps its size, so a runtime's configuration and the quotas
-- are read without the text. A spec row goes with the last definition naming it (the
-- triggers below, which also fire for definitions deleted with their application).
-- `spec_data` is no longer written; the server moves what an older version stored there into
-- `specs` when it starts.

CREATE TABLE specs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    data TEXT NOT NULL
);

ALTER TABLE api_definitions ADD COLUMN spec_sha256 TEXT REFERENCES specs (sha256);
ALTER TABLE api_definitions ADD COLUMN spec_size INTEGER;
CREATE INDEX api_definitions_spec ON api_definitions (spec_sha256);

ALTER TABLE event_definitions ADD COLUMN spec_sha256 TEXT REFERENCES specs (sha256);
ALTER TABLE event_definitions ADD COLUMN spec_size INTEGER;
CREATE INDEX event_definitions_spec ON event_definitions (spec_sha256);

CREATE TRIGGER api_definitions_spec_deleted AFTER DELETE ON api_definitions
WHEN OLD.spec_sha256 IS NOT NULL
BEGIN
    DELETE FROM specs WHERE sha256 = OLD.spec_sha256
        AND NOT EXISTS (SELECT 1 FROM api_definitions WHERE spec_sha256 = OLD.spec_sha256)
        AND NOT EXISTS (SELECT 1 FROM event_definitions WHERE spec_sha256 = OLD.spec_sha256);
END;

CREATE TRIGGER api_definitions_spec_replaced AFTER UPDATE OF spec_sha256 ON api_definitions
WHEN OLD.spec_sha256 IS NOT NULL AND (NEW.spec_sha256 IS NULL OR NEW.spec_sha256 <> OLD.spec_sha256)
BEGIN
    DELETE FROM specs WHERE sha256 = OLD.spec_sha256
        AND NOT EXISTS (SELECT 1 FROM api_definitions WHERE spec_sha256 = OLD.spec_sha256)
        AND NOT EXISTS (SELECT 1 FROM event_definitions WHERE spec_sha256 = OLD.spec_sha256);
END;

CREATE TRIGGER event_definitions_spec_deleted AFTER DELETE ON event_definitions
WHEN OLD.spec_sha256 IS NOT NULL
BEGIN
    DELETE FROM specs WHERE sha256 = OLD.spec_sha256
        AND NOT EXISTS (SELECT 1 FROM api_definitions WHERE spec_sha256 = OLD.spec_sha256)
        AND NOT EXISTS (SELECT 1 FROM event_definitions WHERE spec_sha256 = OLD.spec_sha256);
END;

CREATE TRIGGER event_definitions_spec_replaced AFTER UPDATE OF spec_sha256 ON event_definitions
WHEN OLD.spec_sha256 IS NOT NULL AND (NEW.spec_sha256 IS NULL OR NEW.spec_sha256 <> OLD.spec_sha256)
BEGIN
    DELETE FROM specs WHERE sha256 = OLD.spec_sha256
        AND NOT EXISTS (SELECT 1 FROM api_definitions WHERE spec_sha256 = OLD.spec_sha256)
        AND NOT EXISTS (SELECT 1 FROM event_definitions WHERE spec_sha256 = OLD.spec_sha256);
END;
