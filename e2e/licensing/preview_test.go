package licensing

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
)

// deploymentState is everything a preview must leave as it found it.
type deploymentState struct {
	Licenses     string
	Entitlements string
	ETag         string
	// Audit is GET /audit: its count and every entry.
	Audit   gen.AuditLogResponse
	Metrics string
}

// refreshedAtRE finds refreshed_at, which a recompute moves without anything changing.
var refreshedAtRE = regexp.MustCompile(`"refreshed_at":"[^"]*"`)

// stateOf reads the licenses, the entitlements, the audit log and the license, feature, seat
// and audit metrics of d.
func stateOf(t *testing.T, d *deployment) deploymentState {
	t.Helper()
	ctx := context.Background()
	licenses, err := d.owner.GetLicensesWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, licenses.StatusCode(), string(licenses.Body))
	ent, err := d.inst.Client.GetEntitlementsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ent.StatusCode(), string(ent.Body))
	limit := "1000"
	audit, err := d.owner.GetAuditLogsWithResponse(ctx, &gen.GetAuditLogsParams{Limit: &limit})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, audit.StatusCode(), string(audit.Body))
	return deploymentState{
		Licenses:     string(licenses.Body),
		Entitlements: refreshedAtRE.ReplaceAllString(string(ent.Body), `"refreshed_at":"-"`),
		ETag:         ent.HTTPResponse.Header.Get("ETag"),
		Audit:        auditLogOf(t, audit.Body),
		Metrics:      licenseMetrics(t, d.inst),
	}
}

// auditLogOf is a GET /audit answer with each acting user shown by id and username: the rest
// of a user (last_seen_at) moves when they are authenticated, which is not a change of the log.
func auditLogOf(t *testing.T, body []byte) gen.AuditLogResponse {
	t.Helper()
	var page gen.AuditLogResponse
	require.NoError(t, json.Unmarshal(body, &page), string(body))
	for i, e := range page.AuditLogs {
		if e.User != nil {
			page.AuditLogs[i].User = &gen.User{Id: e.User.Id, Username: e.User.Username}
		}
	}
	return page
}

// licenseMetrics is the server's entitle_* metrics but the HTTP ones (which every request
// moves). The seconds until the paid term ends tick on, so they are shown as the moment itself.
func licenseMetrics(t *testing.T, inst *testenv.Instance) string {
	t.Helper()
	rec := httptest.NewRecorder()
	inst.Server().MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	now := time.Now()
	var kept []string
	for line := range strings.Lines(rec.Body.String()) {
		if !strings.HasPrefix(line, "entitle_") || strings.HasPrefix(line, "entitle_http_") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "entitle_license_expires_seconds "); ok {
			seconds, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			end := now.Add(time.Duration(math.Round(seconds*1000)) * time.Millisecond).Round(time.Second)
			line = "entitle_license_expires_at " + end.UTC().Format(time.RFC3339) + "\n"
		}
		kept = append(kept, line)
	}
	require.NotEmpty(t, kept, "the server exports license metrics")
	return strings.Join(kept, "")
}

// previewRaw sends POST /licenses/preview with body as the holder of token.
func previewRaw(t *testing.T, d *deployment, token, body string) (int, []byte) {
	t.Helper()
	return rawRequest(t, d.inst, token, http.MethodPost, "/licenses/preview", body)
}

// licenseBody is the JSON body {"license": token}.
func licenseBody(t *testing.T, token string) string {
	t.Helper()
	b, err := json.Marshal(gen.AddLicenseRequest{License: token})
	require.NoError(t, err)
	return string(b)
}

func TestPreviewingALicense(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()
		_, memberToken := d.inst.CreateMember(t, d.ownerToken, "bob")
		stored := d.issuer.Sign(t, claims(withFeatures("audit_log")))
		d.upload(t, stored)
		waitForActualUsers(t, d.inst, 2)
		// audit_log is licensed now, so an upload would be recorded (the last subtest sees it
		// is); an organization gives the log an entry and the audit metric a series to keep.
		org, err := d.owner.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "kept"})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, org.StatusCode(), string(org.Body))
		before := stateOf(t, d)
		require.EqualValues(t, 1, before.Audit.Count, "the organization was recorded")
		require.Contains(t, before.Metrics, `entitle_audit_entries_total{action="create",resource_type="organization"} 1`)
		requireUnchanged := func(t *testing.T) {
			t.Helper()
			assert.Equal(t, before, stateOf(t, d), "a preview changes nothing")
		}

		t.Run("a valid license shows itself, the explanation before and after, and what changes", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(withFeatures("scim", "audit_log"), func(c *license.Claims) { c.Features["user_limit"] = 10 }))
			resp, err := d.owner.PreviewLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token + "\n"})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			p := resp.JSON200
			require.NotNil(t, p)

			assert.Equal(t, int32(0), p.License.Id, "nothing was stored, so there is no id")
			assert.Contains(t, string(resp.Body), `"claims":`+string(payloadOf(t, token)), "the claims verbatim")

			assert.Equal(t, explainOf(t, d.owner), p.ExplainBefore, "before is what explain says now")
			require.Len(t, p.ExplainAfter.Licenses, 2)
			candidate := p.ExplainAfter.Licenses[0]
			assert.Equal(t, int32(0), candidate.Id)
			assert.Equal(t, p.License.Uuid, candidate.Uuid)
			assert.Equal(t, gen.ExplainedLicenseStatus("active"), candidate.Status)
			assert.True(t, candidate.Counts)
			require.NotNil(t, p.ExplainAfter.Seats.Limit)
			assert.Equal(t, int64(10), *p.ExplainAfter.Seats.Limit)

			assert.Equal(t, map[string]string{
				"scim":       "not_entitled -> entitled",
				"user_limit": "not_entitled -> entitled",
			}, changesOf(p.Changes), "audit_log was entitled already")
			require.NotNil(t, p.Changes["user_limit"].ToLimit)
			assert.Equal(t, int64(10), *p.Changes["user_limit"].ToLimit)
			requireUnchanged(t)
		})

		t.Run("every license an upload refuses, a preview refuses with the same answer", func(t *testing.T) {
			for _, tc := range rejectedUploads(t, d) {
				body := licenseBody(t, tc.token)
				previewStatus, previewBody := previewRaw(t, d, d.ownerToken, body)
				requireUnchanged(t)
				uploadStatus, uploadBody := rawRequest(t, d.inst, d.ownerToken, http.MethodPost, "/licenses", body)
				require.Equal(t, http.StatusBadRequest, uploadStatus, "%s: %s", tc.name, uploadBody)
				assert.Equal(t, uploadStatus, previewStatus, tc.name)
				assert.JSONEq(t, string(uploadBody), string(previewBody), tc.name)
				assert.Equal(t, tc.wantMessage, envelope(t, previewBody).Message, tc.name)
			}
			requireUnchanged(t)
		})

		t.Run("a body an upload refuses as such, a preview refuses the same way", func(t *testing.T) {
			for _, body := range []string{`{"license": ""}`, `{}`, `{"license": 7}`, `{"license":`, `{"license": "a", "license": "b"}`} {
				previewStatus, previewBody := previewRaw(t, d, d.ownerToken, body)
				requireUnchanged(t)
				uploadStatus, uploadBody := rawRequest(t, d.inst, d.ownerToken, http.MethodPost, "/licenses", body)
				assert.Equal(t, http.StatusBadRequest, previewStatus, "%s: %s", body, previewBody)
				assert.Equal(t, uploadStatus, previewStatus, body)
				assert.JSONEq(t, string(uploadBody), string(previewBody), body)
			}
			requireUnchanged(t)
		})

		t.Run("a license already added is a conflict, as for an upload", func(t *testing.T) {
			status, body := previewRaw(t, d, d.ownerToken, licenseBody(t, stored))
			assert.Equal(t, http.StatusConflict, status, string(body))
			assert.Equal(t, msgAlreadyAdded, envelope(t, body).Message)
			requireUnchanged(t)
		})

		t.Run("only the owner may preview", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(withFeatures("scim")))
			status, body := previewRaw(t, d, memberToken, licenseBody(t, token))
			assert.Equal(t, http.StatusForbidden, status, string(body))
			status, body = previewRaw(t, d, "", licenseBody(t, token))
			assert.Equal(t, http.StatusUnauthorized, status, string(body))
			requireUnchanged(t)
		})

		t.Run("an upload, unlike a preview, changes the licenses, the audit log and the metrics", func(t *testing.T) {
			d.upload(t, d.issuer.Sign(t, claims(withFeatures("scim", "audit_log"))))
			after := stateOf(t, d)
			assert.NotEqual(t, before.Licenses, after.Licenses)
			assert.EqualValues(t, 2, after.Audit.Count, "the upload was recorded")
			assert.Contains(t, after.Metrics, `entitle_audit_entries_total{action="create",resource_type="license"} 1`)
			assert.Contains(t, after.Metrics, `entitle_feature_enabled{entitlement="entitled",feature="scim"} 1`)
		})
	})
}
