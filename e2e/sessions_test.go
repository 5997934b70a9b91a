package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/session"
	"entitle/store"
)

func TestSessionsSlideForwardWhenUsedAtMostOnceAMinute(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		inst := testenv.StartOn(t, db)
		token := inst.SetupOwner(t)
		client := inst.ClientWithToken(t, token)
		st := inst.Server().Store()
		tok, err := session.Parse(token)
		require.NoError(t, err)

		fresh, err := st.APIKeyByID(ctx, tok.ID)
		require.NoError(t, err)
		me, err := client.GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode())
		unchanged, err := st.APIKeyByID(ctx, tok.ID)
		require.NoError(t, err)
		assert.Equal(t, fresh.ExpiresAt, unchanged.ExpiresAt, "a use within a minute of the last writes nothing")
		assert.Equal(t, fresh.LastUsed, unchanged.LastUsed)

		// As if the session was last used two minutes ago and has an hour left.
		lastUsed := store.Now().Add(-2 * time.Minute)
		require.NoError(t, st.TouchAPIKey(ctx, tok.ID, lastUsed, store.Now().Add(time.Hour)))
		me, err = client.GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode())
		slid, err := st.APIKeyByID(ctx, tok.ID)
		require.NoError(t, err)
		assert.True(t, slid.LastUsed.After(lastUsed), "the use is recorded")
		assert.WithinDuration(t, store.Now().Add(inst.Config.SessionDuration), slid.ExpiresAt, 10*time.Second,
			"the expiry slides to a full session duration from now")
	})
}
