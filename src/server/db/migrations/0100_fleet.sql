-- Fleet: the appliance registry, configuration groups and their revisions, fleet activities,
-- and the manager's own pairing key.

-- The manager's Ed25519 key: agents pin its fingerprint when they pair. One row.
CREATE TABLE fleet_identity (
  id                  integer PRIMARY KEY CHECK (id = 1),
  public_key          text NOT NULL,
  private_key_sealed  text NOT NULL,
  fingerprint         text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

-- Configuration groups: standard (workers) and hub groups. Secret field values in `content`
-- are sealed (AES-256-GCM) before they are stored.
CREATE TABLE config_groups (
  id                serial PRIMARY KEY,
  name              text NOT NULL UNIQUE,
  kind              text NOT NULL DEFAULT 'standard',
  content           jsonb NOT NULL DEFAULT '{}'::jsonb,
  revision          integer NOT NULL DEFAULT 0,
  hub_settings      jsonb,
  created           timestamptz NOT NULL DEFAULT now(),
  updated           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE appliances (
  id                              serial PRIMARY KEY,
  name                            text NOT NULL UNIQUE,
  type                            text NOT NULL,
  url                             text NOT NULL,
  uuid                            text,
  hostname                        text,
  release                         text,
  snmp_community                  text NOT NULL DEFAULT '',
  haproxy_password_sealed         text,
  authorized                      boolean NOT NULL DEFAULT false,
  agent_token_sealed              text,
  tls_cert_pem                    text,
  online                          boolean NOT NULL DEFAULT false,
  latency                         double precision,
  maintenance                     boolean NOT NULL DEFAULT false,
  status                          text NOT NULL DEFAULT 'unauthorized',
  last_seen_online                timestamptz,
  last_polled                     timestamptz,
  system_data                     jsonb NOT NULL DEFAULT '{}'::jsonb,
  group_id                        integer REFERENCES config_groups (id) ON DELETE SET NULL,
  individual_content              jsonb,
  individual_revision             integer NOT NULL DEFAULT 0,
  configuration_status            text NOT NULL DEFAULT 'no_configuration_group',
  configuration_status_details    jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_applied_config_timestamp   timestamptz,
  applied_revision                integer,
  applied_hash                    text,
  running_hash                    text,
  events_cursor                   integer NOT NULL DEFAULT 0,
  created                         timestamptz NOT NULL DEFAULT now(),
  updated                         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appliances_group_idx ON appliances (group_id);
CREATE INDEX appliances_authorized_idx ON appliances (authorized) WHERE authorized;

-- Every save of a group's (or an individual Analyze appliance's) configuration.
CREATE TABLE config_revisions (
  id            serial PRIMARY KEY,
  group_id      integer REFERENCES config_groups (id) ON DELETE CASCADE,
  appliance_id  integer REFERENCES appliances (id) ON DELETE CASCADE,
  revision      integer NOT NULL,
  content       jsonb NOT NULL,
  created       timestamptz NOT NULL DEFAULT now(),
  created_by    text
);
CREATE UNIQUE INDEX config_revisions_group_idx ON config_revisions (group_id, revision) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX config_revisions_appliance_idx ON config_revisions (appliance_id, revision) WHERE appliance_id IS NOT NULL;

-- Activities: events reported by appliances and by the fleet itself, newest first.
CREATE TABLE fleet_events (
  id              bigserial PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  appliance_id    integer REFERENCES appliances (id) ON DELETE SET NULL,
  appliance_name  text,
  kind            text NOT NULL,
  severity        text NOT NULL DEFAULT 'info',
  source          text NOT NULL DEFAULT 'manager',
  message         text NOT NULL,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX fleet_events_at_idx ON fleet_events (at DESC, id DESC);
CREATE INDEX fleet_events_appliance_idx ON fleet_events (appliance_id, id DESC);
CREATE INDEX fleet_events_kind_idx ON fleet_events (kind, id DESC);
