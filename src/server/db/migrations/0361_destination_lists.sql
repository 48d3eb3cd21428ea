-- Destination lists (seed 001, Cloudlock: "manage lists of destinations (IP addresses)"): named
-- lists of IP addresses and CIDR networks, referenced by name from configuration content
-- (`destinations__lists`) and resolved when a revision is saved. Each configuration revision
-- keeps the entries of the lists it referenced at that moment, so a diff and an apply of that
-- revision send exactly what was saved, and a list change makes a new revision of each group
-- that uses it.

CREATE TABLE destination_lists (
  id           serial PRIMARY KEY,
  name         text NOT NULL,
  description  text NOT NULL DEFAULT '',
  created      timestamptz NOT NULL DEFAULT now(),
  updated      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX destination_lists_name_idx ON destination_lists (lower(name));

CREATE TABLE destination_list_entries (
  id        serial PRIMARY KEY,
  list_id   integer NOT NULL REFERENCES destination_lists (id) ON DELETE CASCADE,
  value     text NOT NULL,
  comment   text NOT NULL DEFAULT '',
  created   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (list_id, value)
);

ALTER TABLE config_revisions ADD COLUMN destination_lists jsonb;
