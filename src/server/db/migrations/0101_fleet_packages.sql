-- Upgrade packages in the manager's store, and appliance upgrades (one at a time).

CREATE TABLE fleet_packages (
  id                     serial PRIMARY KEY,
  type                   text NOT NULL,
  version                text NOT NULL,
  requires               text NOT NULL,
  sha256                 text NOT NULL,
  size                   bigint NOT NULL,
  publisher_fingerprint  text NOT NULL,
  file_name              text NOT NULL,
  created                timestamptz NOT NULL DEFAULT now(),
  UNIQUE (type, version)
);

CREATE TABLE fleet_upgrades (
  id             serial PRIMARY KEY,
  appliance_id   integer NOT NULL REFERENCES appliances (id) ON DELETE CASCADE,
  package_id     integer NOT NULL REFERENCES fleet_packages (id) ON DELETE CASCADE,
  version        text NOT NULL,
  status         text NOT NULL DEFAULT 'pending',
  log            text NOT NULL DEFAULT '',
  started        timestamptz NOT NULL DEFAULT now(),
  finished       timestamptz
);
-- At most one upgrade in progress across the whole fleet (the seed: one appliance at a time).
CREATE UNIQUE INDEX fleet_upgrades_one_active_idx ON fleet_upgrades ((true)) WHERE finished IS NULL;
CREATE INDEX fleet_upgrades_appliance_idx ON fleet_upgrades (appliance_id, id DESC);
