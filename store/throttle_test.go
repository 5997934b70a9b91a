package store_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func TestLoginAttemptsAreCountedWithinAWindow(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		t0 := time.Date(2026, 11, 27, 9, 0, 0, 250000000, time.UTC)
		const window = 15 * time.Minute
		count := func(key string, at time.Time) store.LoginThrottle {
			t.Helper()
			row, err := s.CountLoginAttempt(ctx, key, at, window)
			require.NoError(t, err)
			assert.Equal(t, key, row.Key)
			return row
		}
		requireCount := func(row store.LoginThrottle, failures int, windowStart time.Time) {
			t.Helper()
			assert.Equal(t, failures, row.Failures)
			assert.True(t, windowStart.Equal(row.WindowStart), "window starts at %s, not %s", windowStart, row.WindowStart)
		}

		requireCount(count("email:a", t0), 1, t0)
		requireCount(count("email:a", t0.Add(time.Minute)), 2, t0)
		requireCount(count("email:b", t0.Add(time.Minute)), 1, t0.Add(time.Minute))
		requireCount(count("email:a", t0.Add(window-time.Microsecond)), 3, t0)
		requireCount(count("email:a", t0.Add(window)), 1, t0.Add(window))

		require.NoError(t, s.UncountLoginAttempt(ctx, "email:a"))
		require.NoError(t, s.UncountLoginAttempt(ctx, "email:a"))
		require.NoError(t, s.UncountLoginAttempt(ctx, "email:nobody"))
		requireCount(count("email:a", t0.Add(window+time.Second)), 1, t0.Add(window))

		require.NoError(t, s.ResetLoginAttempts(ctx, "email:b"))
		requireCount(count("email:b", t0.Add(2*time.Minute)), 1, t0.Add(2*time.Minute))

		deleted, err := s.DeleteExpiredLoginThrottles(ctx, t0.Add(2*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, int64(1), deleted, "only email:b's window started at or before the cutoff")
		requireCount(count("email:b", t0.Add(3*time.Minute)), 1, t0.Add(3*time.Minute))
		requireCount(count("email:a", t0.Add(window+2*time.Second)), 2, t0.Add(window))
	})
}

func TestConcurrentLoginAttemptsEachGetTheirOwnCount(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		now := store.Now()
		const n = 40
		counts := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				row, err := s.CountLoginAttempt(ctx, "addr:192.0.2.1", now, time.Minute)
				counts[i], errs[i] = row.Failures, err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		sort.Ints(counts)
		for i, c := range counts {
			assert.Equal(t, i+1, c, "counts are 1..n, each once")
		}
	})
}
