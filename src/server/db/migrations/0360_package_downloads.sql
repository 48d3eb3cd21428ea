-- Downloads from the package repository (an HTTPS URL the admin sets). One row per attempt; the
-- row of a running download carries its progress, so every replica's GET shows it. At most one
-- download of a given package runs at a time across replicas (the partial unique index).

CREATE TABLE fleet_package_downloads (
  id          serial PRIMARY KEY,
  type        text NOT NULL,
  version     text NOT NULL,
  status      text NOT NULL DEFAULT 'downloading',
  received    bigint NOT NULL DEFAULT 0,
  total       bigint NOT NULL DEFAULT 0,
  error       text,
  started_by  text,
  started     timestamptz NOT NULL DEFAULT now(),
  heartbeat   timestamptz NOT NULL DEFAULT now(),
  finished    timestamptz
);
CREATE UNIQUE INDEX fleet_package_downloads_running_idx
  ON fleet_package_downloads (type, version) WHERE finished IS NULL;
CREATE INDEX fleet_package_downloads_package_idx ON fleet_package_downloads (type, version, id DESC);
