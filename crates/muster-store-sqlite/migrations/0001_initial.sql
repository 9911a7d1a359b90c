-- Muster's schema on SQLite. Each incident and alert is stored whole as its Graph JSON (`body`),
-- beside the columns the queue filters and sorts on. Times are microseconds since the Unix epoch.

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
    body                 TEXT    NOT NULL
);
CREATE INDEX incidents_by_activity ON incidents (last_activity_at DESC, id DESC);
CREATE INDEX incidents_by_status ON incidents (status, last_activity_at DESC, id DESC);
CREATE INDEX incidents_by_assignee ON incidents (assigned_to, last_activity_at DESC, id DESC);
CREATE INDEX incidents_by_severity ON incidents (severity_rank, last_activity_at DESC, id DESC);
CREATE INDEX incidents_by_classification ON incidents (classification, determination, last_activity_at DESC);
CREATE INDEX incidents_by_update ON incidents (last_update_at DESC, id DESC);
CREATE INDEX incidents_by_created ON incidents (created_at DESC, id DESC);

-- Multi-valued queue filters (tags, categories, sources, OS platforms, device groups, ...), one row
-- per value, carrying the sort key so a filtered queue page is an ordered index range.
CREATE TABLE incident_facets (
    facet            TEXT    NOT NULL,
    value            TEXT    NOT NULL,
    last_activity_at INTEGER NOT NULL,
    incident_id      INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (facet, value, last_activity_at DESC, incident_id DESC)
) WITHOUT ROWID;
CREATE INDEX incident_facets_by_incident ON incident_facets (incident_id);

CREATE TABLE alerts (
    id                TEXT    PRIMARY KEY,
    incident_id       INTEGER NOT NULL,
    service_source    TEXT    NOT NULL,
    provider_alert_id TEXT,
    status            TEXT    NOT NULL,
    severity_rank     INTEGER NOT NULL,
    assigned_to       TEXT,
    classification    TEXT,
    determination     TEXT,
    created_at        INTEGER NOT NULL,
    last_update_at    INTEGER NOT NULL,
    activity_at       INTEGER NOT NULL,
    pinned            INTEGER NOT NULL DEFAULT 0,
    body              TEXT    NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id, activity_at DESC, id DESC);
CREATE INDEX alerts_by_activity ON alerts (activity_at DESC, id DESC);
CREATE INDEX alerts_by_status ON alerts (status, activity_at DESC);

-- Normalised entity keys of each alert's evidence: what correlation links on and entity search finds.
CREATE TABLE entity_keys (
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    display  TEXT NOT NULL,
    PRIMARY KEY (kind, value, alert_id)
) WITHOUT ROWID;
CREATE INDEX entity_keys_by_alert ON entity_keys (alert_id);

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
CREATE INDEX history_by_incident ON history (incident_id, id DESC);
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
