-- The console's search of applications (the Director's `applications(status:, namePrefix:)`):
-- a status is one range of this index in id order, so a page of one status reads its rows
-- and its count reads the range, without scanning the tenant's applications.
CREATE INDEX applications_status ON applications (tenant_id, status_condition, id);
-- A name prefix is one range of names compared byte by byte: the `UNIQUE (tenant_id, name)`
-- index has the database's collation, whose order (e.g. en_US ignoring hyphens) is not a
-- prefix order.
CREATE INDEX applications_name_bytes ON applications (tenant_id, name COLLATE "C");
