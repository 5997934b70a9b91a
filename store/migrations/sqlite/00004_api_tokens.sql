-- +goose Up
-- API tokens live beside sessions in api_keys: login_type tells them apart (a session slides
-- when used, a token keeps its expiry), and a token has a name unique among its user's tokens.
ALTER TABLE api_keys ADD COLUMN login_type TEXT NOT NULL DEFAULT 'password' CHECK (login_type IN ('password', 'token'));
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'all' CHECK (scope = 'all');
ALTER TABLE api_keys ADD COLUMN token_name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN lifetime_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN updated_at DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
-- Every existing key is a session, whose expiry was last written as last_used plus the
-- session duration.
UPDATE api_keys SET
    updated_at = last_used,
    lifetime_seconds = MAX(0, CAST(ROUND((julianday(expires_at) - julianday(last_used)) * 86400) AS INTEGER));
CREATE UNIQUE INDEX api_keys_token_name_idx ON api_keys (user_id, token_name) WHERE login_type = 'token';

-- +goose Down
DROP INDEX api_keys_token_name_idx;
DELETE FROM api_keys WHERE login_type = 'token';
ALTER TABLE api_keys DROP COLUMN updated_at;
ALTER TABLE api_keys DROP COLUMN lifetime_seconds;
ALTER TABLE api_keys DROP COLUMN token_name;
ALTER TABLE api_keys DROP COLUMN scope;
ALTER TABLE api_keys DROP COLUMN login_type;
