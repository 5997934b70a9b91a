-- +goose Up
CREATE TABLE licenses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uploaded_at DATETIME NOT NULL,
    jwt         TEXT NOT NULL UNIQUE,
    exp         DATETIME NOT NULL,
    uuid        TEXT NOT NULL
);

-- One row: when an explicit refresh last ran. A refresh claims it with a compare-and-set UPDATE.
-- The seed is written in the driver's own time format so comparisons with bound times work.
CREATE TABLE entitlements_refreshes (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at DATETIME NOT NULL
);
INSERT INTO entitlements_refreshes (id, refreshed_at) VALUES (1, '1970-01-01 00:00:00+00:00');

CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    started_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE replicas;
DROP TABLE entitlements_refreshes;
DROP TABLE licenses;
