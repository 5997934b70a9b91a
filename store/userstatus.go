package store

import (
	"context"
	"fmt"
)

// UserCountsByStatus counts the users in each status (active, dormant, suspended); a status no
// user has is absent.
func (s *Store) UserCountsByStatus(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	if err := s.with(ctx).Model(&User{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count users by status: %w", err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		counts[r.Status] = r.N
	}
	return counts, nil
}
