-- Scale-out: the replicas sharing this database, and request counts shared between them.

CREATE TABLE cluster_replicas (
  id              text PRIMARY KEY,
  address         text NOT NULL,
  release         text NOT NULL,
  started_at      timestamptz NOT NULL,
  last_heartbeat  timestamptz NOT NULL,
  leader          boolean NOT NULL DEFAULT false
);

-- Per-key request counts of the current rate-limit window, summed over replicas. Each replica
-- adds its local count every half second; rows of past windows are deleted.
CREATE TABLE rate_limit_counters (
  key           text NOT NULL,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL,
  PRIMARY KEY (key, window_start)
);
