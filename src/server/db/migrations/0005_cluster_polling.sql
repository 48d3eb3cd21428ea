-- Fleet polling shared by the replicas (ADR 0006): when each replica may start polling its share,
-- and what its last poll round did, written with its heartbeat (GET /api/v1/cluster/ shows them).
--   polls_from         the first poll slot (a boundary of the poll interval on the wall clock) in
--                      which the others count this replica; null for a replica that polls nothing
--   polled_appliances  how many appliances its last round polled
--   last_round_ms      how long that round took
--   last_round_at      when it ended

ALTER TABLE cluster_replicas ADD COLUMN polls_from timestamptz;
ALTER TABLE cluster_replicas ADD COLUMN polled_appliances integer;
ALTER TABLE cluster_replicas ADD COLUMN last_round_ms integer;
ALTER TABLE cluster_replicas ADD COLUMN last_round_at timestamptz;
