package entitlements_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/license"
)

func TestTheEntitlementsAreEncodedOncePerRecompute(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := &clock{now: t0}
	svc, _ := newService(t, testenv.Databases()[0], c)

	first := svc.Encoded()
	require.NotNil(t, first)
	assert.Same(t, first, svc.Encoded(), "asking again encoded again")

	t.Run("the bytes are the current entitlements as JSON, ending in a newline", func(t *testing.T) {
		require.True(t, bytes.HasSuffix(first.JSON, []byte("}\n")), "%q", first.JSON)
		var decoded license.Entitlements
		require.NoError(t, json.Unmarshal(first.JSON, &decoded))
		assert.Equal(t, svc.Current(), decoded)
	})
	t.Run("the hash is the SHA-256 of the bytes", func(t *testing.T) {
		sum := sha256.Sum256(first.JSON)
		assert.Equal(t, hex.EncodeToString(sum[:]), first.Hash)
	})
	t.Run("a recompute that changes the entitlements encodes them again", func(t *testing.T) {
		c.Set(t0.Add(time.Minute)) // refreshed_at moves
		require.NoError(t, svc.Reload(ctx))
		next := svc.Encoded()
		assert.NotEqual(t, first.Hash, next.Hash)
		var decoded license.Entitlements
		require.NoError(t, json.Unmarshal(next.JSON, &decoded))
		assert.Equal(t, t0.Add(time.Minute), decoded.RefreshedAt)
	})
}
