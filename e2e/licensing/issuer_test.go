// Package licensing drives the licenses and entitlements routes through the front door: real
// servers (in-process, and as separate processes sharing one PostgreSQL database), the generated
// client, and licenses signed in the test with keys the test makes.
package licensing

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// claims is a license that passes every upload check: paid for 90 days (so no expiry warning),
// then 7 days of grace; change reads and returns it for tweaks.
func claims(change ...func(*license.Claims)) license.Claims {
	now := time.Now()
	c := license.Claims{
		IssuedAt:       jwt.NewNumericDate(now),
		NotBefore:      jwt.NewNumericDate(now.Add(-time.Minute)),
		LicenseExpires: jwt.NewNumericDate(now.Add(90 * 24 * time.Hour)),
		ExpiresAt:      jwt.NewNumericDate(now.Add(97 * 24 * time.Hour)),
		ID:             uuid.NewString(),
		Issuer:         "entitle-tests",
		AccountType:    "organization",
		AccountID:      "acme",
		Version:        license.SupportedVersion,
		Features:       map[string]int64{},
	}
	for _, f := range change {
		f(&c)
	}
	return c
}

// withFeatures grants the named features (value 1).
func withFeatures(names ...string) func(*license.Claims) {
	return func(c *license.Claims) {
		for _, n := range names {
			c.Features[n] = 1
		}
	}
}

// allFeatures grants every feature but user_limit.
func allFeatures(c *license.Claims) { c.AllFeatures = true }

// payloadOf is the token's payload segment, base64url-decoded: what `claims` must echo.
func payloadOf(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "token %q is not a compact JWT", token)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return b
}

// deployment is one server under test with its trusted issuer and owner.
type deployment struct {
	inst   *testenv.Instance
	issuer *testenv.Issuer
	owner  *gen.ClientWithResponses
	// ownerToken signs in as the owner.
	ownerToken string
}

// startDeployment starts a server on a fresh database of kind db that trusts a fresh issuer,
// and sets up its owner. configure may adjust the configuration first.
func startDeployment(t *testing.T, db testenv.Database, configure ...func(*server.Config)) *deployment {
	t.Helper()
	is := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := db.NewConfig(t)
	cfg.LicenseKeysDir = is.KeysDir
	for _, f := range configure {
		f(&cfg)
	}
	inst := testenv.Start(t, cfg)
	// Runs before the server's Stop: parked keep-alive connections would otherwise hold up
	// the graceful drain.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	token := inst.SetupOwner(t)
	return &deployment{inst: inst, issuer: is, owner: inst.ClientWithToken(t, token), ownerToken: token}
}

// upload adds a license as the owner and requires 201.
func (d *deployment) upload(t *testing.T, token string) gen.License {
	t.Helper()
	resp, err := d.owner.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	require.NotNil(t, resp.JSON201)
	return *resp.JSON201
}

// entitlementsOf fetches GET /entitlements without signing in.
func entitlementsOf(t *testing.T, client *gen.ClientWithResponses) gen.Entitlements {
	t.Helper()
	resp, err := client.GetEntitlementsWithResponse(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	require.NotNil(t, resp.JSON200)
	return *resp.JSON200
}

// deploymentID is the id /buildinfo reports.
func deploymentID(t *testing.T, client *gen.ClientWithResponses) string {
	t.Helper()
	resp, err := client.GetBuildInfoWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return resp.JSON200.DeploymentId.String()
}

// waitFor polls cond every interval until it holds or within has passed, and returns how long
// it took; on timeout it fails with cond's last description of what it saw.
func waitFor(t *testing.T, within, interval time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v; last seen: %s", what, within, seen)
		}
		time.Sleep(interval)
	}
}

// describeFeature renders one feature for failure messages.
func describeFeature(ent gen.Entitlements, name string) string {
	f, ok := ent.Features[name]
	if !ok {
		return name + " missing"
	}
	s := fmt.Sprintf("%s=%s enabled=%v", name, f.Entitlement, f.Enabled)
	if f.Limit != nil {
		s += fmt.Sprintf(" limit=%d", *f.Limit)
	}
	if f.Actual != nil {
		s += fmt.Sprintf(" actual=%d", *f.Actual)
	}
	return s + fmt.Sprintf(" has_license=%v warnings=%q errors=%q", ent.HasLicense, ent.Warnings, ent.Errors)
}

// allFeatureNames is the contract's list of known features.
var allFeatureNames = []string{
	"user_limit", "audit_log", "browser_only", "scim", "template_rbac", "high_availability",
	"multiple_external_auth", "external_provisioner_daemons", "appearance",
	"advanced_template_scheduling", "workspace_proxy", "user_role_management",
	"external_token_encryption", "workspace_batch_actions", "access_control",
	"control_shared_ports", "oauth2_provider", "custom_roles", "multiple_organizations",
	"workspace_prebuilds",
}
