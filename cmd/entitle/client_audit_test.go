package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
)

func TestClientAudit(t *testing.T) {
	e, owner, issuer := newSignedInCLIEnv(t)

	t.Run("without audit_log the log is empty and says why", func(t *testing.T) {
		res := e.run("", "audit")
		res.ok(t)
		assert.Equal(t, "No audit entries yet: changes are recorded only while a license grants audit_log.\n", res.stdout)
	})

	file := filepath.Join(t.TempDir(), "license.jwt")
	require.NoError(t, os.WriteFile(file, []byte(signLicense(t, issuer, map[string]int64{"audit_log": 1})), 0o600))
	e.run("", "licenses", "add", file).ok(t)
	e.run("", "organizations", "create", "platform").ok(t)
	e.inst.CreateMember(t, owner, "dana")
	e.run("", "users", "suspend", "dana").ok(t)

	t.Run("audit shows the newest entries first, in words, with when and what changed", func(t *testing.T) {
		res := e.run("", "audit")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 5, res.stdout)
		assert.Regexp(t, `^WHEN\s+WHAT\s+STATUS$`, lines[0])
		when := `^(now|\d+ seconds? ago) \(` + dateInWordsRE + `\)\s+`
		assert.Regexp(t, when+`owner updated user dana \(status: active -> suspended\)\s+200$`, lines[1])
		assert.Regexp(t, when+`dana logged in\s+201$`, lines[2])
		assert.Regexp(t, when+`owner created user dana\s+201$`, lines[3])
		assert.Regexp(t, when+`owner created organization platform\s+201$`, lines[4])
	})

	t.Run("audit --query and --limit select, and say how many more there are", func(t *testing.T) {
		res := e.run("", "audit", "--query", "resource_type:user", "--limit", "1")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 3, res.stdout)
		assert.Contains(t, lines[1], "owner updated user dana")
		assert.Equal(t, "1 of 2 entries; raise --limit to see more.", lines[2])

		res = e.run("", "audit", "-q", "action:delete")
		res.ok(t)
		assert.Equal(t, "No audit entries match the query.\n", res.stdout)
	})

	t.Run("audit as json prints the API's answer", func(t *testing.T) {
		res := e.run("", "audit", "-q", "organization", "-o", "json")
		res.ok(t)
		var page struct {
			AuditLogs []struct {
				Action         string `json:"action"`
				ResourceTarget string `json:"resource_target"`
			} `json:"audit_logs"`
			Count int `json:"count"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &page), res.stdout)
		assert.False(t, strings.HasSuffix(res.stdout, "\n\n"), "one line break ends it, no blank line")
		require.Equal(t, 1, page.Count)
		assert.Equal(t, "platform", page.AuditLogs[0].ResourceTarget)
	})

	t.Run("a bad query or limit is refused with the server's words", func(t *testing.T) {
		e.run("", "audit", "-q", "colour:blue").fails(t, "Invalid audit search query.")
		e.run("", "audit", "--limit", "0").fails(t, "Query parameters have invalid values.")
	})

	t.Run("the audit log is the owner's", func(t *testing.T) {
		_, memberToken := e.inst.CreateMember(t, owner, "bob")
		env := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + memberToken}
		e.runEnv(env, "", "audit").fails(t, "Only the owner can read the audit log.")
	})
}

func TestAuditSentences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry gen.AuditLog
		want  string
	}{
		{
			name: "a change names who made it and what changed",
			entry: gen.AuditLog{Action: "write", Description: "{user} updated organization {target}", ResourceTarget: "crew", StatusCode: 200,
				User: &gen.User{Username: "owner"}, Diff: map[string]gen.AuditDiffField{
					"name": {Old: "crew", New: "team"}, "description": {Old: "", New: "ours"},
				}},
			want: `owner updated organization crew (description: "" -> ours, name: crew -> team)`,
		},
		{
			name: "a secret that changed is named, never shown",
			entry: gen.AuditLog{Action: "write", Description: "{user} updated user {target}", ResourceTarget: "dana", StatusCode: 200,
				User: &gen.User{Username: "dana"}, Diff: map[string]gen.AuditDiffField{"hashed_password": {Secret: true}}},
			want: "dana updated user dana (hashed_password changed)",
		},
		{
			name: "the deployment's own change has no user: entitle made it",
			entry: gen.AuditLog{Action: "write", Description: "{user} updated user {target}", ResourceTarget: "eve", StatusCode: 200,
				Diff: map[string]gen.AuditDiffField{"status": {Old: "active", New: "dormant"}}},
			want: "entitle updated user eve (status: active -> dormant)",
		},
		{
			name:  "a refused sign-in for an unknown email has no user",
			entry: gen.AuditLog{Action: "login", Description: "{user} unsuccessfully attempted to login", StatusCode: 401},
			want:  "an unknown user unsuccessfully attempted to login",
		},
		{
			name: "a member's entry names the organization, by its name as it is now",
			entry: gen.AuditLog{Action: "delete", Description: "{user} deleted organization member {target}", ResourceTarget: "dana",
				ResourceType: gen.AuditResourceTypeOrganizationMember, StatusCode: 204, User: &gen.User{Username: "owner"},
				Organization: &gen.MinimalOrganization{Name: "acme", DisplayName: "Acme Corp"}},
			want: "owner deleted organization member dana in acme",
		},
		{
			name: "a member's entry whose organization is gone names none",
			entry: gen.AuditLog{Action: "delete", Description: "{user} deleted organization member {target}", ResourceTarget: "dana",
				ResourceType: gen.AuditResourceTypeOrganizationMember, StatusCode: 204, User: &gen.User{Username: "owner"}},
			want: "owner deleted organization member dana",
		},
		{
			name:  "a creation shows no fields, and an empty target leaves no trailing space",
			entry: gen.AuditLog{Action: "create", Description: "{user} created token {target}", StatusCode: 201, User: &gen.User{Username: "ci"}},
			want:  "ci created token",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, auditSentence(tc.entry))
		})
	}
}
