-- Work one replica starts and must see finished (ADR 0006, "Work a replica leaves behind"): the
-- replica that marks appliances `pending` for a configuration sends it; the replica that starts
-- an upgrade follows it. Each records its id here. A replica killed in the middle leaves its
-- claim; the jobs leader claims what a replica no longer alive left (a conditional UPDATE, so
-- two leaders in a hand-over cannot both take it) and finishes the work. Rows written by a release
-- without this column have no claimer: they count as left behind after a longer wait.

ALTER TABLE appliances ADD COLUMN configuration_claimed_by text;
ALTER TABLE fleet_upgrades ADD COLUMN run_by text;
