-- +goose Up
-- API tokens live beside sessions in api_keys: login_type tells them apart (a session slides
-- when used, a token keeps its expiry), and a token has a name unique among its user's tokens.
ALTER TABLE api_keys
    ADD COLUMN login_type       text   NOT NULL DEFAULT 'password' CHECK (login_type IN ('password', 'token')),
    ADD COLUMN scope            text   NOT NULL DEFAULT 'all' CHECK (scope = 'all'),
    ADD COLUMN token_name       text   NOT NULL DEFAULT '',
    ADD COLUMN lifetime_seconds bigint NOT NULL DEFAULT 0,
    ADD COLUMN updated_at       timestamptz;
-- Every existing key is a session, whose expiry was last written as last_used plus the
-- session duration.
UPDATE api_keys SET
    updated_at = last_used,
    lifetime_seconds = GREATEST(0, round(EXTRACT(EPOCH FROM expires_at - last_used)))::bigint;
ALTER TABLE api_keys ALTER COLUMN updated_at SET NOT NULL;
CREATE UNIQUE INDEX api_keys_token_name_idx ON api_keys (user_id, token_name) WHERE login_type = 'token';

-- +goose Down
DROP INDEX api_keys_token_name_idx;
DELETE FROM api_keys WHERE login_type = 'token';
ALTER TABLE api_keys
    DROP COLUMN updated_at,
    DROP COLUMN lifetime_seconds,
    DROP COLUMN token_name,
    DROP COLUMN scope,
    DROP COLUMN login_type;
