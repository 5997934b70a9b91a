package license

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The sweep stands in for evaluating every license just before and at each moment, so it must
// give the very changes that would, for any set of licenses: overlapping terms, moments that
// coincide, licenses without nbf or license_expires, ties between user limits, limits that do
// and do not cover the active users.
func TestTheSweepGivesTheChangesEvaluatingAtEachMomentGives(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	names := FeatureNames()
	rng := rand.New(rand.NewPCG(1, 2))
	day := func() time.Time { return now.Add(time.Duration(rng.IntN(40)-10) * 24 * time.Hour) }
	moments, changed := 0, 0
	for round := range 500 {
		n := 1 + rng.IntN(12)
		stored := make([]Stored, n)
		for i := range stored {
			id := uuid.New()
			features := map[string]int64{}
			for _, name := range names {
				if rng.IntN(4) == 0 {
					features[name] = 1
				}
			}
			if rng.IntN(2) == 0 {
				features[featureUserLimit] = []int64{5, 50, 50, 100, 500}[rng.IntN(5)]
			}
			claims := Claims{ID: id.String(), Version: SupportedVersion, Trial: rng.IntN(5) == 0,
				FeatureSet: []string{"", "enterprise", "premium"}[rng.IntN(3)], Features: features,
				IssuedAt: jwt.NewNumericDate(day())}
			if rng.IntN(6) != 0 {
				claims.NotBefore = jwt.NewNumericDate(day())
			}
			if rng.IntN(8) != 0 {
				claims.ExpiresAt = jwt.NewNumericDate(day())
			}
			if rng.IntN(6) != 0 {
				claims.LicenseExpires = jwt.NewNumericDate(day())
			}
			stored[i] = Stored{ID: int64(i + 1), UUID: id, License: &License{UUID: id, Claims: claims}}
		}
		usage := Usage{ActiveUsers: []int64{0, 7, 50, 200}[rng.IntN(4)], Replicas: 1}
		p := Prepare(stored)
		events := allLicenseChanges(p.verified, now)
		got := changesAtMoments(p, now, usage, events)

		var want []time.Time
		for _, e := range events {
			if e.at.After(now) && !slices.ContainsFunc(want, e.at.Equal) {
				want = append(want, e.at)
			}
		}
		require.Len(t, got, len(want), "round %d: one entry per moment", round)
		for _, at := range want {
			before := evaluate(p, at.Add(-time.Nanosecond), usage).ent
			after := evaluate(p, at, usage).ent
			require.Equal(t, FeatureChanges(before, after), got[at], "round %d, moment %s:\n%s", round, at, describe(stored))
			moments++
			if len(got[at]) > 0 {
				changed++
			}
		}
	}
	require.Greater(t, changed, 500, "few moments changed anything (%d of %d): the comparison proves little", changed, moments)
}

func describe(stored []Stored) string {
	var s string
	for _, l := range stored {
		c := l.License.Claims
		s += fmt.Sprintf("license %d: nbf %v exp %v paid %v features %v\n", l.ID, c.NotBefore, c.ExpiresAt, c.LicenseExpires, c.Features)
	}
	return s
}
