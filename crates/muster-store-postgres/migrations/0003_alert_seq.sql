-- Alerts get an arrival number: the tie-break of alert orders and keyset cursors (the id, a hash,
-- orders nothing), as SQLite's rid.
ALTER TABLE alerts ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX alerts_by_seq ON alerts (seq);
DROP INDEX alerts_by_incident;
DROP INDEX alerts_by_activity;
CREATE INDEX alerts_by_incident ON alerts (incident_id, activity_at, seq);
CREATE INDEX alerts_by_activity ON alerts (activity_at, seq);
