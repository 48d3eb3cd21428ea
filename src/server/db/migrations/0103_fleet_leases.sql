-- Leases for fleet jobs: with several manager replicas on one PostgreSQL server, one replica
-- at a time polls the fleet; another takes over when the lease runs out.
CREATE TABLE fleet_leases (
  name    text PRIMARY KEY,
  holder  text NOT NULL,
  until   timestamptz NOT NULL
);
