-- The console's search of runtimes (the Director's `runtimes(status:, namePrefix:)`): a
-- status is one range of this index in id order, so a page of one status reads its rows
-- and its count reads the range, without scanning the tenant's runtimes.
CREATE INDEX runtimes_status ON runtimes (tenant_id, status_condition, id);
-- A name prefix is one range of names compared byte by byte: the `UNIQUE (tenant_id, name)`
-- index has the database's collation, whose order is not a prefix order.
CREATE INDEX runtimes_name_bytes ON runtimes (tenant_id, name COLLATE "C");
