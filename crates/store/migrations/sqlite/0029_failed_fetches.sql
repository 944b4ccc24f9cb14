-- The dashboard lists a tenant's API and event definitions whose spec fetch failed. Without
-- these, that list read every definition of the tenant (100,000 APIs and as many events:
-- 65 ms a dashboard); with them, only the failed ones. The predicate is the one the
-- statement uses, word for word, so that SQLite can use the partial index.
CREATE INDEX api_definitions_fetch_failed ON api_definitions (tenant_id, app_id)
    WHERE json_extract(spec_fetch_request, '$.condition') = 'FAILED';
CREATE INDEX event_definitions_fetch_failed ON event_definitions (tenant_id, app_id)
    WHERE json_extract(spec_fetch_request, '$.condition') = 'FAILED';
