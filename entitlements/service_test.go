package entitlements_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/entitlements"
	"entitle/internal/testenv"
	"entitle/store"
)

const haWithoutLicense = "You have multiple replicas but high availability is an Enterprise feature."

// clock is a settable time source for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newService opens a fresh database of kind db and starts an entitlements service on it at
// the clock's time, without its Run loop.
func newService(t *testing.T, db testenv.Database, c *clock) (*entitlements.Service, *store.Store) {
	t.Helper()
	ctx := context.Background()
	cfg := db.NewConfig(t)
	st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	svc, err := entitlements.New(ctx, entitlements.Config{
		Store:    st,
		KeysDir:  t.TempDir(),
		Interval: time.Hour,
		Logger:   slog.New(slog.DiscardHandler),
		Now:      c.Now,
	})
	require.NoError(t, err)
	return svc, st
}

func TestHeartbeatsRecountTheReplicas(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	t.Run("on PostgreSQL", func(t *testing.T) {
		c := &clock{now: t0}
		svc, st := newService(t, testenv.Databases()[1], c)
		require.Empty(t, svc.Current().Errors, "one replica alone is fine")

		// Another replica beats at t0 and then vanishes: it never leaves and never announces.
		other := store.Replica{ID: uuid.New(), Hostname: "other", StartedAt: t0, LastSeenAt: t0}
		require.NoError(t, st.Heartbeat(ctx, other))

		t.Run("a replica that appeared is counted at the next heartbeat", func(t *testing.T) {
			c.Set(t0.Add(time.Second))
			entitlements.Beat(svc, ctx)
			assert.Equal(t, []string{haWithoutLicense}, svc.Current().Errors)
		})
		t.Run("it is still counted when its heartbeat is exactly as old as the TTL", func(t *testing.T) {
			c.Set(t0.Add(entitlements.ReplicaTTL))
			entitlements.Beat(svc, ctx)
			assert.Equal(t, []string{haWithoutLicense}, svc.Current().Errors)
		})
		t.Run("it drops out at the first heartbeat after its last one expired", func(t *testing.T) {
			c.Set(t0.Add(entitlements.ReplicaTTL + time.Microsecond))
			entitlements.Beat(svc, ctx)
			assert.Empty(t, svc.Current().Errors)
		})
	})

	t.Run("on SQLite, which serves one replica by design, another replica's row is never counted", func(t *testing.T) {
		c := &clock{now: t0}
		svc, st := newService(t, testenv.Databases()[0], c)
		require.NoError(t, st.Heartbeat(ctx, store.Replica{ID: uuid.New(), Hostname: "other", StartedAt: t0, LastSeenAt: t0}))
		c.Set(t0.Add(time.Second))
		entitlements.Beat(svc, ctx)
		assert.Empty(t, svc.Current().Errors)
	})
}
