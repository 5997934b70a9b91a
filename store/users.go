package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.with(ctx).Model(&User{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateUser inserts u; ErrConflict when its email or username is taken, ignoring case.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if u.Status == "" {
		u.Status = UserActive
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = Now()
		u.UpdatedAt = u.CreatedAt
	}
	if u.LastSeenAt.IsZero() {
		// Never authenticated yet: dormancy counts from creation.
		u.LastSeenAt = u.CreatedAt
	}
	if err := translate(s.with(ctx).Create(u).Error); err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByID returns the user with that id.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (User, error) {
	return cachedRead(ctx, s, s.caches.users, id, func(ctx context.Context) (User, error) {
		var u User
		if err := translate(s.with(ctx).Where("id = ?", id).Take(&u).Error); err != nil {
			return User{}, fmt.Errorf("select user by id: %w", err)
		}
		return u, nil
	})
}

// UserByEmail returns the user with that email, ignoring case.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	if err := translate(s.with(ctx).Where("lower(email) = lower(?)", email).Take(&u).Error); err != nil {
		return User{}, fmt.Errorf("select user by email: %w", err)
	}
	return u, nil
}

// UserByUsername returns the user with that username, ignoring case.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	var u User
	if err := translate(s.with(ctx).Where("lower(username) = lower(?)", username).Take(&u).Error); err != nil {
		return User{}, fmt.Errorf("select user by username: %w", err)
	}
	return u, nil
}

// TouchUser records that the user was authenticated at now. Being seen is not a change of the
// user: it updates the user this replica keeps in memory rather than emptying the caches on
// every replica. A change of anything else (a status, say) must be its own write.
func (s *Store) TouchUser(ctx context.Context, id uuid.UUID, now time.Time) error {
	// UpdateColumn: being seen is not an edit of the user, so updated_at stays.
	err := s.with(ctx).Set(touchSetting, touchColumns{"last_seen_at"}).Model(&User{}).Where("id = ?", id).
		UpdateColumn("last_seen_at", now).Error
	if err != nil {
		return fmt.Errorf("update user last seen: %w", err)
	}
	if !s.inTx {
		s.caches.users.Update(id, func(u User) User {
			u.LastSeenAt = now
			return u
		})
	}
	return nil
}
