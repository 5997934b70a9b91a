package license_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// stories are sets of licenses whose futures the timeline tests walk with a fake clock.
var stories = []struct {
	name  string
	terms []term
	usage license.Usage
}{
	{
		name: "a license running out and a trial starting after a gap, with two replicas and users over the limit",
		terms: []term{
			{nbf: -300 * day, paidUntil: 40 * day, exp: 47 * day, features: map[string]int64{"scim": 1, "user_limit": 5}},
			{nbf: 50 * day, paidUntil: 60*day + 5*time.Hour, exp: 67 * day, trial: true, allFeatures: true},
		},
		usage: license.Usage{ActiveUsers: 7, Replicas: 2},
	},
	{
		name: "a renewal that starts the moment the old paid term ends changes nothing then, nor when the old license expires",
		terms: []term{
			{nbf: -300 * day, paidUntil: 10 * day, exp: 17 * day, features: map[string]int64{"audit_log": 1, "user_limit": 50}},
			{nbf: 10 * day, paidUntil: 382 * day, exp: 389 * day, features: map[string]int64{"audit_log": 1, "user_limit": 50}},
		},
		usage: license.Usage{ActiveUsers: 20, Replicas: 1},
	},
	{
		name: "a license in grace beside an entitled one, a larger limit in grace, and an expired one",
		terms: []term{
			{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"audit_log": 1, "scim": 1, "user_limit": 500}},
			{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"audit_log": 1, "user_limit": 100}},
			{nbf: -100 * day, paidUntil: -10 * day, exp: -3 * day, allFeatures: true},
		},
		usage: license.Usage{ActiveUsers: 200, Replicas: 1},
	},
	{
		name: "a license without grace, one without nbf, and one that starts already in grace",
		terms: []term{
			{nbf: -day, paidUntil: 20 * day, exp: 20 * day, features: map[string]int64{"browser_only": 1}},
			{noNBF: true, paidUntil: 30 * day, exp: 35 * day, featureSet: "premium"},
			{nbf: 3 * day, paidUntil: 2 * day, exp: 9 * day, features: map[string]int64{"appearance": 1}},
		},
		usage: license.Usage{ActiveUsers: 1, Replicas: 3},
	},
	{
		name: "a license that expires before it starts never counts",
		terms: []term{
			{nbf: 5 * day, paidUntil: 4 * day, exp: 4 * day, features: map[string]int64{"scim": 1}},
		},
		usage: license.Usage{ActiveUsers: 1, Replicas: 1},
	},
}

// computeSchedule walks Compute's nextChange from start until nothing is pending: the moments
// the entitlements service recomputes at.
func computeSchedule(t *testing.T, licenses []license.Stored, start time.Time, usage license.Usage) []time.Time {
	t.Helper()
	var moments []time.Time
	at := start
	for {
		_, next := license.Compute(licenses, at, usage)
		if next.IsZero() {
			return moments
		}
		require.True(t, next.After(at), "next change %v is after %v", next, at)
		moments = append(moments, next)
		at = next
		require.Less(t, len(moments), 500, "nextChange keeps going")
	}
}

// featureDiff is what changed in features between two results, worked out here independently
// of the package: the entitlement and, for user_limit, the limit.
func featureDiff(before, after license.Entitlements) map[string]string {
	diff := map[string]string{}
	for _, name := range license.FeatureNames() {
		b, a := before.Features[name], after.Features[name]
		if b.Entitlement != a.Entitlement || limitText(b.Limit) != limitText(a.Limit) {
			diff[name] = fmt.Sprintf("%s/%s -> %s/%s", b.Entitlement, limitText(b.Limit), a.Entitlement, limitText(a.Limit))
		}
	}
	return diff
}

// changesText renders a timeline entry's changes the way featureDiff does.
func changesText(changes map[string]license.FeatureChange) map[string]string {
	diff := map[string]string{}
	for name, c := range changes {
		diff[name] = fmt.Sprintf("%s/%s -> %s/%s", c.From, limitText(c.FromLimit), c.To, limitText(c.ToLimit))
	}
	return diff
}

func limitText(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

func TestExplainTimelineIsTheMomentsComputeSchedules(t *testing.T) {
	for _, story := range stories {
		t.Run(story.name, func(t *testing.T) {
			licenses := storedLicenses(t, story.terms)
			x := license.Explain(licenses, now, story.usage)
			schedule := computeSchedule(t, licenses, now, story.usage)

			listed := map[time.Time][]license.TimelineEvent{}
			for i, ev := range x.Timeline {
				assert.True(t, ev.At.After(now), "%s of license %d at %v is in the future", ev.Event, ev.LicenseID, ev.At)
				assert.Contains(t, schedule, ev.At, "%s of license %d is a moment Compute schedules", ev.Event, ev.LicenseID)
				if i > 0 {
					prev := x.Timeline[i-1]
					assert.True(t, prev.At.Before(ev.At) || prev.At.Equal(ev.At) && prev.LicenseID < ev.LicenseID,
						"the timeline is ordered by time, then license: %v/%d before %v/%d", prev.At, prev.LicenseID, ev.At, ev.LicenseID)
				}
				listed[ev.At] = append(listed[ev.At], ev)
			}

			for _, m := range schedule {
				before, _ := license.Compute(licenses, m.Add(-time.Nanosecond), story.usage)
				at, _ := license.Compute(licenses, m, story.usage)
				flipped := featureDiff(before, at)
				events, isListed := listed[m]
				if !isListed {
					assert.Empty(t, flipped, "features change at %v (day %v) but the timeline does not list it", m, m.Sub(now)/day)
					continue
				}
				for _, ev := range events {
					assert.Equal(t, flipped, changesText(ev.Changes),
						"the changes listed for %s of license %d at %v are what really flips then", ev.Event, ev.LicenseID, m)
				}
			}
		})
	}
}

func TestExplainTimelineNamesEachLicenseEvent(t *testing.T) {
	licenses := storedLicenses(t, stories[0].terms)
	x := license.Explain(licenses, now, stories[0].usage)

	type entry struct {
		after   time.Duration
		event   license.Event
		license int64
		changes map[string]string
	}
	var got []entry
	for _, ev := range x.Timeline {
		got = append(got, entry{ev.At.Sub(now), ev.Event, ev.LicenseID, changesText(ev.Changes)})
	}
	enterprise := func(from, to license.Entitlement) map[string]string {
		m := map[string]string{}
		for _, name := range allBut("user_limit", "custom_roles", "multiple_organizations") {
			m[name] = fmt.Sprintf("%s/- -> %s/-", from, to)
		}
		return m
	}
	assert.Equal(t, []entry{
		{40 * day, license.EventEntersGrace, 1, map[string]string{
			"scim": "entitled/- -> grace_period/-", "user_limit": "entitled/5 -> grace_period/5",
		}},
		{47 * day, license.EventExpires, 1, map[string]string{
			"scim": "grace_period/- -> not_entitled/-", "user_limit": "grace_period/5 -> not_entitled/-",
		}},
		{50 * day, license.EventStarts, 2, enterprise(license.EntitlementNotEntitled, license.EntitlementEntitled)},
		{60*day + 5*time.Hour, license.EventEntersGrace, 2, enterprise(license.EntitlementEntitled, license.EntitlementGracePeriod)},
		{67 * day, license.EventExpires, 2, enterprise(license.EntitlementGracePeriod, license.EntitlementNotEntitled)},
	}, got)

	t.Run("a renewal's hand-over is listed for both licenses with nothing changing", func(t *testing.T) {
		x := license.Explain(storedLicenses(t, stories[1].terms), now, stories[1].usage)
		type entry struct {
			after   time.Duration
			event   license.Event
			license int64
			changes int
		}
		var got []entry
		for _, ev := range x.Timeline {
			got = append(got, entry{ev.At.Sub(now), ev.Event, ev.LicenseID, len(ev.Changes)})
		}
		assert.Equal(t, []entry{
			{10 * day, license.EventEntersGrace, 1, 0},
			{10 * day, license.EventStarts, 2, 0},
			{17 * day, license.EventExpires, 1, 0},
			{382 * day, license.EventEntersGrace, 2, 2},
			{389 * day, license.EventExpires, 2, 2},
		}, got)
	})
}

func TestExplainDiagnosticsAreComputesWarningsAndErrors(t *testing.T) {
	invalid := license.Stored{
		ID:   9,
		UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000009"),
		Err:  &license.Error{Message: "Invalid license", Detail: `unknown key id "retired"`},
	}
	for _, story := range stories {
		t.Run(story.name, func(t *testing.T) {
			licenses := append(storedLicenses(t, story.terms), invalid)
			// Every moment of the story, and now, so each kind of diagnostic is met.
			for _, at := range append([]time.Time{now}, computeSchedule(t, licenses, now, story.usage)...) {
				ent, _ := license.Compute(licenses, at, story.usage)
				x := license.Explain(licenses, at, story.usage)
				var warnings, errors []string
				for _, d := range x.Diagnostics {
					assert.Contains(t, license.Codes(), d.Code)
					switch d.Severity {
					case license.SeverityWarning:
						warnings = append(warnings, d.Message)
					case license.SeverityError:
						errors = append(errors, d.Message)
					default:
						t.Errorf("diagnostic %s has severity %q", d.Code, d.Severity)
					}
				}
				assert.Equal(t, ent.Warnings, nonNil(warnings), "warnings at day %v", at.Sub(now)/day)
				assert.Equal(t, ent.Errors, nonNil(errors), "errors at day %v", at.Sub(now)/day)
			}
		})
	}
}

func TestExplainDiagnosticCodes(t *testing.T) {
	invalid := license.Stored{
		ID:   9,
		UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000009"),
		Err:  &license.Error{Message: "Invalid license", Detail: `unknown key id "retired"`},
	}
	tests := []struct {
		name    string
		terms   []term
		invalid bool
		usage   license.Usage
		want    []license.Diagnostic
	}{
		{
			name:    "a stored license that no longer verifies is license_invalid, naming it",
			invalid: true,
			want: []license.Diagnostic{{
				Code: license.CodeLicenseInvalid, Severity: license.SeverityError, LicenseID: ptr(int64(9)),
				Message: `Invalid license (aaaaaaaa-0000-4000-8000-000000000009): unknown key id "retired"`,
			}},
		},
		{
			name:  "a feature only a license in grace grants is feature_in_grace, with the license and when its grace ends",
			terms: []term{{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"scim": 1}}},
			want: []license.Diagnostic{{
				Code: license.CodeFeatureInGrace, Severity: license.SeverityWarning, Feature: "scim", LicenseID: ptr(int64(1)),
				At: now.Add(6 * day), Message: "SCIM is enabled but your license for this feature is expired.",
			}},
		},
		{
			name: "of two licenses in grace the one that keeps the feature longest is named",
			terms: []term{
				{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"scim": 1}},
				{nbf: -90 * day, paidUntil: -day, exp: 8 * day, features: map[string]int64{"scim": 1}},
			},
			want: []license.Diagnostic{{
				Code: license.CodeFeatureInGrace, Severity: license.SeverityWarning, Feature: "scim", LicenseID: ptr(int64(2)),
				At: now.Add(8 * day), Message: "SCIM is enabled but your license for this feature is expired.",
			}},
		},
		{
			name: "a paid term ending soon is license_expiring, at the end of the coverage, naming the license that ends it",
			terms: []term{
				{nbf: -300 * day, paidUntil: 5 * day, exp: 12 * day, features: map[string]int64{"scim": 1}},
				{nbf: 5 * day, paidUntil: 20 * day, exp: 27 * day, features: map[string]int64{"scim": 1}},
			},
			want: []license.Diagnostic{{
				Code: license.CodeLicenseExpiring, Severity: license.SeverityWarning, LicenseID: ptr(int64(2)),
				At: now.Add(20 * day), Message: "Your license expires in 20 days.",
			}},
		},
		{
			name:  "more active users than the limit is user_limit_exceeded",
			terms: []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"user_limit": 10}}},
			usage: license.Usage{ActiveUsers: 11},
			want: []license.Diagnostic{{
				Code: license.CodeUserLimitExceeded, Severity: license.SeverityWarning, Feature: "user_limit", LicenseID: ptr(int64(1)),
				Message: "Your deployment has 11 active users but is only licensed for 10.",
			}},
		},
		{
			name:  "a user limit from a license in grace is user_limit_in_grace, with when the grace ends",
			terms: []term{{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"user_limit": 10}}},
			usage: license.Usage{ActiveUsers: 3},
			want: []license.Diagnostic{{
				Code: license.CodeUserLimitInGrace, Severity: license.SeverityWarning, Feature: "user_limit", LicenseID: ptr(int64(1)),
				At: now.Add(6 * day), Message: "Your deployment has 3 active users but the license with the limit 10 is expired.",
			}},
		},
		{
			name:  "several replicas without high availability is ha_not_entitled",
			terms: []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1}}},
			usage: license.Usage{Replicas: 2},
			want: []license.Diagnostic{{
				Code: license.CodeHANotEntitled, Severity: license.SeverityError, Feature: "high_availability",
				Message: "You have multiple replicas but your license is not entitled to high availability.",
			}},
		},
		{
			name:  "several replicas and no license at all is ha_not_entitled too",
			usage: license.Usage{Replicas: 2},
			want: []license.Diagnostic{{
				Code: license.CodeHANotEntitled, Severity: license.SeverityError, Feature: "high_availability",
				Message: "You have multiple replicas but high availability is an Enterprise feature.",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			licenses := storedLicenses(t, tt.terms)
			if tt.invalid {
				licenses = append(licenses, invalid)
			}
			x := license.Explain(licenses, now, tt.usage)
			assert.Equal(t, tt.want, x.Diagnostics)
		})
	}
}

func TestExplainLicenseStatuses(t *testing.T) {
	licenses := storedLicenses(t, []term{
		{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1}},
		{nbf: -90 * day, paidUntil: -day, exp: 6 * day, features: map[string]int64{"scim": 1}},
		{nbf: 3 * day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1}},
		{nbf: -100 * day, paidUntil: -10 * day, exp: -3 * day, features: map[string]int64{"scim": 1}},
		{nbf: 5 * day, paidUntil: 4 * day, exp: 4 * day, features: map[string]int64{"scim": 1}},
		{nbf: -day, paidUntil: 90 * day, exp: 90 * day},
	})
	licenses = append(licenses, license.Stored{
		ID: 7, UUID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000007"),
		Err: &license.Error{Message: "Invalid license", Detail: `unknown key id "retired"`},
	})
	// Given in reverse, listed by id.
	slices.Reverse(licenses)
	x := license.Explain(licenses, now, license.Usage{})

	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	want := []struct {
		status license.Status
		counts bool
		reason []string
	}{
		{license.StatusActive, true, []string{"Entitled until " + stamp(90*day), "grace period until " + stamp(97*day)}},
		{license.StatusGrace, true, []string{"paid term ended at " + stamp(-day), "grace period until " + stamp(6*day)}},
		{license.StatusNotYetValid, false, []string{"Starts counting at " + stamp(3*day)}},
		{license.StatusExpired, false, []string{"Expired at " + stamp(-3*day)}},
		{license.StatusNotYetValid, false, []string{"expires", "before it starts", "never counts"}},
		{license.StatusActive, true, []string{"Entitled until " + stamp(90*day), "no grace period", "grants no known feature"}},
		{license.StatusInvalid, false, []string{`unknown key id "retired"`}},
	}
	require.Len(t, x.Licenses, len(want))
	for i, w := range want {
		got := x.Licenses[i]
		assert.Equal(t, int64(i+1), got.ID, "licenses are listed by id")
		assert.Equal(t, w.status, got.Status, "status of license %d", got.ID)
		assert.Equal(t, w.counts, got.Counts, "counts of license %d", got.ID)
		for _, part := range w.reason {
			assert.Contains(t, got.Reason, part, "reason of license %d", got.ID)
		}
	}
	assert.Equal(t, termUUID(1), x.Licenses[0].UUID)
}

func TestExplainSeatsAndNothingPending(t *testing.T) {
	t.Run("without licenses there is no timeline and the seats are the active users", func(t *testing.T) {
		x := license.Explain(nil, now, license.Usage{ActiveUsers: 4, Replicas: 1})
		assert.Empty(t, x.Timeline)
		assert.Empty(t, x.Diagnostics)
		assert.Empty(t, x.Licenses)
		assert.Equal(t, int64(4), x.Seats.Active)
		assert.Nil(t, x.Seats.Limit)
	})
	t.Run("the seat limit is user_limit's", func(t *testing.T) {
		licenses := storedLicenses(t, []term{{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"user_limit": 25}}})
		x := license.Explain(licenses, now, license.Usage{ActiveUsers: 4})
		assert.Equal(t, ptr(int64(25)), x.Seats.Limit)
		assert.Equal(t, int64(4), x.Seats.HighWaterMark, "the current count until a stored mark exists")
	})
}

func TestFeatureChanges(t *testing.T) {
	before, _ := license.Compute(storedLicenses(t, []term{
		{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1, "user_limit": 10}},
	}), now, license.Usage{ActiveUsers: 3})
	after, _ := license.Compute(storedLicenses(t, []term{
		{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"scim": 1, "user_limit": 10}},
		{nbf: -day, paidUntil: 90 * day, exp: 97 * day, features: map[string]int64{"audit_log": 1, "user_limit": 50}},
	}), now, license.Usage{ActiveUsers: 3})
	assert.Equal(t, map[string]license.FeatureChange{
		"audit_log":  {From: license.EntitlementNotEntitled, To: license.EntitlementEntitled},
		"user_limit": {From: license.EntitlementEntitled, To: license.EntitlementEntitled, FromLimit: ptr(int64(10)), ToLimit: ptr(int64(50))},
	}, license.FeatureChanges(before, after))
	assert.Empty(t, license.FeatureChanges(before, before))
}
