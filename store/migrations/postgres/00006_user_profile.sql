-- +goose Up
-- Coder's User has a display name, an avatar, a theme, a status and when the user was last
-- authenticated. Status is active, dormant (not authenticated for a long time) or suspended.
ALTER TABLE users
    ADD COLUMN name             text NOT NULL DEFAULT '',
    ADD COLUMN avatar_url       text NOT NULL DEFAULT '',
    ADD COLUMN theme_preference text NOT NULL DEFAULT '',
    ADD COLUMN status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'dormant', 'suspended')),
    ADD COLUMN last_seen_at     timestamptz;
-- Existing users were last seen no later than their last session use, else when created.
UPDATE users SET last_seen_at = COALESCE(
    (SELECT MAX(k.last_used) FROM api_keys k WHERE k.user_id = users.id), created_at);
ALTER TABLE users ALTER COLUMN last_seen_at SET NOT NULL;
CREATE INDEX users_status_idx ON users (status);

-- +goose Down
DROP INDEX users_status_idx;
ALTER TABLE users
    DROP COLUMN last_seen_at,
    DROP COLUMN status,
    DROP COLUMN theme_preference,
    DROP COLUMN avatar_url,
    DROP COLUMN name;
