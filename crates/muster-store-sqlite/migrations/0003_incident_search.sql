-- `$search` looks for a fragment in an incident's name and impacted asset names. A trigram index
-- finds fragments of three characters or more without reading every incident; the row id is the
-- incident id, and the text (lower-cased name, then asset names, one per line) is not kept, only
-- indexed.
CREATE VIRTUAL TABLE incident_search USING fts5 (text, tokenize = 'trigram', content = '', contentless_delete = 1);

INSERT INTO incident_search (rowid, text)
SELECT i.id, lower(i.display_name) || char(10) || coalesce(
    (SELECT group_concat(f.value, char(10)) FROM incident_facets f
     WHERE f.incident_id = i.id AND f.facet = 'impactedAssets'), '')
FROM incidents i;
