package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
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
	if err := translate(s.with(ctx).Where(s.lowerEmail("email")+" = "+s.lowerEmail("?"), email).Take(&u).Error); err != nil {
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

// UserSearch narrows a user list: by status when Status is set, and by every word in Words,
// each matched ignoring case against the username or the email.
type UserSearch struct {
	Status string
	Words  []string
}

// ListUsers returns a page of the users the search matches, oldest first, and how many match
// in all.
func (s *Store) ListUsers(ctx context.Context, search UserSearch, page Page) ([]User, int64, error) {
	scoped := func() *gorm.DB {
		q := s.with(ctx).Model(&User{})
		if search.Status != "" {
			q = q.Where("users.status = ?", search.Status)
		}
		for _, w := range search.Words {
			pattern := "%" + escapeLike(strings.ToLower(w)) + "%"
			q = q.Where(`(lower(users.username) LIKE ? ESCAPE '\' OR `+s.lowerEmail("users.email")+` LIKE ? ESCAPE '\')`, pattern, pattern)
		}
		return q
	}
	var count int64
	if err := scoped().Count(&count).Error; err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	users := []User{}
	if err := page.of(scoped, "users.created_at", "users.id").Find(&users).Error; err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, count, nil
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// OrganizationIDsOfUsers returns each user's organization ids, oldest membership first, in one
// query, for lists of users.
func (s *Store) OrganizationIDsOfUsers(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID][]uuid.UUID, error) {
	ids := make(map[uuid.UUID][]uuid.UUID, len(userIDs))
	for _, id := range userIDs {
		ids[id] = []uuid.UUID{}
	}
	if len(userIDs) == 0 {
		return ids, nil
	}
	var members []OrganizationMember
	err := s.with(ctx).Where("user_id IN ?", userIDs).Order("created_at, organization_id").Find(&members).Error
	if err != nil {
		return nil, fmt.Errorf("list organization ids of users: %w", err)
	}
	for _, m := range members {
		ids[m.UserID] = append(ids[m.UserID], m.OrganizationID)
	}
	return ids, nil
}
