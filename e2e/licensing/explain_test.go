package licensing

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// explainOf fetches GET /entitlements/explain through client and requires 200.
func explainOf(t *testing.T, client *gen.ClientWithResponses) gen.Explanation {
	t.Helper()
	resp, err := client.GetEntitlementsExplanationWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	require.NotNil(t, resp.JSON200)
	return *resp.JSON200
}

// waitForActualUsers waits for user_limit.actual to count n users: a new user is counted by a
// recompute that runs on its own, after the request that made the user has answered.
func waitForActualUsers(t *testing.T, inst *testenv.Instance, n int64) {
	t.Helper()
	waitFor(t, 5*time.Second, 20*time.Millisecond, "user_limit.actual counting the new users", func() (bool, string) {
		ent := entitlementsOf(t, inst.Client)
		return actualUsers(ent) == n, describeFeature(ent, "user_limit")
	})
}

// requireDiagnosticsAreTheMessages checks that the diagnostics carry exactly the entitlements'
// warnings and errors, in their order.
func requireDiagnosticsAreTheMessages(t *testing.T, x gen.Explanation, ent gen.Entitlements) {
	t.Helper()
	warnings, errors := []string{}, []string{}
	for _, d := range x.Diagnostics {
		switch d.Severity {
		case "warning":
			warnings = append(warnings, d.Message)
		case "error":
			errors = append(errors, d.Message)
		default:
			t.Errorf("diagnostic %s has severity %q", d.Code, d.Severity)
		}
	}
	require.Equal(t, ent.Warnings, warnings, "warnings")
	require.Equal(t, ent.Errors, errors, "errors")
}

// changesOf renders a timeline entry's changes as "from -> to" per feature.
func changesOf(changes gen.FeatureChanges) map[string]string {
	out := map[string]string{}
	for name, c := range changes {
		out[name] = string(c.From) + " -> " + string(c.To)
	}
	return out
}

func TestExplainingEntitlements(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()
		start := time.Now().UTC().Truncate(time.Second)
		at := func(days int) time.Time { return start.Add(time.Duration(days) * 24 * time.Hour) }

		t.Run("only the owner may ask", func(t *testing.T) {
			resp, err := d.inst.Client.GetEntitlementsExplanationWithResponse(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode(), string(resp.Body))
			_, memberToken := d.inst.CreateMember(t, d.ownerToken, "bob")
			resp, err = d.inst.ClientWithToken(t, memberToken).GetEntitlementsExplanationWithResponse(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode(), string(resp.Body))
		})

		t.Run("without a license there is nothing to explain but the seats", func(t *testing.T) {
			waitForActualUsers(t, d.inst, 2)
			x := explainOf(t, d.owner)
			assert.Empty(t, x.Diagnostics)
			assert.Empty(t, x.Licenses)
			assert.Empty(t, x.Timeline)
			require.NotNil(t, x.Seats.HighWaterAt, "the stored high-water mark says when")
			assert.WithinDuration(t, time.Now(), *x.Seats.HighWaterAt, time.Minute)
			x.Seats.HighWaterAt = nil
			assert.Equal(t, gen.Seats{Active: 2, HighWaterMark: 2}, x.Seats)
		})

		// A license for one user whose paid term ends in 20 days, and a second one that starts
		// after a gap, so the first one's expiry still warns.
		first := d.upload(t, d.issuer.Sign(t, claims(withFeatures("audit_log"), func(c *license.Claims) {
			c.Features["user_limit"] = 1
			c.LicenseExpires = jwt.NewNumericDate(at(20))
			c.ExpiresAt = jwt.NewNumericDate(at(27))
		})))
		second := d.upload(t, d.issuer.Sign(t, claims(withFeatures("scim"), func(c *license.Claims) {
			c.NotBefore = jwt.NewNumericDate(at(25))
			c.LicenseExpires = jwt.NewNumericDate(at(120))
			c.ExpiresAt = jwt.NewNumericDate(at(127))
		})))

		t.Run("every warning is a diagnostic with its code, in the entitlements' order", func(t *testing.T) {
			ent := entitlementsOf(t, d.inst.Client)
			x := explainOf(t, d.owner)
			requireDiagnosticsAreTheMessages(t, x, ent)
			require.Len(t, x.Diagnostics, 2, "%+v", x.Diagnostics)

			expiring := x.Diagnostics[0]
			assert.Equal(t, gen.DiagnosticCode("license_expiring"), expiring.Code)
			assert.Equal(t, "Your license expires in 20 days.", expiring.Message)
			require.NotNil(t, expiring.At)
			assert.Equal(t, at(20), *expiring.At, "when the paid term ends")
			require.NotNil(t, expiring.LicenseId)
			assert.Equal(t, first.Id, *expiring.LicenseId)

			over := x.Diagnostics[1]
			assert.Equal(t, gen.DiagnosticCode("user_limit_exceeded"), over.Code)
			assert.Equal(t, "Your deployment has 2 active users but is only licensed for 1.", over.Message)
			require.NotNil(t, over.Feature)
			assert.Equal(t, "user_limit", *over.Feature)
		})

		t.Run("each license says whether it counts and why", func(t *testing.T) {
			x := explainOf(t, d.owner)
			require.Len(t, x.Licenses, 2)
			assert.Equal(t, first.Id, x.Licenses[0].Id)
			assert.Equal(t, first.Uuid, x.Licenses[0].Uuid)
			assert.Equal(t, gen.ExplainedLicenseStatus("active"), x.Licenses[0].Status)
			assert.True(t, x.Licenses[0].Counts)
			require.NotNil(t, x.Licenses[0].Reason)
			assert.Contains(t, *x.Licenses[0].Reason, at(20).Format(time.RFC3339))

			assert.Equal(t, second.Id, x.Licenses[1].Id)
			assert.Equal(t, gen.ExplainedLicenseStatus("not_yet_valid"), x.Licenses[1].Status)
			assert.False(t, x.Licenses[1].Counts)
			require.NotNil(t, x.Licenses[1].Reason)
			assert.Contains(t, *x.Licenses[1].Reason, "Starts counting at "+at(25).Format(time.RFC3339))
		})

		t.Run("the timeline lists every start, grace and expiry with what it changes", func(t *testing.T) {
			x := explainOf(t, d.owner)
			type entry struct {
				At      time.Time
				Event   string
				License int32
				Changes map[string]string
			}
			var got []entry
			for _, ev := range x.Timeline {
				got = append(got, entry{ev.At, string(ev.Event), ev.LicenseId, changesOf(ev.Changes)})
			}
			assert.Equal(t, []entry{
				{at(20), "enters_grace", first.Id, map[string]string{"audit_log": "entitled -> grace_period", "user_limit": "entitled -> grace_period"}},
				{at(25), "starts", second.Id, map[string]string{"scim": "not_entitled -> entitled"}},
				{at(27), "expires", first.Id, map[string]string{"audit_log": "grace_period -> not_entitled", "user_limit": "grace_period -> not_entitled"}},
				{at(120), "enters_grace", second.Id, map[string]string{"scim": "entitled -> grace_period"}},
				{at(127), "expires", second.Id, map[string]string{"scim": "grace_period -> not_entitled"}},
			}, got)
			limits := x.Timeline[2].Changes["user_limit"]
			require.NotNil(t, limits.FromLimit)
			assert.Equal(t, int64(1), *limits.FromLimit)
			assert.Nil(t, limits.ToLimit, "no limit once the license is gone")
		})

		t.Run("the seats are counted against the limit", func(t *testing.T) {
			x := explainOf(t, d.owner)
			require.NotNil(t, x.Seats.Limit)
			assert.Equal(t, int64(1), *x.Seats.Limit)
			assert.Equal(t, int64(2), x.Seats.Active)
			assert.Equal(t, int64(0), x.Seats.Dormant)
			assert.Equal(t, int64(0), x.Seats.Suspended)
		})

		t.Run("a license whose key is removed is an error naming it, and listed as invalid", func(t *testing.T) {
			retired := testenv.NewIssuer(t, d.issuer.KeysDir, "retired")
			third := d.upload(t, retired.Sign(t, claims(withFeatures("browser_only"))))
			require.NoError(t, os.Remove(filepath.Join(d.issuer.KeysDir, "retired.pem")))
			resp, err := d.owner.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))

			ent := entitlementsOf(t, d.inst.Client)
			x := explainOf(t, d.owner)
			requireDiagnosticsAreTheMessages(t, x, ent)
			var invalid *gen.Diagnostic
			for i := range x.Diagnostics {
				if x.Diagnostics[i].Code == "license_invalid" {
					invalid = &x.Diagnostics[i]
				}
			}
			require.NotNil(t, invalid, "%+v", x.Diagnostics)
			assert.Equal(t, gen.DiagnosticSeverity("error"), invalid.Severity)
			require.NotNil(t, invalid.LicenseId)
			assert.Equal(t, third.Id, *invalid.LicenseId)
			require.Len(t, x.Licenses, 3)
			assert.Equal(t, gen.ExplainedLicenseStatus("invalid"), x.Licenses[2].Status)
			assert.False(t, x.Licenses[2].Counts)
			require.NotNil(t, x.Licenses[2].Reason)
			assert.Contains(t, *x.Licenses[2].Reason, "retired")
		})
	})
}

func TestTheSpecListsEveryDiagnosticCode(t *testing.T) {
	spec, err := server.LoadSpec()
	require.NoError(t, err)
	schema, ok := spec.Doc.Components.Schemas["DiagnosticCode"]
	require.True(t, ok, "openapi.yaml has a DiagnosticCode schema")
	var enum []string
	for _, v := range schema.Value.Enum {
		enum = append(enum, v.(string))
	}
	var codes []string
	for _, c := range license.Codes() {
		codes = append(codes, string(c))
	}
	assert.Equal(t, codes, enum, "openapi.yaml's enum is the codes the server gives, in the same order")
}
