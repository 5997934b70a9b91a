package store

import (
	"context"
	"fmt"
	"time"
)

// InsertLicense stores l and fills in its id; ErrConflict when the identical token is stored.
func (s *Store) InsertLicense(ctx context.Context, l *License) error {
	if err := translate(s.with(ctx).Create(l).Error); err != nil {
		return fmt.Errorf("insert license: %w", err)
	}
	return nil
}

// Licenses returns every stored license by id.
func (s *Store) Licenses(ctx context.Context) ([]License, error) {
	var ls []License
	if err := s.with(ctx).Order("id").Find(&ls).Error; err != nil {
		return nil, fmt.Errorf("list licenses: %w", err)
	}
	return ls, nil
}

// LicensesPage returns the licenses by id: those after afterID (the id of the last license seen,
// a keyset on the primary key), then offset skipped, then at most limit (0: no limit).
func (s *Store) LicensesPage(ctx context.Context, limit, offset int, afterID int32) ([]License, error) {
	ls := []License{}
	q := s.with(ctx).Where("id > ?", afterID).Order("id")
	if err := limitAndOffset(q, limit, offset).Find(&ls).Error; err != nil {
		return nil, fmt.Errorf("list a page of licenses: %w", err)
	}
	return ls, nil
}

// DeleteLicense removes the license with that id; ErrNotFound when there is none.
func (s *Store) DeleteLicense(ctx context.Context, id int32) error {
	res := s.with(ctx).Where("id = ?", id).Delete(&License{})
	if res.Error != nil {
		return fmt.Errorf("delete license: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete license %d: %w", id, ErrNotFound)
	}
	return nil
}

// ClaimRefresh takes the deployment-wide right to an explicit refresh when none ran within
// cooldown before now. It is one compare-and-set UPDATE, so of any number of concurrent callers
// on any replicas exactly one wins. A loser learns how long until the next refresh is allowed.
func (s *Store) ClaimRefresh(ctx context.Context, now time.Time, cooldown time.Duration) (bool, time.Duration, error) {
	res := s.with(ctx).Model(&EntitlementsRefresh{}).
		Where("id = 1 AND refreshed_at <= ?", now.Add(-cooldown)).
		Update("refreshed_at", now)
	if res.Error != nil {
		return false, 0, fmt.Errorf("claim entitlements refresh: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return true, 0, nil
	}
	var last EntitlementsRefresh
	if err := s.with(ctx).Where("id = 1").Take(&last).Error; err != nil {
		return false, 0, fmt.Errorf("read last entitlements refresh: %w", err)
	}
	// A caller whose clock read came a moment before the winner's would otherwise be told to
	// wait a little longer than the whole cooldown.
	return false, min(last.RefreshedAt.Add(cooldown).Sub(now), cooldown), nil
}

// Heartbeat records that the replica is alive.
func (s *Store) Heartbeat(ctx context.Context, r Replica) error {
	res := s.with(ctx).Model(&Replica{}).Where("id = ?", r.ID).Update("last_seen_at", r.LastSeenAt)
	if res.Error != nil {
		return fmt.Errorf("update replica heartbeat: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		if err := s.with(ctx).Create(&r).Error; err != nil {
			return fmt.Errorf("insert replica: %w", err)
		}
	}
	return nil
}

// CountReplicas counts the replicas seen at or after since.
func (s *Store) CountReplicas(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	if err := s.with(ctx).Model(&Replica{}).Where("last_seen_at >= ?", since).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count replicas: %w", err)
	}
	return n, nil
}

// RemoveReplica forgets a replica that is stopping, along with any long dead.
func (s *Store) RemoveReplica(ctx context.Context, r Replica, deadBefore time.Time) error {
	if err := s.with(ctx).Where("id = ? OR last_seen_at < ?", r.ID, deadBefore).Delete(&Replica{}).Error; err != nil {
		return fmt.Errorf("delete replica: %w", err)
	}
	return nil
}
