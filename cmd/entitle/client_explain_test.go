package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dateInWordsRE is how the timeline writes a moment: "Wed 9 Dec 2026, 14:00 UTC".
const dateInWordsRE = `[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC`

func TestClientExplainAndPreview(t *testing.T) {
	e, owner, issuer := newSignedInCLIEnv(t)
	file := filepath.Join(t.TempDir(), "license.jwt")
	require.NoError(t, os.WriteFile(file, []byte(signLicense(t, issuer, map[string]int64{"user_limit": 10, "audit_log": 1})+"\n"), 0o600))

	t.Run("licenses preview shows what adding would change and stores nothing", func(t *testing.T) {
		res := e.run("", "licenses", "preview", file)
		res.ok(t)
		assert.Regexp(t, `(?m)^License [0-9a-f-]{36} passes every check and was not added\.$`, res.stdout)
		assert.Regexp(t, `(?m)^Adding it would change:$`, res.stdout)
		assert.Regexp(t, `(?m)^  audit_log: not_entitled -> entitled$`, res.stdout)
		assert.Regexp(t, `(?m)^  user_limit: not_entitled -> entitled \(limit 10\)$`, res.stdout)
		assert.Regexp(t, `(?m)^Warning \(license_expiring\): Your license expires in 20 days\.$`, res.stdout)
		assert.Regexp(t, `(?m)^  in 20 days \(`+dateInWordsRE+`\)\s+the previewed license enters its grace period$`, res.stdout)

		res = e.run("", "licenses", "list")
		res.ok(t)
		assert.Regexp(t, `^ID\s+UUID\s+UPLOADED AT\s+EXPIRES\s+FEATURES\n$`, res.stdout, "nothing was added")
	})

	t.Run("licenses preview as json prints the API's answer", func(t *testing.T) {
		res := e.run("", "licenses", "preview", "-f", file, "-o", "json")
		res.ok(t)
		var preview struct {
			License       map[string]any `json:"license"`
			ExplainBefore map[string]any `json:"explain_before"`
			ExplainAfter  map[string]any `json:"explain_after"`
			Changes       map[string]any `json:"changes"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &preview), res.stdout)
		assert.Contains(t, preview.Changes, "audit_log")
		assert.Contains(t, preview.ExplainAfter, "timeline")
	})

	t.Run("licenses preview refuses what an upload refuses", func(t *testing.T) {
		e.run("not-a-license", "licenses", "preview", "-").fails(t, "standard input does not hold a license")
		e.run("", "licenses", "add", file).ok(t)
		e.run("", "licenses", "preview", file).fails(t, "License has already been added.")
	})

	t.Run("entitlements explain reads as a timeline with dates in words", func(t *testing.T) {
		res := e.run("", "entitlements", "explain")
		res.ok(t)
		assert.Regexp(t, `(?m)^Licenses:$`, res.stdout)
		assert.Regexp(t, `(?m)^  1\s+[0-9a-f-]{36}\s+active\s+counts\s+Entitled until `, res.stdout)
		assert.Regexp(t, `(?m)^Warning \(license_expiring\): Your license expires in 20 days\.$`, res.stdout)
		assert.Regexp(t, `(?m)^Timeline:$`, res.stdout)
		assert.Regexp(t, `(?m)^  in 20 days \(`+dateInWordsRE+`\)\s+license 1 enters its grace period$`, res.stdout)
		assert.Regexp(t, `(?m)^      audit_log: entitled -> grace_period$`, res.stdout)
		assert.Regexp(t, `(?m)^  in 27 days \(`+dateInWordsRE+`\)\s+license 1 expires$`, res.stdout)
		assert.Regexp(t, `(?m)^      user_limit: grace_period \(limit 10\) -> not_entitled$`, res.stdout)
		assert.Regexp(t, `(?m)^Seats: 1 active, 0 dormant, 0 suspended; limit 10; high-water mark 1\.$`, res.stdout)

		res = e.run("", "entitlements", "explain", "-o", "json")
		res.ok(t)
		var x struct {
			Timeline []struct {
				Event string `json:"event"`
			} `json:"timeline"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &x), res.stdout)
		require.Len(t, x.Timeline, 2)
		assert.Equal(t, "enters_grace", x.Timeline[0].Event)
	})

	t.Run("entitlements still shows the features, as a command of its own too", func(t *testing.T) {
		for _, args := range [][]string{{"entitlements"}, {"entitlements", "show"}, {"entitlements", "-o", "table"}} {
			res := e.run("", args...)
			res.ok(t)
			assert.Regexp(t, `(?m)^audit_log\s+entitled\s+true\s`, res.stdout, args)
		}
	})

	t.Run("explain and preview are the owner's", func(t *testing.T) {
		_, memberToken := e.inst.CreateMember(t, owner, "bob")
		env := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + memberToken}
		e.runEnv(env, "", "entitlements", "explain").fails(t, "Forbidden.")
		e.runEnv(env, "", "licenses", "preview", file).fails(t, "Forbidden.")
		e.runEnv([]string{"ENTITLE_URL=" + e.inst.URL}, "", "entitlements", "explain", "--global-config", t.TempDir()).
			fails(t, "You are not signed in")
	})
}

func TestRelativeTimes(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(12*24*time.Hour - 5*time.Second), "in 12 days"},
		{now.Add(49 * time.Hour), "in 2 days"},
		{now.Add(47 * time.Hour), "in 47 hours"},
		{now.Add(90 * time.Minute), "in 90 minutes"},
		{now.Add(3 * time.Hour), "in 3 hours"},
		{now.Add(61 * time.Second), "in 61 seconds"},
		{now.Add(time.Second), "in 1 second"},
		{now, "now"},
		{now.Add(-3 * 24 * time.Hour), "3 days ago"},
		// Further than a time.Duration holds (292 years): a license may end in 9999.
		{time.Date(9999, 11, 27, 12, 0, 0, 0, time.UTC), "in 2912078 days"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "20785 days ago"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, relativeTime(tc.at, now))
		})
	}
	assert.Equal(t, "Wed 9 Dec 2026, 14:00 UTC", dateInWords(time.Date(2026, 12, 9, 15, 0, 0, 0, time.FixedZone("CET", 3600))))
}
