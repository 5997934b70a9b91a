package license_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// term describes one license for a Compute test, relative to now.
type term struct {
	nbf, paidUntil, exp time.Duration
	noNBF               bool
	trial               bool
	allFeatures         bool
	featureSet          string
	features            map[string]int64
	requireTelemetry    bool
}

// termUUID gives the i-th license of a test a fixed uuid so warnings can be asserted exactly.
func termUUID(i int) uuid.UUID {
	return uuid.MustParse("00000000-0000-4000-8000-" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "0000000000")
}

// storedLicenses signs each term and verifies it as the server does when it loads licenses.
func storedLicenses(t *testing.T, terms []term) []license.Stored {
	t.Helper()
	pub, priv := newKey(t)
	keys := license.Keys{"k1": pub}
	var stored []license.Stored
	for i, tm := range terms {
		c := license.Claims{
			ID:               termUUID(i + 1).String(),
			IssuedAt:         date(now.Add(-365 * day)),
			NotBefore:        date(now.Add(tm.nbf)),
			LicenseExpires:   date(now.Add(tm.paidUntil)),
			ExpiresAt:        date(now.Add(tm.exp)),
			Version:          3,
			Trial:            tm.trial,
			AllFeatures:      tm.allFeatures,
			FeatureSet:       tm.featureSet,
			Features:         tm.features,
			RequireTelemetry: tm.requireTelemetry,
		}
		if tm.noNBF {
			c.NotBefore = nil
		}
		lic, err := license.VerifyStored(sign(t, priv, "k1", c), keys)
		require.NoError(t, err)
		stored = append(stored, license.Stored{ID: int64(i + 1), UUID: lic.UUID, License: lic})
	}
	return stored
}

// graceWarnings is Coder's warning for each named feature that only a license in grace grants.
func graceWarnings(names ...string) []string {
	humanized := map[string]string{
		"audit_log": "Audit Log", "browser_only": "Browser Only", "scim": "SCIM", "template_rbac": "Template RBAC",
		"high_availability": "High Availability", "multiple_external_auth": "Multiple External Auth",
		"external_provisioner_daemons": "External Provisioner Daemons", "appearance": "Appearance",
		"advanced_template_scheduling": "Advanced Template Scheduling", "workspace_proxy": "Workspace Proxy",
		"user_role_management": "User Role Management", "external_token_encryption": "External Token Encryption",
		"workspace_batch_actions": "Workspace Batch Actions", "access_control": "Access Control",
		"control_shared_ports": "Control Shared Ports", "oauth2_provider": "OAuth Provider",
		"custom_roles": "Custom Roles", "multiple_organizations": "Multiple Organizations",
		"workspace_prebuilds": "Workspace Prebuilds",
	}
	var warnings []string
	for _, name := range names {
		warnings = append(warnings, humanized[name]+" is enabled but your license for this feature is expired.")
	}
	return warnings
}

// allBut lists every feature except the given ones.
func allBut(except ...string) []string {
	var names []string
	for _, name := range license.FeatureNames() {
		skip := false
		for _, e := range except {
			skip = skip || name == e
		}
		if !skip {
			names = append(names, name)
		}
	}
	return names
}

func TestCompute(t *testing.T) {
	paid := func(features map[string]int64) term {
		return term{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: features}
	}
	const noWarningUntil = 61 * day // a 90-day paid term starts warning with 29 days (rounded up) left

	tests := []struct {
		name          string
		terms         []term
		invalid       []license.Stored
		usage         license.Usage
		wantEntitled  []string
		wantGrace     []string
		wantLimit     *int64
		wantWarnings  []string
		wantErrors    []string
		wantLicense   bool
		wantTrial     bool
		wantTelemetry bool
		wantNext      time.Duration // from now; 0 means no change pending
	}{
		{
			name:  "no license leaves every feature off but still counts users",
			usage: license.Usage{ActiveUsers: 5, Replicas: 1},
		},
		{
			name:         "all_features without feature_set entitles the enterprise set, never premium-only features",
			terms:        []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, allFeatures: true}},
			wantEntitled: allBut("user_limit", "custom_roles", "multiple_organizations"),
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "all_features with feature_set premium entitles every feature but user_limit",
			terms:        []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, allFeatures: true, featureSet: "premium"}},
			wantEntitled: allBut("user_limit"),
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "feature_set premium entitles every feature but user_limit",
			terms:        []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, featureSet: "premium"}},
			wantEntitled: allBut("user_limit"),
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "feature_set enterprise entitles all but custom_roles and multiple_organizations",
			terms:        []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, featureSet: "enterprise"}},
			wantEntitled: allBut("user_limit", "custom_roles", "multiple_organizations"),
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "explicit features above zero are entitled and unknown names are ignored",
			terms:        []term{paid(map[string]int64{"audit_log": 1, "scim": 0, "browser_only": -1, "teleportation": 1})},
			wantEntitled: []string{"audit_log"},
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "a license past license_expires is in grace and warns once per feature, in Coder's words",
			terms:        []term{{nbf: -90 * day, paidUntil: -day, exp: 6 * day, allFeatures: true}},
			wantGrace:    allBut("user_limit", "custom_roles", "multiple_organizations"),
			wantLicense:  true,
			wantWarnings: graceWarnings(allBut("user_limit", "custom_roles", "multiple_organizations")...),
			wantNext:     6 * day,
		},
		{
			name: "the best level wins when one license is in grace and another entitled",
			terms: []term{
				{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"audit_log": 1, "scim": 1}},
				paid(map[string]int64{"audit_log": 1}),
			},
			wantEntitled: []string{"audit_log"},
			wantGrace:    []string{"scim"},
			wantLicense:  true,
			wantWarnings: []string{"SCIM is enabled but your license for this feature is expired."},
			wantNext:     6 * day,
		},
		{
			name:          "a trial license alone makes the deployment a trial",
			terms:         []term{{nbf: -day, paidUntil: 20 * day, exp: 20 * day, trial: true, allFeatures: true, requireTelemetry: true}},
			wantEntitled:  allBut("user_limit", "custom_roles", "multiple_organizations"),
			wantLicense:   true,
			wantTrial:     true,
			wantTelemetry: true,
			wantNext:      14 * day, // a trial warns once fewer than 7 days (rounded up) are left
		},
		{
			name: "a trial beside a paid license is not a trial",
			terms: []term{
				{nbf: -day, paidUntil: 20 * day, exp: 20 * day, trial: true, features: map[string]int64{"scim": 1}},
				paid(map[string]int64{"audit_log": 1}),
			},
			wantEntitled: []string{"audit_log", "scim"},
			wantLicense:  true,
			wantNext:     20 * day,
		},
		{
			name: "of two entitled limits that both fall short, the larger wins and more users than that warns",
			terms: []term{
				paid(map[string]int64{"user_limit": 10}),
				paid(map[string]int64{"user_limit": 25}),
			},
			usage:        license.Usage{ActiveUsers: 30},
			wantEntitled: []string{"user_limit"},
			wantLimit:    ptr(int64(25)),
			wantWarnings: []string{"Your deployment has 30 active users but is only licensed for 25."},
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name: "user_limit is taken whole from one license: a limit in grace that covers the users beats an entitled one that does not",
			terms: []term{
				paid(map[string]int64{"user_limit": 100}),
				{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"user_limit": 500}},
			},
			usage:        license.Usage{ActiveUsers: 200},
			wantGrace:    []string{"user_limit"},
			wantLimit:    ptr(int64(500)),
			wantWarnings: []string{"Your deployment has 200 active users but the license with the limit 500 is expired."},
			wantLicense:  true,
			wantNext:     6 * day,
		},
		{
			name:         "a limit in grace that the users exceed warns that they exceed it, as Coder does, not that it is expired",
			terms:        []term{{nbf: -90 * day, paidUntil: -day, exp: day, features: map[string]int64{"user_limit": 2}}},
			usage:        license.Usage{ActiveUsers: 4},
			wantGrace:    []string{"user_limit"},
			wantLimit:    ptr(int64(2)),
			wantWarnings: []string{"Your deployment has 4 active users but is only licensed for 2."},
			wantLicense:  true,
			wantNext:     day,
		},
		{
			name: "when both limits cover the users, the entitled license wins over a larger one in grace",
			terms: []term{
				paid(map[string]int64{"user_limit": 100}),
				{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"user_limit": 500}},
			},
			usage:        license.Usage{ActiveUsers: 50},
			wantEntitled: []string{"user_limit"},
			wantLimit:    ptr(int64(100)),
			wantLicense:  true,
			wantNext:     6 * day,
		},
		{
			name:         "users at the limit do not warn",
			terms:        []term{paid(map[string]int64{"user_limit": 30})},
			usage:        license.Usage{ActiveUsers: 30},
			wantEntitled: []string{"user_limit"},
			wantLimit:    ptr(int64(30)),
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:     "a license whose nbf is in the future counts for nothing until then",
			terms:    []term{{nbf: 2 * day, paidUntil: 90 * day, exp: 97 * day, allFeatures: true}},
			wantNext: 2 * day,
		},
		{
			name:         "a license with no nbf counts from the start",
			terms:        []term{{noNBF: true, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:         "a paid term ending in 29 days warns until the count drops a day later",
			terms:        []term{{nbf: -day, paidUntil: 29 * day, exp: 36 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantWarnings: []string{"Your license expires in 29 days."},
			wantNext:     day,
		},
		{
			name:         "a paid term ending in 31 days does not warn yet",
			terms:        []term{{nbf: -day, paidUntil: 31 * day, exp: 38 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantNext:     2 * day,
		},
		{
			name:         "a paid term ending in exactly 30 days does not warn, as in Coder",
			terms:        []term{{nbf: -day, paidUntil: 30 * day, exp: 37 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantNext:     day,
		},
		{
			name:         "days left are rounded up, so 29 days and an hour is 30 days and does not warn yet",
			terms:        []term{{nbf: -day, paidUntil: 29*day + time.Hour, exp: 36 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantNext:     time.Hour,
		},
		{
			name:         "days left are rounded up, so 28 days and an hour warns as 29 days",
			terms:        []term{{nbf: -day, paidUntil: 28*day + time.Hour, exp: 36 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantWarnings: []string{"Your license expires in 29 days."},
			wantNext:     time.Hour,
		},
		{
			name:         "the last hours read one day and the next change is entering grace",
			terms:        []term{{nbf: -day, paidUntil: 6 * time.Hour, exp: 7 * day, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantWarnings: []string{"Your license expires in 1 day."},
			wantNext:     6 * time.Hour,
		},
		{
			name:         "a trial ending in 6 days warns",
			terms:        []term{{nbf: -day, paidUntil: 6 * day, exp: 6 * day, trial: true, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantTrial:    true,
			wantWarnings: []string{"Your license expires in 6 days."},
			wantNext:     day,
		},
		{
			name:         "a trial ending in 8 days does not warn yet",
			terms:        []term{{nbf: -day, paidUntil: 8 * day, exp: 8 * day, trial: true, features: map[string]int64{"scim": 1}}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantTrial:    true,
			wantNext:     2 * day,
		},
		{
			name: "a follow-on license that starts when the first one ends silences the warning",
			terms: []term{
				{nbf: -300 * day, paidUntil: 10 * day, exp: 17 * day, features: map[string]int64{"scim": 1}},
				{nbf: 10 * day, paidUntil: 375 * day, exp: 382 * day, features: map[string]int64{"scim": 1}},
			},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantNext:     10 * day,
		},
		{
			name: "a follow-on license that leaves a gap does not silence the warning",
			terms: []term{
				{nbf: -300 * day, paidUntil: 10 * day, exp: 17 * day, features: map[string]int64{"scim": 1}},
				{nbf: 11 * day, paidUntil: 375 * day, exp: 382 * day, features: map[string]int64{"scim": 1}},
			},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantWarnings: []string{"Your license expires in 10 days."},
			wantNext:     day,
		},
		{
			name:  "a stored license that no longer verifies becomes an error",
			terms: []term{paid(map[string]int64{"scim": 1})},
			invalid: []license.Stored{{
				ID:   7,
				UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000007"),
				Err:  &license.Error{Message: "Invalid license", Detail: `unknown key id "retired"`},
			}},
			wantEntitled: []string{"scim"},
			wantLicense:  true,
			wantErrors:   []string{`Invalid license (aaaaaaaa-0000-4000-8000-000000000007): unknown key id "retired"`},
			wantNext:     noWarningUntil,
		},
		{
			name:         "several replicas with a license that lacks high availability is an error",
			terms:        []term{paid(map[string]int64{"audit_log": 1})},
			usage:        license.Usage{Replicas: 2},
			wantEntitled: []string{"audit_log"},
			wantLicense:  true,
			wantErrors: []string{
				"You have multiple replicas but your license is not entitled to high availability.",
			},
			wantNext: noWarningUntil,
		},
		{
			name:       "several replicas without any license is an error naming the Enterprise feature",
			usage:      license.Usage{Replicas: 2},
			wantErrors: []string{"You have multiple replicas but high availability is an Enterprise feature."},
		},
		{
			name:  "one replica without any license is fine",
			usage: license.Usage{Replicas: 1},
		},
		{
			name:         "several replicas with high availability are fine",
			terms:        []term{paid(map[string]int64{"high_availability": 1})},
			usage:        license.Usage{Replicas: 3},
			wantEntitled: []string{"high_availability"},
			wantLicense:  true,
			wantNext:     noWarningUntil,
		},
		{
			name:     "an expired license counts for nothing and nothing is pending",
			terms:    []term{{nbf: -100 * day, paidUntil: -10 * day, exp: -3 * day, allFeatures: true}},
			wantNext: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			licenses := append(storedLicenses(t, tt.terms), tt.invalid...)
			ent, next := license.Compute(licenses, now, tt.usage)

			want := map[string]license.Entitlement{}
			for _, name := range tt.wantEntitled {
				want[name] = license.EntitlementEntitled
			}
			for _, name := range tt.wantGrace {
				want[name] = license.EntitlementGracePeriod
			}
			require.Len(t, ent.Features, len(license.FeatureNames()))
			for _, name := range license.FeatureNames() {
				f, ok := ent.Features[name]
				require.True(t, ok, "feature %s is listed", name)
				wantLevel, on := want[name]
				if !on {
					wantLevel = license.EntitlementNotEntitled
				}
				assert.Equal(t, wantLevel, f.Entitlement, "entitlement of %s", name)
				assert.Equal(t, on, f.Enabled, "enabled of %s", name)
				if name != "user_limit" {
					assert.Nil(t, f.Limit, "limit of %s", name)
					assert.Nil(t, f.Actual, "actual of %s", name)
				}
			}
			users := ent.Features["user_limit"]
			assert.Equal(t, tt.wantLimit, users.Limit)
			require.NotNil(t, users.Actual)
			assert.Equal(t, tt.usage.ActiveUsers, *users.Actual)

			assert.Equal(t, nonNil(tt.wantWarnings), ent.Warnings)
			assert.Equal(t, nonNil(tt.wantErrors), ent.Errors)
			assert.Equal(t, tt.wantLicense, ent.HasLicense, "has_license")
			assert.Equal(t, tt.wantTrial, ent.Trial, "trial")
			assert.Equal(t, tt.wantTelemetry, ent.RequireTelemetry, "require_telemetry")
			assert.Equal(t, now, ent.RefreshedAt)

			if tt.wantNext == 0 {
				assert.True(t, next.IsZero(), "no change pending, got %v", next)
			} else {
				assert.Equal(t, now.Add(tt.wantNext), next)
			}
		})
	}
}

// TestComputeNextChangeIsExact checks that the result really stays the same until nextChange
// and differs at it, by walking a renewal story day by day.
func TestComputeNextChangeIsExact(t *testing.T) {
	licenses := storedLicenses(t, []term{
		{nbf: -300 * day, paidUntil: 40 * day, exp: 47 * day, features: map[string]int64{"scim": 1, "user_limit": 5}},
		{nbf: 50 * day, paidUntil: 60*day + 5*time.Hour, exp: 67 * day, trial: true, allFeatures: true},
	})
	usage := license.Usage{ActiveUsers: 7, Replicas: 2}
	at := now
	changes := 0
	for {
		ent, next := license.Compute(licenses, at, usage)
		if next.IsZero() {
			break
		}
		require.True(t, next.After(at), "next change %v is after %v", next, at)
		before, _ := license.Compute(licenses, next.Add(-time.Second), usage)
		after, _ := license.Compute(licenses, next, usage)
		assert.Equal(t, withoutRefreshTime(ent), withoutRefreshTime(before), "unchanged just before %v", next)
		assert.NotEqual(t, withoutRefreshTime(ent), withoutRefreshTime(after), "changed at %v", next)
		at = next
		changes++
		require.Less(t, changes, 200, "nextChange keeps going")
	}
	ent, _ := license.Compute(licenses, at, usage)
	assert.False(t, ent.HasLicense, "every license has expired at the end")
}

func TestComputeOrderIsDeterministic(t *testing.T) {
	licenses := storedLicenses(t, []term{
		{nbf: -90 * day, paidUntil: -2 * day, exp: 5 * day, features: map[string]int64{"scim": 1}},
		{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"audit_log": 1}},
	})
	licenses = append(licenses,
		license.Stored{ID: 4, UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000004"), Err: assert.AnError},
		license.Stored{ID: 3, UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000003"), Err: assert.AnError},
	)
	reversed := []license.Stored{licenses[3], licenses[2], licenses[1], licenses[0]}

	forward, _ := license.Compute(licenses, now, license.Usage{})
	backward, _ := license.Compute(reversed, now, license.Usage{})
	assert.Equal(t, forward.Warnings, backward.Warnings)
	assert.Equal(t, forward.Errors, backward.Errors)
	// Warnings follow the feature list's order, whatever order the licenses came in.
	assert.Equal(t, graceWarnings("audit_log", "scim"), forward.Warnings)
	assert.Equal(t, "Invalid license (aaaaaaaa-0000-4000-8000-000000000003): "+assert.AnError.Error(), forward.Errors[0])
}

func TestFeatureNamesCannotBeChangedByCallers(t *testing.T) {
	names := license.FeatureNames()
	require.Len(t, names, 20, "the sixteen of the seed era, oauth2_provider, custom_roles, multiple_organizations, workspace_prebuilds")
	assert.Equal(t, "user_limit", names[0])
	assert.Equal(t, "workspace_prebuilds", names[19])
	names[0] = "changed"
	assert.Equal(t, "user_limit", license.FeatureNames()[0])
}

// withoutRefreshTime drops the refresh time, which always differs, so two results can be compared.
func withoutRefreshTime(ent license.Entitlements) license.Entitlements {
	ent.RefreshedAt = time.Time{}
	return ent
}

func ptr[T any](v T) *T { return &v }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// A paid term ending centuries ahead (the contract allows times up to the year 9999) is more
// days away than a time.Duration holds: the days left once overflowed, and the deployment was
// told its license "expires in -106750 days".
func TestAPaidTermEndingCenturiesAheadDoesNotWarn(t *testing.T) {
	pub, priv := newKey(t)
	for _, end := range []time.Time{
		time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC),
		now.AddDate(399, 0, 0),
		now.AddDate(250, 0, 0), // within what a Duration holds: the same answer
	} {
		c := license.Claims{
			ID: termUUID(1).String(), IssuedAt: date(now.Add(-day)), NotBefore: date(now.Add(-day)),
			LicenseExpires: date(end), ExpiresAt: date(end.Add(7 * day)), Version: 3,
			Features: map[string]int64{"scim": 1},
		}
		lic, err := license.VerifyStored(sign(t, priv, "k1", c), license.Keys{"k1": pub})
		require.NoError(t, err)
		ent, next := license.Compute([]license.Stored{{ID: 1, UUID: lic.UUID, License: lic}}, now, license.Usage{})
		assert.Empty(t, ent.Warnings, "a term ending %s", end)
		assert.Equal(t, license.EntitlementEntitled, ent.Features["scim"].Entitlement)
		assert.True(t, next.Equal(end.Add(-29*day)), "the next change is when the warning starts, 29 days before %s; got %s", end, next)
	}
}
