-- The console's search of applications (the Director's `applications(status:, namePrefix:)`):
-- a status is one range of this index in id order, so a page of one status reads its rows
-- and its count reads the range, without scanning the tenant's applications. A name prefix
-- is a range of the `UNIQUE (tenant_id, name)` index, which compares bytes (BINARY).
CREATE INDEX applications_status ON applications (tenant_id, status_condition, id);
