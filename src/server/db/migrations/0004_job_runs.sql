-- Scale-out: one row per run of a background job that must run once across the replicas
-- (fleet health polling, retention), written by the replica that ran it (ADR 0003). It shows
-- which replica ran each tick (GET /api/v1/cluster/ lists the last run of every job) and lets
-- the cluster tests check that a tick ran once, not once per replica. Rows older than a day are
-- deleted by the leader.

CREATE TABLE job_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job          text NOT NULL,
  replica_id   text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  ok           boolean,
  error        text
);
CREATE INDEX job_runs_job_started_idx ON job_runs (job, started_at);
