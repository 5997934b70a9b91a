package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// OwnedAPIKey is an API key with its user's username, as token lists show it.
type OwnedAPIKey struct {
	APIKey   `gorm:"embedded"`
	Username string
}

// CreateAPIKey inserts a session or a token; ErrConflict when the user already has a token of
// that name. A key made without a login type is a session (as signing in makes them): it gets
// the password login type, the one scope, and the lifetime its expiry implies.
func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey) error {
	if k.LoginType == "" {
		k.LoginType = LoginTypePassword
		if k.LifetimeSeconds == 0 {
			k.LifetimeSeconds = int64(k.ExpiresAt.Sub(k.CreatedAt) / time.Second)
		}
	}
	if k.Scope == "" {
		k.Scope = ScopeAll
	}
	if err := translate(s.with(ctx).Create(k).Error); err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// APIKeyByID returns the session or token with that id.
func (s *Store) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	if err := translate(s.with(ctx).Where("id = ?", id).Take(&k).Error); err != nil {
		return APIKey{}, fmt.Errorf("select api key: %w", err)
	}
	return k, nil
}

// UserAPIKey returns the session or token with that id if it belongs to the user.
func (s *Store) UserAPIKey(ctx context.Context, userID uuid.UUID, id string) (APIKey, error) {
	var k APIKey
	if err := translate(s.with(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&k).Error); err != nil {
		return APIKey{}, fmt.Errorf("select api key of user: %w", err)
	}
	return k, nil
}

// TokenByName returns the user's token with that name (exact, as the unique index compares).
func (s *Store) TokenByName(ctx context.Context, userID uuid.UUID, name string) (APIKey, error) {
	var k APIKey
	err := s.with(ctx).Where("user_id = ? AND login_type = ? AND token_name = ?", userID, LoginTypeToken, name).Take(&k).Error
	if err := translate(err); err != nil {
		return APIKey{}, fmt.Errorf("select token by name: %w", err)
	}
	return k, nil
}

// TokensOfUser returns the user's tokens, never their sessions, oldest first.
func (s *Store) TokensOfUser(ctx context.Context, userID uuid.UUID, page TokenPage) ([]OwnedAPIKey, error) {
	return page.of(func() *gorm.DB { return s.ownedTokens(ctx).Where("api_keys.user_id = ?", userID) })
}

// AllTokens returns a page of every user's tokens, oldest first.
func (s *Store) AllTokens(ctx context.Context, page TokenPage) ([]OwnedAPIKey, error) {
	return page.of(func() *gorm.DB { return s.ownedTokens(ctx) })
}

// TokenPage is Page for tokens, whose ids are strings rather than UUIDs: the tokens after the
// one AfterID names (a keyset on created_at and id), then Offset skipped, then at most Limit.
type TokenPage struct {
	Limit   int
	Offset  int
	AfterID string
}

// of runs the page of the tokens scoped selects; scoped must build a fresh query each call.
func (p TokenPage) of(scoped func() *gorm.DB) ([]OwnedAPIKey, error) {
	q := scoped()
	if p.AfterID != "" {
		after := scoped().Select("api_keys.created_at, api_keys.id").Where("api_keys.id = ?", p.AfterID)
		q = q.Where("(api_keys.created_at, api_keys.id) > (?)", after)
	}
	return oldestFirst(limitAndOffset(q, p.Limit, p.Offset))
}

// ownedTokens selects tokens joined with their users' usernames.
func (s *Store) ownedTokens(ctx context.Context) *gorm.DB {
	return s.with(ctx).Table("api_keys").
		Select("api_keys.*, users.username").
		Joins("JOIN users ON users.id = api_keys.user_id").
		Where("api_keys.login_type = ?", LoginTypeToken)
}

func oldestFirst(query *gorm.DB) ([]OwnedAPIKey, error) {
	var keys []OwnedAPIKey
	if err := query.Order("api_keys.created_at, api_keys.id").Scan(&keys).Error; err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	return keys, nil
}

// TouchAPIKey records a use of the key and sets its expiry: a session's slides forward, a
// token's is passed back unchanged.
//
// A use is not a change of the key: it updates the key this replica keeps in memory rather
// than emptying the caches on every replica. Another replica may keep an older expiry, which
// Session checks against the database before it would refuse the key for it.
func (s *Store) TouchAPIKey(ctx context.Context, id string, lastUsed, expiresAt time.Time) error {
	err := s.with(ctx).Set(touchSetting, touchColumns{"last_used", "expires_at"}).Model(&APIKey{}).Where("id = ?", id).
		Updates(map[string]any{"last_used": lastUsed, "expires_at": expiresAt}).Error
	if err != nil {
		return fmt.Errorf("update api key: %w", err)
	}
	if !s.inTx {
		s.caches.apiKeys.Update(id, func(k APIKey) APIKey {
			k.LastUsed, k.ExpiresAt = lastUsed, expiresAt
			return k
		})
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

// DeleteUserAPIKey deletes the user's session or token with that id; ErrNotFound when the
// user has no such key. The key is refused from the next request on here, and within moments
// on every other replica (the write empties the caches everywhere).
func (s *Store) DeleteUserAPIKey(ctx context.Context, userID uuid.UUID, id string) error {
	res := s.with(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&APIKey{})
	if res.Error != nil {
		return fmt.Errorf("delete api key of user: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete api key of user: %w", ErrNotFound)
	}
	return nil
}

// Session returns the API key with that id together with its user: every signed-in request
// needs both, so both are kept in memory, and read in one query when they are not.
func (s *Store) Session(ctx context.Context, id string) (APIKey, User, error) {
	c := s.caches
	if s.inTx || !c.active.Load() {
		return s.sessionFromDatabase(ctx, id)
	}
	if kept, ok := c.apiKeys.Lookup(id); ok && !Now().Before(kept.ExpiresAt) {
		// Expired as kept; another replica may have slid it forward since. The database says.
		c.apiKeys.Remove(id)
	}
	key, err := c.apiKeys.Get(ctx, id, func(ctx context.Context) (APIKey, error) {
		usersGeneration := c.users.Generation()
		k, u, err := s.sessionFromDatabase(ctx, id)
		if err == nil {
			c.users.StoreIfCurrent(usersGeneration, u.ID, u)
		}
		return k, err
	})
	if err != nil {
		return APIKey{}, User{}, err
	}
	user, err := s.UserByID(ctx, key.UserID)
	if err != nil {
		return APIKey{}, User{}, fmt.Errorf("select session: %w", err)
	}
	return key, user, nil
}

// sessionFromDatabase is Session in one query.
func (s *Store) sessionFromDatabase(ctx context.Context, id string) (APIKey, User, error) {
	// Row is read after GORM's callbacks, so it carries its own deadline (deadline.go).
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var k APIKey
	var u User
	row := s.with(ctx).Raw(`SELECT k.id, k.hashed_secret, k.user_id, k.login_type, k.created_at, k.last_used, k.expires_at,
		u.id, u.username, u.name, u.email, u.avatar_url, u.hashed_password, u.site_role, u.status,
		u.theme_preference, u.created_at, u.updated_at, u.last_seen_at
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?`, id).Row()
	err := row.Scan(&k.ID, &k.HashedSecret, &k.UserID, &k.LoginType, &k.CreatedAt, &k.LastUsed, &k.ExpiresAt,
		&u.ID, &u.Username, &u.Name, &u.Email, &u.AvatarURL, &u.HashedPassword, &u.SiteRole, &u.Status,
		&u.ThemePreference, &u.CreatedAt, &u.UpdatedAt, &u.LastSeenAt)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, User{}, fmt.Errorf("select session: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, User{}, fmt.Errorf("select session: %w", err)
	}
	return k, u, nil
}
