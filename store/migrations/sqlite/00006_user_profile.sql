-- +goose Up
-- Coder's User has a display name, an avatar, a theme, a status and when the user was last
-- authenticated. Status is active, dormant (not authenticated for a long time) or suspended.
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN theme_preference TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'dormant', 'suspended'));
ALTER TABLE users ADD COLUMN last_seen_at DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
-- Existing users were last seen no later than their last session use, else when created.
UPDATE users SET last_seen_at = COALESCE(
    (SELECT MAX(k.last_used) FROM api_keys k WHERE k.user_id = users.id), created_at);
CREATE INDEX users_status_idx ON users (status);

-- +goose Down
DROP INDEX users_status_idx;
ALTER TABLE users DROP COLUMN last_seen_at;
ALTER TABLE users DROP COLUMN status;
ALTER TABLE users DROP COLUMN theme_preference;
ALTER TABLE users DROP COLUMN avatar_url;
ALTER TABLE users DROP COLUMN name;
