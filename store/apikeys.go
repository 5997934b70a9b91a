package store

import (
	"context"
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
