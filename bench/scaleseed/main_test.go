package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// What the seeder writes must read back through entitle's own API, answers validated against
// openapi.yaml, on both databases: otherwise the scale figures would measure rows entitle never
// writes.
func TestSeededRowsReadBackThroughTheAPI(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		cfg := db.NewConfig(t)
		cfg.LicenseKeysDir = t.TempDir()
		inst := testenv.Start(t, cfg)
		token := inst.SetupOwner(t)
		client := inst.ClientWithToken(t, token)
		ctx := context.Background()
		target := []string{"-sqlite-dir", cfg.DataDir}
		if cfg.PostgresURL != "" {
			target = []string{"-postgres-url", cfg.PostgresURL}
		}

		require.NoError(t, run(ctx, append([]string{"organizations", "-from", "1", "-to", "40"}, target...)))
		require.NoError(t, run(ctx, append([]string{"organizations", "-from", "41", "-to", "50"}, target...)))

		t.Run("every organization is listed in the order of its number", func(t *testing.T) {
			var list []gen.Organization
			getJSON(t, inst, token, "/organizations", &list)
			var seeded []string
			for _, o := range list {
				if !o.IsDefault {
					seeded = append(seeded, o.Name)
				}
			}
			want := make([]string, 50)
			for i := range want {
				want[i] = fmt.Sprintf("scale-%d", i+1)
			}
			assert.Equal(t, want, seeded)
		})
		t.Run("organization n is found by its id", func(t *testing.T) {
			got, err := client.GetOrganizationWithResponse(ctx, OrganizationID(37).String())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
			assert.Equal(t, "scale-37", got.JSON200.Name)
			assert.False(t, got.JSON200.IsDefault)
		})
		t.Run("the owner is a member of every one", func(t *testing.T) {
			me, err := client.GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Len(t, me.JSON200.OrganizationIds, 51)
		})

		require.NoError(t, run(ctx, append([]string{"licenses", "-count", "5", "-keys-dir", cfg.LicenseKeysDir}, target...)))
		t.Run("the licenses verify and count after a refresh", func(t *testing.T) {
			refreshed, err := client.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, refreshed.StatusCode(), string(refreshed.Body))
			var licenses []gen.License
			getJSON(t, inst, token, "/licenses", &licenses)
			assert.Len(t, licenses, 5)
			ent, err := client.GetEntitlementsWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, ent.StatusCode(), string(ent.Body))
			assert.True(t, ent.JSON200.HasLicense)
			assert.Empty(t, ent.JSON200.Errors, "no license failed to verify")
		})
	})
}

// getJSON GETs an API path as the signed-in owner through the instance's validating doer and
// decodes the 200 answer. The two list routes go through here rather than the generated client
// because their query parameters (paging) change its signatures.
func getJSON(t *testing.T, inst *testenv.Instance, token, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, inst.APIURL()+path, nil)
	require.NoError(t, err)
	req.Header.Set(server.SessionHeader, token)
	resp, err := inst.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, json.Unmarshal(body, out))
}
