-- Label values, indexed: one row per scalar label value and per scalar element of an array
-- label, so that a label filter (`env` = "prod", a scenario) reads an index range instead of
-- testing every label of the tenant with the key.
--
-- What a row holds (the rule `PgTx::label_values_source` writes; the backfill below is the
-- same SELECT): for a label whose value is a string, number or boolean, that value as
-- `jsonb`; for an array, each element that is one (`in_array`). Objects, nulls, nested
-- arrays and strings longer than 1024 bytes get no row (a B-tree entry has a size limit):
-- filters naming them keep matching the label's JSON with `@>`. `jsonb` equality is what
-- `@>` applies to scalars (numbers by value, strings byte for byte, types distinct), so an
-- equal row is exactly a containing label.
--
-- The rows are written in the label's transaction by the store's label writes (set_label,
-- set_labels) and removed with the label by the foreign key's cascade (a deleted label, a
-- deleted object).

CREATE TABLE application_label_values (
    tenant_id UUID NOT NULL,
    key TEXT NOT NULL,
    value JSONB NOT NULL,
    app_id UUID NOT NULL,
    in_array BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, key, value, app_id) INCLUDE (in_array),
    FOREIGN KEY (tenant_id, app_id, key)
        REFERENCES application_labels (tenant_id, app_id, key) ON DELETE CASCADE
);
CREATE INDEX application_label_values_label
    ON application_label_values (tenant_id, app_id, key);

CREATE TABLE runtime_label_values (
    tenant_id UUID NOT NULL,
    key TEXT NOT NULL,
    value JSONB NOT NULL,
    runtime_id UUID NOT NULL,
    in_array BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, key, value, runtime_id) INCLUDE (in_array),
    FOREIGN KEY (tenant_id, runtime_id, key)
        REFERENCES runtime_labels (tenant_id, runtime_id, key) ON DELETE CASCADE
);
CREATE INDEX runtime_label_values_label
    ON runtime_label_values (tenant_id, runtime_id, key);

-- A value names its key (`"prod"` is an `env`): without statistics on the pair the planner
-- multiplies the selectivities of key and value, expects a fraction of the rows that match,
-- and may prefer hashing the whole object table to reading the index range in order.
CREATE STATISTICS application_label_values_key_value (mcv, dependencies)
    ON key, value FROM application_label_values;
CREATE STATISTICS runtime_label_values_key_value (mcv, dependencies)
    ON key, value FROM runtime_label_values;

INSERT INTO application_label_values (tenant_id, key, value, app_id, in_array)
SELECT l.tenant_id, l.key, e.value, l.app_id, jsonb_typeof(l.value) = 'array'
FROM application_labels l
CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(l.value)
    WHEN 'array' THEN l.value ELSE jsonb_build_array(l.value) END) AS e (value)
WHERE jsonb_typeof(e.value) IN ('number', 'boolean')
   OR (jsonb_typeof(e.value) = 'string' AND octet_length(e.value #>> '{}') <= 1024)
ON CONFLICT DO NOTHING;

INSERT INTO runtime_label_values (tenant_id, key, value, runtime_id, in_array)
SELECT l.tenant_id, l.key, e.value, l.runtime_id, jsonb_typeof(l.value) = 'array'
FROM runtime_labels l
CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(l.value)
    WHEN 'array' THEN l.value ELSE jsonb_build_array(l.value) END) AS e (value)
WHERE jsonb_typeof(e.value) IN ('number', 'boolean')
   OR (jsonb_typeof(e.value) = 'string' AND octet_length(e.value #>> '{}') <= 1024)
ON CONFLICT DO NOTHING;

-- "Has the label" filters page through the objects with a key in id order.
DROP INDEX application_labels_key;
CREATE INDEX application_labels_key ON application_labels (tenant_id, key, app_id);
DROP INDEX runtime_labels_key;
CREATE INDEX runtime_labels_key ON runtime_labels (tenant_id, key, runtime_id);
