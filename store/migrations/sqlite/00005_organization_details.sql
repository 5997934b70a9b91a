-- +goose Up
-- Coder's organization fields. The display name defaults to the name, so existing
-- organizations get theirs.
ALTER TABLE organizations ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN icon TEXT NOT NULL DEFAULT '';
UPDATE organizations SET display_name = name;

-- Lists are ordered by (created_at, id) and paged by keyset: after_id names the last row seen,
-- and the next page starts right after it in this index, at the same cost at any depth.
CREATE INDEX organizations_created_idx ON organizations (created_at, id);
CREATE INDEX organization_members_created_idx ON organization_members (organization_id, created_at, user_id);

-- +goose Down
DROP INDEX organization_members_created_idx;
DROP INDEX organizations_created_idx;
ALTER TABLE organizations DROP COLUMN icon;
ALTER TABLE organizations DROP COLUMN description;
ALTER TABLE organizations DROP COLUMN display_name;
