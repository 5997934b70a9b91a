package entitlements_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func addUser(t *testing.T, st *store.Store, name, status string) {
	t.Helper()
	require.NoError(t, st.CreateUser(context.Background(), &store.User{
		ID: uuid.New(), Username: name, Email: name + "@example.com", SiteRole: store.RoleMember, Status: status,
	}))
}

func TestTheETagChangesExactlyWhenTheEntitlementsDo(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := &clock{now: t0}
	svc, st := newService(t, testenv.Databases()[0], c)
	first := svc.State()
	require.NotEmpty(t, first.ETag)
	assert.Regexp(t, `^"[0-9a-f]+"$`, first.ETag, "a strong entity tag")

	t.Run("a recompute that changes nothing keeps the tag and wakes no one", func(t *testing.T) {
		c.Set(t0.Add(10 * time.Minute))
		require.NoError(t, svc.Reload(ctx))
		again := svc.State()
		assert.Equal(t, first.ETag, again.ETag)
		assert.False(t, closed(first.Changed), "watchers stay asleep")
		assert.True(t, again.Entitlements.RefreshedAt.After(first.Entitlements.RefreshedAt), "refreshed_at still moves")
	})

	t.Run("a change gives a new tag and wakes the watchers of the old one", func(t *testing.T) {
		addUser(t, st, "bob", store.UserActive)
		require.NoError(t, svc.Reload(ctx))
		changed := svc.State()
		assert.NotEqual(t, first.ETag, changed.ETag)
		assert.True(t, closed(first.Changed), "the old channel is closed")
		assert.False(t, closed(changed.Changed), "the new one waits for the next change")
		assert.Equal(t, int64(1), *changed.Entitlements.Features["user_limit"].Actual)
	})
}

func TestExplainCountsSeatsByStatus(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	svc, st := newService(t, testenv.Databases()[0], c)
	addUser(t, st, "ann", store.UserActive)
	addUser(t, st, "bob", store.UserDormant)
	addUser(t, st, "cat", store.UserSuspended)
	addUser(t, st, "dan", store.UserSuspended)
	require.NoError(t, svc.Reload(ctx))

	x, err := svc.Explain(ctx)
	require.NoError(t, err)
	assert.Equal(t, *svc.Current().Features["user_limit"].Actual, x.Seats.Active, "active is what user_limit.actual counts")
	assert.Equal(t, int64(1), x.Seats.Dormant)
	assert.Equal(t, int64(2), x.Seats.Suspended)
	assert.Empty(t, x.Timeline)
}
