-- `$search` looks for a fragment in an incident's name and impacted asset names. `search_text`
-- holds both (lower-cased name, then asset names, one per line) under a trigram index, which finds
-- fragments of three characters or more without reading every incident. pg_trgm ships with
-- PostgreSQL and is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE incidents ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

UPDATE incidents i SET search_text = lower(i.display_name) || E'\n' || coalesce(
    (SELECT string_agg(f.value, E'\n') FROM incident_facets f
     WHERE f.incident_id = i.id AND f.facet = 'impactedAssets'), '');

CREATE INDEX incidents_by_search_text ON incidents USING gin (search_text gin_trgm_ops);
