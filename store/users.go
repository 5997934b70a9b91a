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

// UserSearch narrows a user list. Every field set must match; a list matches when any of its
// values does; times are inclusive bounds, zero for none.
type UserSearch struct {
	Statuses []string
	// Words must each be in the username or the email, ignoring case.
	Words []string
	// Name is in the user's name, ignoring case.
	Name string
	// SiteRoles: any of them; empty is any role.
	SiteRoles []string
	// MatchesNone: the search asks for what no user here has (a GitHub id, an OIDC login).
	MatchesNone bool

	CreatedAfter, CreatedBefore, LastSeenAfter, LastSeenBefore time.Time
}

// ListUsers returns a page of the users the search matches, by username ignoring case (as
// Coder lists users; after_id continues after that user's username), and how many match in
// all. Usernames are unique ignoring case, on an index of lower(username).
func (s *Store) ListUsers(ctx context.Context, search UserSearch, page Page) ([]User, int64, error) {
	scoped := func() *gorm.DB {
		q := s.with(ctx).Model(&User{})
		if search.MatchesNone {
			q = q.Where("1 = 0")
		}
		if len(search.Statuses) > 0 {
			q = q.Where("users.status IN ?", search.Statuses)
		}
		if len(search.SiteRoles) > 0 {
			q = q.Where("users.site_role IN ?", search.SiteRoles)
		}
		for _, w := range search.Words {
			pattern := "%" + escapeLike(strings.ToLower(w)) + "%"
			q = q.Where(`(lower(users.username) LIKE ? ESCAPE '\' OR `+s.lowerEmail("users.email")+` LIKE ? ESCAPE '\')`, pattern, pattern)
		}
		if search.Name != "" {
			q = q.Where(`lower(users.name) LIKE ? ESCAPE '\'`, "%"+escapeLike(strings.ToLower(search.Name))+"%")
		}
		for _, bound := range []struct {
			clause string
			at     time.Time
		}{
			{"users.created_at >= ?", search.CreatedAfter},
			{"users.created_at <= ?", search.CreatedBefore},
			{"users.last_seen_at >= ?", search.LastSeenAfter},
			{"users.last_seen_at <= ?", search.LastSeenBefore},
		} {
			if !bound.at.IsZero() {
				q = q.Where(bound.clause, bound.at.UTC())
			}
		}
		return q
	}
	var count int64
	if err := scoped().Count(&count).Error; err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	users := []User{}
	if err := page.of(scoped, "lower(users.username)", "users.id").Find(&users).Error; err != nil {
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
