-- `steward package remove`: removing a package from the store keeps the history of the upgrades
-- that used it (their version and log stay; the package reference becomes null).

ALTER TABLE fleet_upgrades ALTER COLUMN package_id DROP NOT NULL;
ALTER TABLE fleet_upgrades DROP CONSTRAINT fleet_upgrades_package_id_fkey;
ALTER TABLE fleet_upgrades
  ADD CONSTRAINT fleet_upgrades_package_id_fkey
  FOREIGN KEY (package_id) REFERENCES fleet_packages (id) ON DELETE SET NULL;
