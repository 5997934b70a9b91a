package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CreateAPIKey inserts a session.
func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey) error {
	if err := translate(s.with(ctx).Create(k).Error); err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// APIKeyByID returns the session with that id.
func (s *Store) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	if err := translate(s.with(ctx).Where("id = ?", id).Take(&k).Error); err != nil {
		return APIKey{}, fmt.Errorf("select api key: %w", err)
	}
	return k, nil
}

// TouchAPIKey records a use of the session and slides its expiry forward.
func (s *Store) TouchAPIKey(ctx context.Context, id string, lastUsed, expiresAt time.Time) error {
	err := s.with(ctx).Model(&APIKey{}).Where("id = ?", id).
		Updates(map[string]any{"last_used": lastUsed, "expires_at": expiresAt}).Error
	if err != nil {
		return fmt.Errorf("update api key: %w", err)
	}
	return nil
}

// DeleteAPIKey ends a session; deleting one that is already gone is not an error.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	if err := s.with(ctx).Where("id = ?", id).Delete(&APIKey{}).Error; err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	return nil
}

// Session returns the API key with that id together with its user, in one query: every
// signed-in request needs both.
func (s *Store) Session(ctx context.Context, id string) (APIKey, User, error) {
	var k APIKey
	var u User
	row := s.with(ctx).Raw(`SELECT k.id, k.hashed_secret, k.user_id, k.created_at, k.last_used, k.expires_at,
		u.id, u.username, u.email, u.hashed_password, u.site_role, u.created_at, u.updated_at
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?`, id).Row()
	err := row.Scan(&k.ID, &k.HashedSecret, &k.UserID, &k.CreatedAt, &k.LastUsed, &k.ExpiresAt,
		&u.ID, &u.Username, &u.Email, &u.HashedPassword, &u.SiteRole, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, User{}, fmt.Errorf("select session: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, User{}, fmt.Errorf("select session: %w", err)
	}
	return k, u, nil
}
