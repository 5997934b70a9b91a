-- +goose Up
-- The seat high-water mark: the most users ever active at once, and when that was first
-- counted. One row, raised by a compare-and-set upsert (WHERE active_users < the new count)
-- whenever a replica counts the active users, so replicas counting at once never lower it.
CREATE TABLE seat_high_water (
    id           integer PRIMARY KEY CHECK (id = 1),
    active_users bigint NOT NULL CHECK (active_users >= 0),
    recorded_at  timestamptz NOT NULL
);
-- The dormancy pass looks for active users not seen since a cutoff.
CREATE INDEX users_status_last_seen_idx ON users (status, last_seen_at);

-- +goose Down
DROP INDEX users_status_last_seen_idx;
DROP TABLE seat_high_water;
