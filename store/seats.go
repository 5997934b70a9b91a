package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"
)

// Seats: users are active, dormant (not authenticated for a long time) or suspended. Only active
// users take a seat of user_limit. Every status change is a GORM update of the users row, never
// raw SQL, so that anything watching writes to users (a cache of sessions) sees it.

// CountActiveUsers returns how many users are active: the seats user_limit counts.
func (s *Store) CountActiveUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.with(ctx).Model(&User{}).Where("status = ?", UserActive).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count active users: %w", err)
	}
	return n, nil
}

// SetUserStatus sets the user's status (and updated_at) and returns the user as they are now;
// ErrNotFound when there is no such user.
func (s *Store) SetUserStatus(ctx context.Context, id uuid.UUID, status string, now time.Time) (User, error) {
	res := s.with(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "updated_at": now})
	if err := translate(res.Error); err != nil {
		return User{}, fmt.Errorf("update user status: %w", err)
	}
	if res.RowsAffected == 0 {
		return User{}, fmt.Errorf("update user status: %w", ErrNotFound)
	}
	return s.UserByID(ctx, id)
}

// ActivateDormantUser makes a dormant user active again, as authenticating does, and records
// that they were seen at now. It reports whether it changed anything: false when the user was
// not dormant, for instance because a concurrent request (on any replica) woke them first, so
// exactly one caller sees the change.
func (s *Store) ActivateDormantUser(ctx context.Context, id uuid.UUID, now time.Time) (bool, error) {
	res := s.with(ctx).Model(&User{}).Where("id = ? AND status = ?", id, UserDormant).
		Updates(map[string]any{"status": UserActive, "updated_at": now, "last_seen_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("activate dormant user: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// MarkDormantUsers makes dormant every active user last seen before cutoff, in one UPDATE, and
// returns them as they are now. The condition is checked by the UPDATE itself, so replicas
// running this at once each mark (and return) a different set of users, never one user twice,
// and a user authenticated since the cutoff is never marked.
func (s *Store) MarkDormantUsers(ctx context.Context, cutoff, now time.Time) ([]User, error) {
	var marked []User
	res := s.with(ctx).Model(&marked).Clauses(clause.Returning{}).
		Where("status = ? AND last_seen_at < ?", UserActive, cutoff).
		Updates(map[string]any{"status": UserDormant, "updated_at": now})
	if res.Error != nil {
		return nil, fmt.Errorf("mark dormant users: %w", res.Error)
	}
	return marked, nil
}

// raiseSeatHighWater keeps the most active users seen at once: one upsert that writes only
// when active is above the mark, so concurrent callers on any replicas can only raise it.
// SQLite and PostgreSQL share the syntax.
const raiseSeatHighWater = `
INSERT INTO seat_high_water (id, active_users, recorded_at) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET active_users = excluded.active_users, recorded_at = excluded.recorded_at
WHERE seat_high_water.active_users < excluded.active_users`

// RaiseSeatHighWater records that active users were counted at once at at, if that is more
// than ever before.
func (s *Store) RaiseSeatHighWater(ctx context.Context, active int64, at time.Time) error {
	if err := s.with(ctx).Exec(raiseSeatHighWater, active, at).Error; err != nil {
		return fmt.Errorf("raise seat high-water mark: %w", err)
	}
	return nil
}

// SeatCounts is how the deployment's users sit against user_limit: how many are in each status,
// and the most ever active at once (zero, with a zero time, before the first count).
type SeatCounts struct {
	Active        int64
	Dormant       int64
	Suspended     int64
	HighWaterMark int64
	HighWaterAt   time.Time
}

// SeatCounts counts the users by status and reads the seat high-water mark.
func (s *Store) SeatCounts(ctx context.Context) (SeatCounts, error) {
	var byStatus []struct {
		Status string
		N      int64
	}
	err := s.with(ctx).Model(&User{}).Select("status, count(*) AS n").Group("status").Scan(&byStatus).Error
	if err != nil {
		return SeatCounts{}, fmt.Errorf("count users by status: %w", err)
	}
	var c SeatCounts
	for _, row := range byStatus {
		switch row.Status {
		case UserActive:
			c.Active = row.N
		case UserDormant:
			c.Dormant = row.N
		case UserSuspended:
			c.Suspended = row.N
		}
	}
	var mark []SeatHighWater
	if err := s.with(ctx).Where("id = 1").Limit(1).Find(&mark).Error; err != nil {
		return SeatCounts{}, fmt.Errorf("read seat high-water mark: %w", err)
	}
	if len(mark) == 1 {
		c.HighWaterMark, c.HighWaterAt = mark[0].ActiveUsers, mark[0].RecordedAt.UTC()
	}
	return c, nil
}
