-- The label value tables of migration 0022, keyed by their object first.
--
-- 0022 keyed a value row (tenant_id, key, value_type, value, object) and gave the rows of one
-- object's label a second index (tenant_id, object, key). Without statistics (nothing runs
-- ANALYZE), the SQLite built into the binary (3.51) finds the rows of one object's label
-- through the primary key's prefix (tenant_id, key) rather than through that index: every
-- label write's DELETE of the old rows, and every cascade from a deleted label or object,
-- read the value rows of all the tenant's objects with the key. A registration's cost grew
-- with the number of applications (0.04 ms for its DELETE with 50 applications, 0.25 ms
-- with 500, milliseconds with 10,000).
--
-- Keyed by (tenant_id, object, key, value_type, value), those lookups are a prefix of the
-- primary key, which no plan passes over; the filters read a covering index
-- (tenant_id, key, value_type, value, object, in_array) that holds everything they test and
-- returns the objects in id order, as the primary key did. Same rows, same uniqueness (the
-- same five columns), same foreign key.

CREATE TABLE application_label_values_0023 (
    tenant_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value_type TEXT NOT NULL,
    value NOT NULL,
    app_id BLOB NOT NULL,
    in_array INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, app_id, key, value_type, value),
    FOREIGN KEY (tenant_id, app_id, key)
        REFERENCES application_labels (tenant_id, app_id, key) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO application_label_values_0023
    (tenant_id, key, value_type, value, app_id, in_array)
SELECT tenant_id, key, value_type, value, app_id, in_array FROM application_label_values;
DROP TABLE application_label_values;
ALTER TABLE application_label_values_0023 RENAME TO application_label_values;
CREATE INDEX application_label_values_value
    ON application_label_values (tenant_id, key, value_type, value, app_id, in_array);

CREATE TABLE runtime_label_values_0023 (
    tenant_id BLOB NOT NULL,
    key TEXT NOT NULL,
    value_type TEXT NOT NULL,
    value NOT NULL,
    runtime_id BLOB NOT NULL,
    in_array INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, runtime_id, key, value_type, value),
    FOREIGN KEY (tenant_id, runtime_id, key)
        REFERENCES runtime_labels (tenant_id, runtime_id, key) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO runtime_label_values_0023
    (tenant_id, key, value_type, value, runtime_id, in_array)
SELECT tenant_id, key, value_type, value, runtime_id, in_array FROM runtime_label_values;
DROP TABLE runtime_label_values;
ALTER TABLE runtime_label_values_0023 RENAME TO runtime_label_values;
CREATE INDEX runtime_label_values_value
    ON runtime_label_values (tenant_id, key, value_type, value, runtime_id, in_array);
