-- Each person's UI settings (the queue's columns), as JSON text under a key.
CREATE TABLE user_preferences (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT user_preferences_pk PRIMARY KEY (user_id, key)
);
