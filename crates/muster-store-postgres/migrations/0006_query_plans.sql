-- Plans that hold at a million incidents.

-- A facet's name and value are far from independent (a tag value only ever appears under
-- customTags): without this the planner multiplies their frequencies, expects a few hundred
-- incidents with a tag tens of thousands carry, and reads every one of them before sorting.
CREATE STATISTICS incident_facets_by_pair (mcv) ON facet, value FROM incident_facets;

-- Sorting by severity pages by (severity, id), the keyset's order.
CREATE INDEX incidents_by_severity_id ON incidents (severity_rank DESC, id DESC);

-- Facet counts read each counted incident's facet rows from the index alone; it also serves
-- every look-up by incident the narrower index did.
CREATE INDEX incident_facets_by_incident_value ON incident_facets (incident_id, facet, value);
DROP INDEX incident_facets_by_incident;

-- Fill the new statistics now rather than at autovacuum's next pass (it samples: quick at any size).
ANALYZE incident_facets;
