package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// licensedInstance starts a server that trusts one issuer, with an owner signed in and a
// license granting audit_log and a user limit of 5 uploaded.
func licensedInstance(t *testing.T, logger *slog.Logger) (*testenv.Instance, string, string) {
	t.Helper()
	cfg := testenv.Databases()[0].NewConfig(t)
	cfg.LicenseKeysDir = t.TempDir()
	cfg.LogFormat = "json"
	issuer := testenv.NewIssuer(t, cfg.LicenseKeysDir, "test")
	var inst *testenv.Instance
	if logger != nil {
		inst = testenv.StartWithLogger(t, cfg, logger)
	} else {
		inst = testenv.Start(t, cfg)
	}
	token := inst.SetupOwner(t)
	lic := issuer.SignValid(t, license.Claims{Features: map[string]int64{"audit_log": 1, "user_limit": 5}})
	added, err := inst.ClientWithToken(t, token).AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: lic})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, added.StatusCode(), string(added.Body))
	return inst, token, lic
}

func TestMetricsShowRouteHistogramsAndLicenseGauges(t *testing.T) {
	inst, token, _ := licensedInstance(t, nil)
	client := inst.ClientWithToken(t, token)
	ctx := context.Background()
	for range 3 {
		got, err := client.GetOrganizationWithResponse(ctx, "default")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.StatusCode())
	}
	missing, err := client.GetOrganizationWithResponse(ctx, "nope")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
	resp, err := http.Get(inst.URL + "/api/v2/no/such/route?x=1")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	// A known path with a method it does not answer matched no route either.
	wrongMethod, err := http.NewRequest(http.MethodDelete, inst.URL+"/api/v2/licenses", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(wrongMethod)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	// Methods HTTP does not define share one label, so clients cannot add series at will.
	for _, method := range []string{"FOO", "BAR"} {
		odd, err := http.NewRequest(method, inst.URL+"/api/v2/licenses", nil)
		require.NoError(t, err)
		resp, err = http.DefaultClient.Do(odd)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	rec := httptest.NewRecorder()
	inst.Server().MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()

	for _, want := range []string{
		`entitle_http_requests_total{method="GET",route="/api/v2/organizations/:organization",status="200"} 3`,
		`entitle_http_requests_total{method="GET",route="/api/v2/organizations/:organization",status="404"} 1`,
		`entitle_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`entitle_http_requests_total{method="DELETE",route="unmatched",status="405"} 1`,
		`entitle_http_requests_total{method="other",route="unmatched",status="405"} 2`,
		`entitle_http_request_duration_seconds_bucket{method="GET",route="/api/v2/organizations/:organization",status="200",le="+Inf"} 3`,
		`entitle_http_request_duration_seconds_count{method="POST",route="/api/v2/licenses",status="201"} 1`,
		`entitle_feature_enabled{entitlement="entitled",feature="audit_log"} 1`,
		`entitle_feature_enabled{entitlement="not_entitled",feature="scim"} 0`,
		`entitle_active_users 1`,
		`entitle_user_limit 5`,
		`entitle_has_license 1`,
		`go_sql_open_connections{db_name="sqlite"}`,
	} {
		assert.Contains(t, body, want)
	}
	expires := metricValue(t, body, "entitle_license_expires_seconds")
	assert.InDelta(t, (30 * 24 * time.Hour).Seconds(), expires, 120, "seconds until the 30-day paid term ends")
}

func TestMetricsAreServedOnTheirOwnAddressOnlyWhenAsked(t *testing.T) {
	cfg := testenv.Databases()[0].NewConfig(t)
	cfg.HTTPAddress = testenv.FreeAddress(t)
	cfg.PrometheusAddress = testenv.FreeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg, slog.New(slog.DiscardHandler), func(url string) { ready <- url }) }()
	url := <-ready

	resp, err := http.Get("http://" + cfg.PrometheusAddress + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "entitle_has_license 0")

	resp, err = http.Get(url + "/metrics")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API listener does not serve metrics")

	cancel()
	require.NoError(t, <-done)
}

func TestLogsHaveOneJSONLinePerRequestAndNoSecrets(t *testing.T) {
	var logs testenv.LockedBuffer
	cfg := server.Config{LogFormat: "json"}
	inst, token, lic := licensedInstance(t, cfg.NewLogger(&logs))

	// The token travels in each of its four places, and once in a bad request.
	ctx := context.Background()
	for _, send := range []func(*http.Request){
		func(r *http.Request) { r.Header.Set(server.SessionHeader, token) },
		func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "coder_session_token", Value: token}) },
		func(r *http.Request) { r.URL.RawQuery = "coder_session_token=" + token },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) },
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, inst.APIURL()+"/users/me", nil)
		require.NoError(t, err)
		send(req)
		resp, err := inst.HTTP.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	bad, err := http.NewRequestWithContext(ctx, http.MethodPost, inst.APIURL()+"/licenses", strings.NewReader(`{"license": "`+lic+`x"}`))
	require.NoError(t, err)
	bad.Header.Set(server.SessionHeader, token)
	bad.Header.Set("Content-Type", "application/json")
	resp, err := inst.HTTP.Do(bad)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	inst.Stop(t)

	out := logs.String()
	secrets := map[string]string{
		"the password":        testenv.OwnerPassword,
		"the session token":   token,
		"the token's secret":  token[strings.IndexByte(token, '-')+1:],
		"the license":         lic,
		"the license payload": strings.Split(lic, ".")[1],
	}
	for name, secret := range secrets {
		assert.NotContains(t, out, secret, "the log holds %s", name)
	}

	requests := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not a JSON line: %s", sc.Text())
		if line["msg"] != "request" {
			continue
		}
		requests++
		for _, key := range []string{"request_id", "method", "route", "path", "status", "duration_ms"} {
			assert.Contains(t, line, key, "request line %s", sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	// first user, login, license upload, four /users/me and the bad upload.
	assert.Equal(t, 8, requests, "one line per request")
}

func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			require.NoError(t, json.Unmarshal([]byte(rest), &v), "value of %s: %q", name, rest)
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// The access log names the TCP peer, as the login throttle and the audit log do: X-Forwarded-For
// and X-Real-IP are whatever a client writes, and a log an attacker can put any address in is
// no record of who called.
func TestTheAccessLogNamesThePeerNotWhatTheClientClaims(t *testing.T) {
	var logs testenv.LockedBuffer
	cfg := testenv.Databases()[0].NewConfig(t)
	cfg.LogFormat = "json"
	inst := testenv.StartWithLogger(t, cfg, cfg.NewLogger(&logs))
	for _, header := range []string{"X-Forwarded-For", "X-Real-IP"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, inst.APIURL()+"/entitlements", nil)
		require.NoError(t, err)
		req.Header.Set(header, "203.0.113.9")
		req.Header.Set("X-Request-ID", "claims-"+header)
		resp, err := inst.HTTP.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	inst.Stop(t)

	seen := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if id, _ := line["request_id"].(string); strings.HasPrefix(id, "claims-") {
			seen++
			assert.Equal(t, "127.0.0.1", line["remote_ip"], "%s: %s", id, sc.Text())
		}
	}
	assert.Equal(t, 2, seen)
}
