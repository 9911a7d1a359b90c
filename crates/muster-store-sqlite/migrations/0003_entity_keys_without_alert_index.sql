-- Entity keys are replaced by their exact (kind, value, alert_id) when an alert is sent again, so
-- the index by alert only cost every ingest a random write per key.
DROP INDEX entity_keys_by_alert;
