package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsersAndNotFoundCommands(t *testing.T) {
	bin := buildBinary(t)

	t.Run("users create and list, as tables and json", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		res := e.run("sdk-pass-123\n", "users", "create", "--email", "dana@example.com", "--username", "dana",
			"--full-name", "Dana Scully", "--password-stdin")
		res.ok(t)
		assert.Regexp(t, `(?m)^[0-9a-f-]{36}\s+dana\s+dana@example.com\s+active\s+member\s`, res.stdout)

		res = e.run("", "users", "list", "dan", "-o", "json")
		res.ok(t)
		var list struct {
			Users []struct {
				Username string `json:"username"`
				Name     string `json:"name"`
			} `json:"users"`
			Count int `json:"count"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &list), res.stdout)
		require.Equal(t, 1, list.Count)
		assert.Equal(t, "Dana Scully", list.Users[0].Name)

		e.run("", "users", "create", "--email", "not-an-email", "--username", "x", "--password", "whatever-1").fails(t, `"not-an-email" is not an email address`)
		e.run("", "users", "create", "--email", "e@example.com", "--username", "e", "--password", "whatever-1", "--org-id", "nope").
			fails(t, `--org-id "nope" is not an organization id`)
		e.run("", "users", "list", "status:asleep").fails(t, "Invalid user search query.")
	})

	t.Run("users suspend and activate, as sentences and json", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		owner := e.login(t)
		_, danaToken := e.inst.CreateMember(t, owner, "dana")
		asDana := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + danaToken}
		e.runEnv(asDana, "", "organizations", "list").ok(t)

		res := e.run("", "users", "suspend", "dana")
		res.ok(t)
		assert.Equal(t, "dana is now suspended: they take no seat, and their sign-ins and tokens are refused until 'entitle users activate dana'.\n", res.stdout)
		assert.Regexp(t, `(?m)^[0-9a-f-]{36}\s+dana\s+dana@example.com\s+suspended\s`, e.run("", "users", "list", "dana").stdout)
		e.runEnv(asDana, "", "organizations", "list").fails(t, `User is not active (status = "suspended")`)

		res = e.run("", "users", "activate", "dana", "-o", "json")
		res.ok(t)
		var user struct {
			Username string `json:"username"`
			Status   string `json:"status"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &user), res.stdout)
		assert.Equal(t, "dana", user.Username)
		assert.Equal(t, "active", user.Status)
		e.runEnv(asDana, "", "organizations", "list").ok(t)
		assert.Equal(t, "dana is now active.\n", e.run("", "users", "activate", "dana").stdout, "activating an active user is no error")

		e.run("", "users", "suspend", "owner").fails(t, "You cannot suspend yourself.")
		e.run("", "users", "suspend", "nobody").fails(t, `user "nobody" was not found, or you cannot see it. See 'entitle users list'`)
		e.runEnv(asDana, "", "users", "suspend", "owner").fails(t, "Forbidden.")
	})

	t.Run("not found names what and the listing command", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		e.run("", "organizations", "show", "nowhere").fails(t, `organization "nowhere" was not found, or you cannot see it. See 'entitle organizations list'`)
		e.run("", "organizations", "members", "list", "--org", "nowhere").fails(t, "See 'entitle organizations list'")
		e.run("", "organizations", "members", "add", "nobody").fails(t, `user "nobody" was not found, or you cannot see it. See 'entitle users list'`)
	})
}
