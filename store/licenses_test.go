package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func TestRefreshCooldownIsOneCompareAndSet(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		t0 := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
		cooldown := time.Minute

		ok, _, err := s.ClaimRefresh(ctx, t0, cooldown)
		require.NoError(t, err)
		assert.True(t, ok, "the first refresh is allowed")

		ok, wait, err := s.ClaimRefresh(ctx, t0.Add(20*time.Second+500*time.Millisecond), cooldown)
		require.NoError(t, err)
		assert.False(t, ok, "a refresh within the cooldown is refused")
		assert.Equal(t, 39*time.Second+500*time.Millisecond, wait)

		ok, _, err = s.ClaimRefresh(ctx, t0.Add(cooldown-time.Microsecond), cooldown)
		require.NoError(t, err)
		assert.False(t, ok, "a microsecond early is still too early")

		ok, _, err = s.ClaimRefresh(ctx, t0.Add(cooldown), cooldown)
		require.NoError(t, err)
		assert.True(t, ok, "once the cooldown has passed a refresh is allowed again")
	})
}

func TestConcurrentRefreshClaimsHaveOneWinner(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		now := store.Now()
		const n = 16
		var wg sync.WaitGroup
		wins := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wins[i], _, errs[i] = s.ClaimRefresh(ctx, now, time.Minute)
			}()
		}
		wg.Wait()
		won := 0
		for i := range n {
			require.NoError(t, errs[i])
			if wins[i] {
				won++
			}
		}
		assert.Equal(t, 1, won)
	})
}

func TestTheIdenticalLicenseTokenIsAConflict(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		// Longer than a PostgreSQL btree entry may be, so the unique index must hash it.
		token := "header." + randomText(8000) + ".sig"
		l := store.License{UploadedAt: store.Now(), JWT: token, Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
		require.NoError(t, s.InsertLicense(ctx, &l))
		assert.NotZero(t, l.ID)
		again := l
		again.ID = 0
		assert.ErrorIs(t, s.InsertLicense(ctx, &again), store.ErrConflict)
		assert.ErrorIs(t, s.DeleteLicense(ctx, l.ID+1000), store.ErrNotFound)
		require.NoError(t, s.DeleteLicense(ctx, l.ID))
	})
}

func randomText(n int) string {
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, uuid.NewString()...)
	}
	return string(b[:n])
}
