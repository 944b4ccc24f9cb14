-- The dashboard lists a tenant's API and event definitions whose spec fetch failed. Without
-- these, that list read every definition of the tenant; with them, only the failed ones.
-- The predicate is the one the statement uses, so that the planner can prove it.
CREATE INDEX api_definitions_fetch_failed ON api_definitions (tenant_id, app_id)
    WHERE (spec_fetch_request ->> 'condition') = 'FAILED';
CREATE INDEX event_definitions_fetch_failed ON event_definitions (tenant_id, app_id)
    WHERE (spec_fetch_request ->> 'condition') = 'FAILED';
