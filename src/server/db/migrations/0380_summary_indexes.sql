-- The fleet summary (GET /api/v1/summary/, the console's dashboard) reads three small parts of
-- large tables; these partial indexes let it read only those parts (docs/benchmarks.md: 10,000
-- appliances and 50,000 activities). The predicates are repeated word for word in
-- modules/summary/summary.repo.ts, which is what lets the planner use them.

-- The online, offline and authorization events of the last day (the fleet-state series).
CREATE INDEX fleet_events_transitions_idx ON fleet_events (at)
  WHERE kind IN ('appliance.online', 'appliance.offline', 'appliance.authorized');

-- The warnings and errors of the last day (alerts).
CREATE INDEX fleet_events_alerts_idx ON fleet_events (at) WHERE severity IN ('warning', 'error');

-- Appliances that need attention: not authorized, a refused or drifted configuration, or (not in
-- maintenance) offline or degraded. In a healthy fleet, a few rows.
CREATE INDEX appliances_attention_idx ON appliances (name)
  WHERE NOT authorized OR configuration_status IN ('error', 'mismatch')
    OR (NOT maintenance AND (NOT online OR status = 'degraded'));
