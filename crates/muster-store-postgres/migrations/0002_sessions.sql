-- UI sessions. The cookie holds a random secret; only its SHA-256 is stored.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
