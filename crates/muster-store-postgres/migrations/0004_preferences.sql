-- Each person's UI settings (the queue's columns), as JSON text under a key.
CREATE TABLE user_preferences (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT user_preferences_pk PRIMARY KEY (user_id, key)
);
