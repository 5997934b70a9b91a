package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// countLoginAttempt adds one attempt to a key's counter in a single statement, so that
// concurrent attempts on any replica each see a distinct count and none is lost. When the
// key's window has passed (its start is at or before the cutoff) the counter starts over with
// a new window at now. SQLite and PostgreSQL share the syntax; SET reads the row as it was.
const countLoginAttempt = `
INSERT INTO login_throttles (key, failures, window_start) VALUES (?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN login_throttles.window_start <= ? THEN 1
                    ELSE login_throttles.failures + 1 END,
    window_start = CASE WHEN login_throttles.window_start <= ? THEN excluded.window_start
                        ELSE login_throttles.window_start END
RETURNING key, failures, window_start`

// CountLoginAttempt counts one more login attempt against key in the window of the given
// length and returns the counter as it now stands, this attempt included. Each key is its own
// statement (never two rows in one), so concurrent calls lock one row at a time and cannot
// deadlock against each other or against DeleteExpiredLoginThrottles.
func (s *Store) CountLoginAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (LoginThrottle, error) {
	cutoff := now.Add(-window)
	var row LoginThrottle
	if err := s.with(ctx).Raw(countLoginAttempt, key, now, cutoff, cutoff).Scan(&row).Error; err != nil {
		return LoginThrottle{}, fmt.Errorf("count login attempt: %w", err)
	}
	return row, nil
}

// UncountLoginAttempt takes back one attempt counted against key, for an attempt that turned
// out not to be a failure.
func (s *Store) UncountLoginAttempt(ctx context.Context, key string) error {
	err := s.with(ctx).Model(&LoginThrottle{}).Where("key = ? AND failures > 0", key).
		UpdateColumn("failures", gorm.Expr("failures - 1")).Error
	if err != nil {
		return fmt.Errorf("uncount login attempt: %w", err)
	}
	return nil
}

// ResetLoginAttempts forgets every attempt counted against key.
func (s *Store) ResetLoginAttempts(ctx context.Context, key string) error {
	if err := s.with(ctx).Where("key = ?", key).Delete(&LoginThrottle{}).Error; err != nil {
		return fmt.Errorf("reset login attempts: %w", err)
	}
	return nil
}

// DeleteExpiredLoginThrottles deletes the counters whose window started at or before cutoff
// (they would start over at their next attempt anyway) and says how many it deleted.
func (s *Store) DeleteExpiredLoginThrottles(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.with(ctx).Where("window_start <= ?", cutoff).Delete(&LoginThrottle{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired login throttles: %w", res.Error)
	}
	return res.RowsAffected, nil
}
