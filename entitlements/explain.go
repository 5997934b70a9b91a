package entitlements

import (
	"context"
	"slices"
	"time"

	"entitle/license"
)

// Explain says why the current entitlements are what they are and when they will change, from
// the licenses and usage they were computed from, at the service's clock's now. The seat counts
// by status are read fresh.
func (s *Service) Explain(ctx context.Context) (license.Explanation, error) {
	snap := s.current.Load()
	x := license.Explain(snap.stored, s.now(), snap.usage)
	if err := s.countSeats(ctx, &x.Seats); err != nil {
		return license.Explanation{}, err
	}
	return x, nil
}

// Preview explains the entitlements as they are and as they would be with candidate added,
// without storing or changing anything. The candidate is listed with id 0.
func (s *Service) Preview(ctx context.Context, candidate *license.License) (before, after license.Explanation, err error) {
	snap := s.current.Load()
	now := s.now()
	with := append(slices.Clone(snap.stored), license.Stored{ID: 0, UUID: candidate.UUID, License: candidate})
	before = license.Explain(snap.stored, now, snap.usage)
	after = license.Explain(with, now, snap.usage)
	if err := s.countSeats(ctx, &before.Seats); err != nil {
		return license.Explanation{}, license.Explanation{}, err
	}
	after.Seats = before.Seats
	after.Seats.Limit = after.Entitlements.Features["user_limit"].Limit
	return before, after, nil
}

// countSeats fills in the dormant and suspended users, which entitlements do not count, and
// the stored seat high-water mark (the most users ever active at once, and when).
func (s *Service) countSeats(ctx context.Context, seats *license.Seats) error {
	counts, err := s.cfg.Store.SeatCounts(ctx)
	if err != nil {
		return err
	}
	seats.Dormant = counts.Dormant
	seats.Suspended = counts.Suspended
	if counts.HighWaterMark > seats.HighWaterMark {
		seats.HighWaterMark = counts.HighWaterMark
	}
	if !counts.HighWaterAt.IsZero() {
		at := counts.HighWaterAt.UTC()
		seats.HighWaterAt = &at
	}
	return nil
}

func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}
