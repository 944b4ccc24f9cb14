-- Label values, indexed: one row per scalar label value and per scalar element of an array
-- label, so that a label filter (`env` = "prod", a scenario) reads an index range instead of
-- parsing every label of the tenant with the key.
--
-- What a row holds (the rule `SqliteTx::label_values_source` writes; the backfill below is
-- the same SELECT): for a label whose value is a string, number or boolean, that value; for
-- an array, each element that is one (`in_array` = 1). Objects, nulls, nested arrays and
-- strings longer than 1024 bytes get no row: filters naming them keep matching the label's
-- JSON. `value_type` is 'string', 'number' (JSON integers and reals alike, compared by
-- value as before) or 'boolean' (`value` 1 or 0, json_each's own). `value` has no declared
-- type, hence no affinity: each value keeps the storage class json_each gave it, so the
-- string "1" never equals the number 1.
--
-- The rows are written in the label's transaction by the store's label writes (set_label,
-- set_labels) and removed with the label by the foreign key's cascade (a deleted label, a
-- deleted object).

CREATE TABLE application_label_values (
    tenant_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value_type TEXT NOT NULL,
    value NOT NULL,
    app_id BLOB NOT NULL,
    in_array INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key, value_type, value, app_id),
    FOREIGN KEY (tenant_id, app_id, key)
        REFERENCES application_labels (tenant_id, app_id, key) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX application_label_values_label
    ON application_label_values (tenant_id, app_id, key);

CREATE TABLE runtime_label_values (
    tenant_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value_type TEXT NOT NULL,
    value NOT NULL,
    runtime_id BLOB NOT NULL,
    in_array INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key, value_type, value, runtime_id),
    FOREIGN KEY (tenant_id, runtime_id, key)
        REFERENCES runtime_labels (tenant_id, runtime_id, key) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX runtime_label_values_label
    ON runtime_label_values (tenant_id, runtime_id, key);

INSERT INTO application_label_values (tenant_id, key, value_type, value, app_id, in_array)
SELECT l.tenant_id, l.key,
       CASE j.type WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean'
                   WHEN 'false' THEN 'boolean' ELSE 'number' END,
       j.value, l.app_id, json_type(l.value) = 'array'
FROM application_labels l, json_each(l.value) j
WHERE json_type(l.value) <> 'object'
  AND (j.type IN ('integer', 'real', 'true', 'false')
       OR (j.type = 'text' AND length(CAST(j.value AS BLOB)) <= 1024))
ON CONFLICT DO NOTHING;

INSERT INTO runtime_label_values (tenant_id, key, value_type, value, runtime_id, in_array)
SELECT l.tenant_id, l.key,
       CASE j.type WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean'
                   WHEN 'false' THEN 'boolean' ELSE 'number' END,
       j.value, l.runtime_id, json_type(l.value) = 'array'
FROM runtime_labels l, json_each(l.value) j
WHERE json_type(l.value) <> 'object'
  AND (j.type IN ('integer', 'real', 'true', 'false')
       OR (j.type = 'text' AND length(CAST(j.value AS BLOB)) <= 1024))
ON CONFLICT DO NOTHING;

-- "Has the label" filters page through the objects with a key in id order: the key index
-- carries the object id (it held only the row id).
DROP INDEX application_labels_key;
CREATE INDEX application_labels_key ON application_labels (tenant_id, key, app_id);
DROP INDEX runtime_labels_key;
CREATE INDEX runtime_labels_key ON runtime_labels (tenant_id, key, runtime_id);
