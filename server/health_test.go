package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/server"
)

func TestReadinessFollowsTheDatabase(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		inst := testenv.StartOn(t, db)
		token := inst.SetupOwner(t)
		send := func(method, path, body string) (*http.Response, map[string]any) {
			req, err := http.NewRequest(method, inst.URL+path, strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set(server.SessionHeader, token)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var decoded map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&decoded))
			return resp, decoded
		}
		resp, _ := send(http.MethodGet, "/readyz", "")
		assert.Equal(t, http.StatusOK, resp.StatusCode)

		// The database goes away under the running server.
		require.NoError(t, inst.Server().Store().Close())
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/readyz", ""},
			{http.MethodGet, server.APIPrefix + "/users/me", ""},
			{http.MethodGet, server.APIPrefix + "/organizations/default", ""},
			{http.MethodPost, server.APIPrefix + "/organizations", `{"name":"while-down"}`},
			{http.MethodPost, server.APIPrefix + "/users/login", `{"email":"owner@example.com","password":"owner-password"}`},
		} {
			t.Run(req.method+" "+req.path+" is 503 with Retry-After while the database does not answer", func(t *testing.T) {
				resp, body := send(req.method, req.path, req.body)
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				assert.Equal(t, "The database is unavailable.", body["message"])
				assert.NotEmpty(t, resp.Header.Get("Retry-After"))
			})
		}
		resp, _ = send(http.MethodGet, "/healthz", "")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the process itself is still serving")
	})
}
