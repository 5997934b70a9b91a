package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientOrganizationMembers runs the real binary: the caller's organizations, and listing,
// adding and removing members.
func TestClientOrganizationMembers(t *testing.T) {
	bin := buildBinary(t)
	e := newCLIEnv(t, bin)
	owner := e.login(t)
	e.run("", "organizations", "create", "crew").ok(t)
	e.run("", "organizations", "create", "spare").ok(t)
	e.run("", "organizations", "create", "hidden").ok(t)
	_, aliceToken := e.inst.CreateMember(t, owner, "alice")

	t.Run("show me lists the caller's organizations", func(t *testing.T) {
		res := e.run("", "organizations", "show", "me")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 5, res.stdout)
		assert.Regexp(t, `^ID\s+NAME\s+DEFAULT\s+CREATED AT$`, lines[0])
		assert.Regexp(t, `^[0-9a-f-]{36}\s+first-organization\s+true\s`, lines[1])
		assert.Contains(t, lines[2], "crew")
		assert.Contains(t, lines[3], "spare")

		asAlice := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + aliceToken}
		res = e.runEnv(asAlice, "", "organizations", "show", "me", "-o", "json")
		res.ok(t)
		var orgs []struct {
			Name string `json:"name"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &orgs), res.stdout)
		require.Len(t, orgs, 1)
		assert.Equal(t, "first-organization", orgs[0].Name)
	})

	t.Run("members add, list and remove", func(t *testing.T) {
		res := e.run("", "organizations", "members", "add", "alice", "--org", "crew")
		res.ok(t)
		assert.Equal(t, "alice is now a member of crew.\n", res.stdout)

		res = e.run("", "org", "members", "ls", "-O", "CREW")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 3, res.stdout)
		assert.Regexp(t, `^USERNAME\s+EMAIL\s+ROLES\s+JOINED AT$`, lines[0])
		assert.Regexp(t, `^owner\s+owner@example.com\s+organization-member, organization-admin\s`, lines[1])
		assert.Regexp(t, `^alice\s+alice@example.com\s+organization-member\s`, lines[2])

		res = e.run("", "organizations", "members", "list", "--org", "crew", "-o", "json")
		res.ok(t)
		var members []struct {
			Username string `json:"username"`
			UserID   string `json:"user_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &members), res.stdout)
		require.Len(t, members, 2)

		res = e.run("", "organizations", "members", "list")
		res.ok(t)
		assert.Contains(t, res.stdout, "alice", "without --org the default organization is listed")
		res = e.runEnv([]string{"ENTITLE_ORGANIZATION=spare"}, "", "organizations", "members", "list")
		res.ok(t)
		assert.NotContains(t, res.stdout, "alice", "ENTITLE_ORGANIZATION picks the organization")

		res = e.run("", "organizations", "members", "add", "alice", "--org", "spare", "-o", "json")
		res.ok(t)
		var added struct {
			UserID string `json:"user_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &added), res.stdout)
		assert.Equal(t, members[1].UserID, added.UserID)

		res = e.run("", "organizations", "members", "remove", "alice", "--org", "crew")
		res.ok(t)
		assert.Equal(t, "alice is no longer a member of crew.\n", res.stdout)
		res = e.run("", "organizations", "members", "list", "--org", "crew")
		res.ok(t)
		assert.NotContains(t, res.stdout, "alice")
	})

	t.Run("failures print the server's message", func(t *testing.T) {
		e.run("", "organizations", "members", "remove", "me", "--org", "crew").fails(t, "cannot remove self from an organization")
		e.run("", "organizations", "members", "remove", "alice", "--org", "crew").fails(t, "Resource not found or you do not have access to this resource")
		e.run("", "organizations", "members", "add", "nobody", "--org", "crew").fails(t, `organization "crew" or user "nobody" was not found, or you cannot see it`)
		e.run("", "organizations", "members", "list", "--org", "no-such-org").fails(t, `organization "no-such-org" was not found`)
		asAlice := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + aliceToken}
		e.runEnv(asAlice, "", "organizations", "members", "list", "--org", "hidden").fails(t, `organization "hidden" was not found, or you cannot see it`)
		e.runEnv(asAlice, "", "organizations", "members", "add", "owner").fails(t, "Forbidden.")
	})

	t.Run("members need a session", func(t *testing.T) {
		fresh := newCLIEnvOn(t, bin, e.inst)
		fresh.run("", "organizations", "members", "list").fails(t, "You are not signed in.")
		fresh.run("", "organizations", "show", "me").fails(t, "You are not signed in.")
	})

}
