package licensing

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// Coder's SDK checks X-Coder-Build-Version on GET /users/first before anything else, and the
// coder CLI prints every X-Coder-Entitlements-Warning line; both must be on the wire.
func TestCoderClientsSeeTheirHeaders(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		fresh := testenv.Start(t, db.NewConfig(t))
		get := func(t *testing.T, url, token string, method string) *http.Response {
			t.Helper()
			req, err := http.NewRequest(method, url, nil)
			require.NoError(t, err)
			if token != "" {
				req.Header.Set(server.SessionHeader, token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			return resp
		}

		t.Run("GET /users/first on a fresh server is a 404 that names the build version", func(t *testing.T) {
			resp := get(t, fresh.APIURL()+"/users/first", "", http.MethodGet)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Equal(t, fresh.Config.Version, resp.Header.Get(server.BuildVersionHeader))
		})

		d := startDeployment(t, db)
		for _, tc := range []struct{ name, method, path string }{
			{"build info", http.MethodGet, "/api/v2/buildinfo"},
			{"entitlements", http.MethodGet, "/api/v2/entitlements"},
			{"an unknown route", http.MethodGet, "/api/v2/nope"},
			{"a wrong method", http.MethodDelete, "/api/v2/licenses"},
			{"a signed-out request", http.MethodGet, "/api/v2/users/me"},
			{"the health check", http.MethodGet, "/healthz"},
			{"the readiness check", http.MethodGet, "/readyz"},
			{"Swagger UI", http.MethodGet, "/swagger/"},
			{"the spec", http.MethodGet, "/api/v2/openapi.json"},
		} {
			t.Run(tc.name+" carries X-Coder-Build-Version", func(t *testing.T) {
				resp := get(t, d.inst.URL+tc.path, "", tc.method)
				assert.Equal(t, d.inst.Config.Version, resp.Header.Get(server.BuildVersionHeader))
				if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
				}
			})
		}

		t.Run("build info has Coder's fields", func(t *testing.T) {
			resp, err := d.inst.Client.GetBuildInfoWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode())
			info := resp.JSON200
			assert.Equal(t, d.inst.URL, info.DashboardUrl, "dashboard_url defaults to the listen URL")
			assert.Equal(t, d.inst.URL+"/swagger/", info.ExternalUrl)
			assert.Regexp(t, `^v\d+\.\d+\.\d+`, info.Version)
			assert.False(t, info.WorkspaceProxy)
			assert.False(t, info.Telemetry)
			assert.Empty(t, info.UpgradeMessage)
			assert.NotEmpty(t, info.AgentApiVersion)
			assert.NotEmpty(t, info.ProvisionerApiVersion)
		})

		t.Run("the owner's signed-in responses carry one warning header line per warning", func(t *testing.T) {
			// In grace, and over its user limit: two warnings.
			now := time.Now()
			d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.LicenseExpires = jwt.NewNumericDate(now.Add(-time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(now.Add(24 * time.Hour))
				c.Features["user_limit"] = 0
				c.Features["audit_log"] = 1
			})))
			ent, err := d.owner.GetEntitlementsWithResponse(context.Background(), nil)
			require.NoError(t, err)
			require.NotEmpty(t, ent.JSON200.Warnings)
			resp := get(t, d.inst.APIURL()+"/users/me", d.ownerToken, http.MethodGet)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, ent.JSON200.Warnings, resp.Header.Values(server.EntitlementsWarningHeader))

			_, memberToken := d.inst.CreateMember(t, d.ownerToken, "plain-member")
			resp = get(t, d.inst.APIURL()+"/users/me", memberToken, http.MethodGet)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, resp.Header.Values(server.EntitlementsWarningHeader), "members are not shown the deployment's warnings")
			resp = get(t, d.inst.APIURL()+"/entitlements", "", http.MethodGet)
			assert.Empty(t, resp.Header.Values(server.EntitlementsWarningHeader), "nor are signed-out callers")
		})
	})
}
