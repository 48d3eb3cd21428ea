-- Appliance licensing: a machine id per appliance, and the licence installed on it.
ALTER TABLE appliances ADD COLUMN machine_id text;
ALTER TABLE appliances ADD COLUMN license jsonb;
CREATE UNIQUE INDEX appliances_machine_id_idx ON appliances (machine_id) WHERE machine_id IS NOT NULL;
