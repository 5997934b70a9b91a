-- +goose Up
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    username        text NOT NULL,
    email           text NOT NULL,
    hashed_password bytea NOT NULL,
    site_role       text NOT NULL CHECK (site_role IN ('owner', 'member')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_username_lower_idx ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_idx ON users (lower(email));
-- There is exactly one owner: concurrent first-user requests give one 201.
CREATE UNIQUE INDEX users_single_owner_idx ON users (site_role) WHERE site_role = 'owner';

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX organizations_name_lower_idx ON organizations (lower(name));
CREATE UNIQUE INDEX organizations_single_default_idx ON organizations (is_default) WHERE is_default;

CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_admin        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user_idx ON organization_members (user_id);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    hashed_secret bytea NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_used     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- Deployment-wide values every replica must agree on, such as the deployment id.
CREATE TABLE site_configs (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE site_configs;
DROP TABLE api_keys;
DROP TABLE organization_members;
DROP TABLE organizations;
DROP TABLE users;
