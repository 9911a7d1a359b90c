-- Muster's schema on PostgreSQL: the same tables, columns and meaning as the SQLite backend's
-- 0001_initial.sql. Each incident and alert is stored whole as its Graph JSON (`body`, kept as TEXT
-- so it round-trips byte for byte), beside the columns the queue filters and sorts on. Times are
-- microseconds since the Unix epoch (BIGINT).
--
-- Text that is compared, ordered or paged on uses COLLATE "C": byte order, as SQLite's BINARY
-- collation, whatever locale the server's database was created with.

CREATE TABLE incidents (
    id                   BIGINT  PRIMARY KEY,
    version              BIGINT  NOT NULL,
    status               TEXT    COLLATE "C" NOT NULL,
    severity_rank        BIGINT  NOT NULL,
    display_name         TEXT    COLLATE "C" NOT NULL DEFAULT '',
    -- lower-cased, so "assigned to me" matches however a login was typed
    assigned_to          TEXT    COLLATE "C",
    classification       TEXT    COLLATE "C",
    determination        TEXT    COLLATE "C",
    created_at           BIGINT  NOT NULL,
    last_update_at       BIGINT  NOT NULL,
    first_activity_at    BIGINT,
    -- last alert activity, or creation time while empty: the queue's default sort key
    last_activity_at     BIGINT  NOT NULL,
    alert_count          BIGINT  NOT NULL DEFAULT 0,
    active_alert_count   BIGINT  NOT NULL DEFAULT 0,
    service_source_count BIGINT  NOT NULL DEFAULT 0,
    category_count       BIGINT  NOT NULL DEFAULT 0,
    redirect_incident_id BIGINT,
    name_locked          BOOLEAN NOT NULL DEFAULT FALSE,
    severity_locked      BOOLEAN NOT NULL DEFAULT FALSE,
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
    facet            TEXT   COLLATE "C" NOT NULL,
    value            TEXT   COLLATE "C" NOT NULL,
    last_activity_at BIGINT NOT NULL,
    incident_id      BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE
);
-- The queue's filtered range scan. Unique, as SQLite's primary key on the same columns.
CREATE UNIQUE INDEX incident_facets_by_value
    ON incident_facets (facet, value, last_activity_at DESC, incident_id DESC);
CREATE INDEX incident_facets_by_incident ON incident_facets (incident_id);

CREATE TABLE alerts (
    id                TEXT    COLLATE "C" PRIMARY KEY,
    incident_id       BIGINT  NOT NULL,
    service_source    TEXT    COLLATE "C" NOT NULL,
    provider_alert_id TEXT    COLLATE "C",
    -- what `$search` looks in
    title             TEXT    NOT NULL DEFAULT '',
    status            TEXT    COLLATE "C" NOT NULL,
    severity_rank     BIGINT  NOT NULL,
    assigned_to       TEXT    COLLATE "C",
    classification    TEXT    COLLATE "C",
    determination     TEXT    COLLATE "C",
    created_at        BIGINT  NOT NULL,
    last_update_at    BIGINT  NOT NULL,
    activity_at       BIGINT  NOT NULL,
    pinned            BOOLEAN NOT NULL DEFAULT FALSE,
    body              TEXT    NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id, activity_at DESC, id DESC);
CREATE INDEX alerts_by_activity ON alerts (activity_at DESC, id DESC);
CREATE INDEX alerts_by_status ON alerts (status, activity_at DESC);

-- Normalised entity keys of each alert's evidence: what correlation links on and entity search finds.
CREATE TABLE entity_keys (
    kind     TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    display  TEXT NOT NULL,
    PRIMARY KEY (kind, value, alert_id)
);
CREATE INDEX entity_keys_by_alert ON entity_keys (alert_id);

CREATE TABLE comments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT,
    alert_id    TEXT   COLLATE "C",
    comment     TEXT   NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    CHECK ((incident_id IS NULL) <> (alert_id IS NULL))
);
CREATE INDEX comments_by_incident ON comments (incident_id, id);
CREATE INDEX comments_by_alert ON comments (alert_id, id);

-- Refuses any edit or deletion of an append-only table; the message is the trigger's argument.
CREATE FUNCTION muster_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;

-- The comments-and-history log. Append-only: the triggers refuse any edit or deletion.
CREATE TABLE history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor_kind  TEXT   COLLATE "C" NOT NULL,
    actor       TEXT   COLLATE "C" NOT NULL,
    kind        TEXT   COLLATE "C" NOT NULL,
    field       TEXT,
    old_value   TEXT,
    new_value   TEXT,
    comment     TEXT,
    reason      TEXT
);
CREATE INDEX history_by_incident ON history (incident_id, id DESC);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
    FOR EACH ROW EXECUTE FUNCTION muster_append_only('history is append-only');
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION muster_append_only('history is append-only');
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION muster_append_only('history is append-only');

CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login         TEXT    NOT NULL,
    -- lower-cased login: one account per name however it is typed
    login_key     TEXT    COLLATE "C" NOT NULL CONSTRAINT users_login_unique UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    device_groups TEXT    NOT NULL DEFAULT '[]',
    created_at    BIGINT  NOT NULL
);

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL,
    user_id       BIGINT REFERENCES users (id),
    role          TEXT   NOT NULL,
    device_groups TEXT   NOT NULL DEFAULT '[]',
    secret_hash   TEXT   COLLATE "C" NOT NULL CONSTRAINT api_tokens_secret_unique UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);

CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT,
    detail    TEXT,
    client_ip TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION muster_append_only('the audit log is append-only');
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION muster_append_only('the audit log is append-only');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION muster_append_only('the audit log is append-only');
