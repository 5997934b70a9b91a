-- +goose Up
-- Failed logins per key ("email:<sha256>" or "addr:<client address>") within a window that
-- starts at the key's first counted attempt. An attempt is counted with one upsert that starts
-- a new window when the old one has passed, so replicas sharing the database count together.
CREATE TABLE login_throttles (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL
);
-- Rows whose window has passed are deleted by window_start.
CREATE INDEX login_throttles_window_start_idx ON login_throttles (window_start);

-- +goose Down
DROP TABLE login_throttles;
