package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

func TestReadinessFollowsTheDatabase(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		inst := testenv.StartOn(t, db)
		get := func(path string) (int, map[string]any) {
			resp, err := http.Get(inst.URL + path)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			return resp.StatusCode, body
		}
		status, _ := get("/readyz")
		assert.Equal(t, http.StatusOK, status)

		// The database goes away under the running server.
		require.NoError(t, inst.Server().Store().Close())
		status, body := get("/readyz")
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, "Not ready.", body["message"])
		status, _ = get("/healthz")
		assert.Equal(t, http.StatusOK, status, "the process itself is still serving")
	})
}
