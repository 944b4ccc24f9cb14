-- The console's search of runtimes (the Director's `runtimes(status:, namePrefix:)`): a
-- status is one range of this index in id order, so a page of one status reads its rows
-- and its count reads the range, without scanning the tenant's runtimes. A name prefix is a
-- range of the `UNIQUE (tenant_id, name)` index, which compares bytes (BINARY).
CREATE INDEX runtimes_status ON runtimes (tenant_id, status_condition, id);
