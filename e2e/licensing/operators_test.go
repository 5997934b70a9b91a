package licensing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
)

// exportedMetrics is every series name the server's registry exports, histograms with their
// _bucket, _sum and _count, read from the metrics endpoint of a server that has a license with
// a user limit and has answered a request, so that every family is present.
func exportedMetrics(t *testing.T, inst *testenv.Instance) map[string]bool {
	t.Helper()
	rec := httptest.NewRecorder()
	inst.Server().MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	names := map[string]bool{}
	for line := range strings.Lines(rec.Body.String()) {
		fields := strings.Fields(line)
		if len(fields) != 4 || fields[0] != "#" || fields[1] != "TYPE" {
			continue
		}
		name := fields[2]
		names[name] = true
		if fields[3] == "histogram" || fields[3] == "summary" {
			names[name+"_sum"], names[name+"_count"] = true, true
		}
		if fields[3] == "histogram" {
			names[name+"_bucket"] = true
		}
	}
	return names
}

// metricNameRE finds the names of entitle's and Go's own metrics in PromQL; labels, functions and
// Grafana's variables never start so.
var metricNameRE = regexp.MustCompile(`\b(?:entitle|go|process)_[a-zA-Z0-9_]+`)

// readDeployFile reads a file under deploy/.
func readDeployFile(t *testing.T, path string) []byte {
	t.Helper()
	root, err := testenv.ModuleRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "deploy", path))
	require.NoError(t, err)
	return b
}

// promQLOf collects every "expr" string anywhere in a decoded JSON document.
func promQLOf(v any) []string {
	var exprs []string
	switch v := v.(type) {
	case map[string]any:
		for key, value := range v {
			if s, ok := value.(string); ok && key == "expr" {
				exprs = append(exprs, s)
			} else {
				exprs = append(exprs, promQLOf(value)...)
			}
		}
	case []any:
		for _, item := range v {
			exprs = append(exprs, promQLOf(item)...)
		}
	}
	return exprs
}

// alertRules is the part of a Prometheus rule file the test reads.
type alertRules struct {
	Groups []struct {
		Rules []struct {
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool test file the test reads.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func TestDashboardAndAlertsUseOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	d := startDeployment(t, testenv.Databases()[0])
	d.upload(t, d.issuer.Sign(t, claims(withFeatures("audit_log"), func(c *license.Claims) { c.Features["user_limit"] = 10 })))
	// A change recorded now that audit_log is on, so the audit counter has a series.
	org, err := d.owner.CreateOrganizationWithResponse(context.Background(), gen.CreateOrganizationRequest{Name: "recorded"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, org.StatusCode(), string(org.Body))
	exported := exportedMetrics(t, d.inst)
	for _, name := range []string{"entitle_entitlement_errors", "entitle_entitlement_warnings", "entitle_replicas", "entitle_user_limit",
		"entitle_users", "entitle_seats_high_water_mark", "entitle_audit_entries_total"} {
		require.True(t, exported[name], "the server exports %s", name)
	}
	requireExported := func(t *testing.T, where, text string) []string {
		t.Helper()
		names := metricNameRE.FindAllString(text, -1)
		for _, name := range names {
			assert.True(t, exported[name], "%s uses %s, which the server does not export", where, name)
		}
		return names
	}

	t.Run("the Grafana dashboard is valid JSON whose every query uses exported metrics", func(t *testing.T) {
		var dashboard struct {
			Title  string `json:"title"`
			UID    string `json:"uid"`
			Panels []struct {
				ID      int    `json:"id"`
				Type    string `json:"type"`
				Title   string `json:"title"`
				Targets []struct {
					Expr       string `json:"expr"`
					Datasource struct {
						UID string `json:"uid"`
					} `json:"datasource"`
				} `json:"targets"`
			} `json:"panels"`
		}
		raw := readDeployFile(t, "grafana/entitle.json")
		require.NoError(t, json.Unmarshal(raw, &dashboard))
		assert.Equal(t, "entitle", dashboard.UID)
		require.NotEmpty(t, dashboard.Panels)
		ids := map[int]bool{}
		used := map[string]bool{}
		// panelQueries is every panel's queries, joined, by title.
		panelQueries := map[string]string{}
		for _, p := range dashboard.Panels {
			assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
			ids[p.ID] = true
			assert.NotEmpty(t, p.Title, "panel %d has a title", p.ID)
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Targets, "panel %q queries something", p.Title)
			for _, target := range p.Targets {
				assert.Equal(t, "${datasource}", target.Datasource.UID, "panel %q uses the data source variable", p.Title)
				for _, name := range requireExported(t, "panel "+p.Title, target.Expr) {
					used[name] = true
				}
				panelQueries[p.Title] += target.Expr + "\n"
			}
		}
		var anyDoc any
		require.NoError(t, json.Unmarshal(raw, &anyDoc))
		for _, expr := range promQLOf(anyDoc) {
			requireExported(t, "the dashboard", expr)
		}
		for _, name := range []string{
			"entitle_has_license", "entitle_license_expires_seconds", "entitle_feature_enabled", "entitle_active_users",
			"entitle_user_limit", "entitle_entitlement_errors", "entitle_entitlement_warnings", "entitle_replicas",
			"entitle_http_requests_total", "entitle_http_request_duration_seconds_bucket",
			"entitle_users", "entitle_seats_high_water_mark", "entitle_audit_entries_total",
		} {
			assert.True(t, used[name], "the dashboard shows %s", name)
		}
		shown := func(what string, match func(queries string) bool) {
			t.Helper()
			for _, queries := range panelQueries {
				if match(queries) {
					return
				}
			}
			t.Errorf("no panel shows %s", what)
		}
		shown("users by status", func(q string) bool { return strings.Contains(q, "by (status) (entitle_users{") })
		shown("the seat high-water mark beside the limit", func(q string) bool {
			return strings.Contains(q, "entitle_seats_high_water_mark{") && strings.Contains(q, "entitle_user_limit{")
		})
		shown("the rate of audit entries by action", func(q string) bool {
			return strings.Contains(q, "sum by (action) (rate(entitle_audit_entries_total{")
		})
	})

	t.Run("every alert rule uses exported metrics and has a promtool test where it fires", func(t *testing.T) {
		var rules alertRules
		require.NoError(t, yaml.Unmarshal(readDeployFile(t, "prometheus/entitle-rules.yml"), &rules))
		var tests ruleTests
		require.NoError(t, yaml.Unmarshal(readDeployFile(t, "prometheus/entitle-rules.test.yml"), &tests))
		assert.Equal(t, []string{"entitle-rules.yml"}, tests.RuleFiles)

		fires := map[string]bool{}
		for _, tc := range tests.Tests {
			for _, in := range tc.InputSeries {
				requireExported(t, "a test's input series", in.Series)
			}
			for _, at := range tc.AlertRuleTest {
				fires[at.Alertname] = fires[at.Alertname] || len(at.ExpAlerts) > 0
			}
		}
		var alerts []string
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				alerts = append(alerts, r.Alert)
				assert.NotEmpty(t, requireExported(t, "alert "+r.Alert, r.Expr), "alert %s reads a metric", r.Alert)
				assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "alert %s has a severity", r.Alert)
				assert.True(t, fires[r.Alert], "a promtool test sees %s fire", r.Alert)
			}
		}
		slices.Sort(alerts)
		assert.Equal(t, []string{
			"EntitleEntitlementErrors", "EntitleLicenseExpiresWithin30Days", "EntitleLicenseExpiresWithin7Days",
			"EntitleLicenseInGrace", "EntitleReplicasWithoutHighAvailability", "EntitleSeatsAbove90Percent", "EntitleSeatsOverLimit",
		}, alerts)
	})
}
