-- Appliance health over time (the console's detail charts, GET /api/v1/appliances/{id}/health/):
-- one sample of what an appliance reported (system_data) per appliance per 5-minute slot, kept
-- 24 hours (the retention job deletes older rows hourly). The poller writes a round's samples in
-- one INSERT; the primary key makes a second replica polling the same appliance in the same slot
-- (ownership moving, ADR 0006) a no-op instead of a duplicate.
--   slot                  the 5-minute slot, offset per appliance so a fleet's samples spread
--                         over the rounds instead of all landing in the first round of a slot
--   at                    when the poll answered
--   load1                 load average over 1 minute
--   memory_used_percent   of total memory, 0-100
--   disk_used_percent     of the data filesystem, 0-100
--   uptime_seconds        seconds since the agent started

CREATE TABLE appliance_health_samples (
  appliance_id integer NOT NULL REFERENCES appliances (id) ON DELETE CASCADE,
  slot bigint NOT NULL,
  at timestamptz NOT NULL,
  load1 real NOT NULL,
  memory_used_percent real NOT NULL,
  disk_used_percent real NOT NULL,
  uptime_seconds bigint NOT NULL,
  PRIMARY KEY (appliance_id, slot)
);

CREATE INDEX appliance_health_samples_at_idx ON appliance_health_samples (at);
