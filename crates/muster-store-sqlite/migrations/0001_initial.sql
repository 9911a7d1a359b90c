-- Muster's schema on SQLite. Each incident and alert is stored whole as its Graph JSON (`body`,
-- compressed: `codec` names the dictionary, 0 for plain text), beside the columns the queue filters
-- and sorts on. Times are microseconds since the Unix epoch.

CREATE TABLE incidents (
    id                   INTEGER PRIMARY KEY,
    version              INTEGER NOT NULL,
    status               TEXT    NOT NULL,
    severity_rank        INTEGER NOT NULL,
    display_name         TEXT    NOT NULL DEFAULT '',
    -- lower-cased, so "assigned to me" matches however a login was typed
    assigned_to          TEXT,
    classification       TEXT,
    determination        TEXT,
    created_at           INTEGER NOT NULL,
    last_update_at       INTEGER NOT NULL,
    first_activity_at    INTEGER,
    -- last alert activity, or creation time while empty: the queue's default sort key
    last_activity_at     INTEGER NOT NULL,
    alert_count          INTEGER NOT NULL DEFAULT 0,
    active_alert_count   INTEGER NOT NULL DEFAULT 0,
    service_source_count INTEGER NOT NULL DEFAULT 0,
    category_count       INTEGER NOT NULL DEFAULT 0,
    redirect_incident_id INTEGER,
    name_locked          INTEGER NOT NULL DEFAULT 0,
    severity_locked      INTEGER NOT NULL DEFAULT 0,
    -- a hash of the facet rows: they are rewritten only when it changes
    facets_hash          INTEGER NOT NULL DEFAULT 0,
    codec                INTEGER NOT NULL DEFAULT 0,
    body                 BLOB    NOT NULL
);
-- Every alert that joins an incident moves it in the indexes holding its activity or update time,
-- so those are few; the others are partial (most incidents are active and unassigned) or hold
-- values that rarely change.
CREATE INDEX incidents_by_activity ON incidents (last_activity_at, id);
CREATE INDEX incidents_by_update ON incidents (last_update_at, id);
CREATE INDEX incidents_by_created ON incidents (created_at, id);
CREATE INDEX incidents_by_severity ON incidents (severity_rank, id);
CREATE INDEX incidents_by_assignee ON incidents (assigned_to, last_activity_at) WHERE assigned_to IS NOT NULL;
CREATE INDEX incidents_by_status ON incidents (status, last_activity_at) WHERE status <> 'active';
CREATE INDEX incidents_by_classification ON incidents (classification, determination, last_activity_at)
    WHERE classification IS NOT NULL;

-- Multi-valued queue filters (tags, categories, sources, OS platforms, device groups, ...), one row
-- per value.
CREATE TABLE incident_facets (
    facet       TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (facet, value, incident_id)
) WITHOUT ROWID;
CREATE INDEX incident_facets_by_incident ON incident_facets (incident_id);

-- Alerts in arrival order (`rid`). The look-ups by id and by entity key are `alert_ids` and
-- `alert_entities`, filled in bulk, one of sixteen hash ranges at a time, for every rid up to that
-- range's `index_state.deferred_upto_N`; newer alerts are found from memory, rebuilt from `id_hash`
-- and `keys` at start-up.
CREATE TABLE alerts (
    rid               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL,
    id_hash           INTEGER NOT NULL,
    incident_id       INTEGER NOT NULL,
    service_source    TEXT    NOT NULL,
    -- what `$search` looks in
    title             TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL,
    severity_rank     INTEGER NOT NULL,
    assigned_to       TEXT,
    classification    TEXT,
    determination     TEXT,
    created_at        INTEGER NOT NULL,
    last_update_at    INTEGER NOT NULL,
    activity_at       INTEGER NOT NULL,
    pinned            INTEGER NOT NULL DEFAULT 0,
    -- the entity key hashes of its evidence, 8 bytes each (little endian)
    keys              BLOB    NOT NULL,
    codec             INTEGER NOT NULL DEFAULT 0,
    body              BLOB    NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id, activity_at, rid);
CREATE INDEX alerts_by_activity ON alerts (activity_at, rid);

CREATE TABLE alert_ids (
    id_hash INTEGER NOT NULL,
    rid     INTEGER NOT NULL,
    PRIMARY KEY (id_hash, rid)
) WITHOUT ROWID;
CREATE TABLE alert_entities (
    key_hash INTEGER NOT NULL,
    rid      INTEGER NOT NULL,
    PRIMARY KEY (key_hash, rid)
) WITHOUT ROWID;
CREATE TABLE index_state (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
WITH RECURSIVE ranges (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM ranges WHERE n < 15)
INSERT INTO index_state (name, value) SELECT 'deferred_upto_' || n, 0 FROM ranges;

-- The zstd dictionaries bodies are compressed with, kept for as long as a body needs them.
CREATE TABLE codec_dictionaries (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    dictionary BLOB    NOT NULL
);

CREATE TABLE comments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id    INTEGER,
    alert_id       TEXT,
    comment        TEXT    NOT NULL,
    created_by     TEXT,
    created_at     INTEGER NOT NULL,
    CHECK ((incident_id IS NULL) <> (alert_id IS NULL))
);
CREATE INDEX comments_by_incident ON comments (incident_id, id);
CREATE INDEX comments_by_alert ON comments (alert_id, id);

-- The comments-and-history log. Append-only: the triggers refuse any edit or deletion.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    field       TEXT,
    old_value   TEXT,
    new_value   TEXT,
    comment     TEXT,
    reason      TEXT
);
CREATE INDEX history_by_incident ON history (incident_id, id);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL,
    -- lower-cased login: one account per name however it is typed
    login_key     TEXT    NOT NULL CONSTRAINT users_login_unique UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    device_groups TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    user_id       INTEGER REFERENCES users (id),
    role          TEXT    NOT NULL,
    device_groups TEXT    NOT NULL DEFAULT '[]',
    secret_hash   TEXT    NOT NULL CONSTRAINT api_tokens_secret_unique UNIQUE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT,
    detail    TEXT,
    client_ip TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- UI sessions. The cookie holds a random secret; only its SHA-256 is stored.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
