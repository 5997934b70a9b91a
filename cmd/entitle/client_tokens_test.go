package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var keyLine = regexp.MustCompile(`^([0-9A-Za-z]{10})-[0-9A-Za-z]{22}\n$`)

// TestTokensCommands runs `entitle tokens` from the real binary against a real server.
func TestTokensCommands(t *testing.T) {
	bin := buildBinary(t)

	t.Run("create prints only the token, which then signs in", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)

		res := e.run("", "tokens", "create", "--name", "ci", "--lifetime", "24h")
		res.ok(t)
		require.Regexp(t, keyLine, res.stdout)
		key := strings.TrimSpace(res.stdout)

		e.run("", "organizations", "list", "--url", e.inst.URL, "--token", key).ok(t)
		res = e.runEnv([]string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + key}, "", "tokens", "list")
		res.ok(t)
		assert.Contains(t, res.stdout, "ci", "the token lists itself")

		res = e.run("", "tokens", "create", "-o", "json")
		res.ok(t)
		var created struct {
			Key string `json:"key"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &created), res.stdout)
		assert.Regexp(t, keyLine, created.Key+"\n")
	})

	t.Run("list shows names and times as a table and the API's JSON", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		ci := e.run("", "tokens", "create", "-n", "ci", "--lifetime", "48h")
		ci.ok(t)
		e.run("", "tokens", "create", "-n", "deploy").ok(t)

		res := e.run("", "tokens", "list")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 3, res.stdout)
		assert.Regexp(t, `^ID\s+NAME\s+LAST USED\s+EXPIRES AT\s+CREATED AT$`, lines[0])
		id := keyLine.FindStringSubmatch(ci.stdout)[1]
		assert.Regexp(t, `^`+id+`\s+ci\s+\d{4}-\d\d-\d\dT\S+Z\s+\S+\s+\S+$`, lines[1], "oldest first")
		assert.Regexp(t, `^[0-9A-Za-z]{10}\s+deploy\s`, lines[2])

		res = e.run("", "tokens", "ls", "-o", "json")
		res.ok(t)
		var tokens []struct {
			ID        string    `json:"id"`
			TokenName string    `json:"token_name"`
			Username  string    `json:"username"`
			LoginType string    `json:"login_type"`
			ExpiresAt time.Time `json:"expires_at"`
			CreatedAt time.Time `json:"created_at"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &tokens), res.stdout)
		require.Len(t, tokens, 2)
		assert.Equal(t, "ci", tokens[0].TokenName)
		assert.Equal(t, id, tokens[0].ID)
		assert.Equal(t, "owner", tokens[0].Username)
		assert.Equal(t, "token", tokens[0].LoginType)
		assert.Equal(t, 48*time.Hour, tokens[0].ExpiresAt.Sub(tokens[0].CreatedAt))
		assert.Equal(t, 30*24*time.Hour, tokens[1].ExpiresAt.Sub(tokens[1].CreatedAt), "the server's default")
	})

	t.Run("list --all shows every user's tokens to the owner, with their owners", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		owner := e.login(t)
		_, member := e.inst.CreateMember(t, owner, "bob")
		e.run("", "tokens", "create", "-n", "owner-ci").ok(t)
		asBob := []string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + member}
		e.runEnv(asBob, "", "tokens", "create", "-n", "bob-ci").ok(t)

		res := e.run("", "tokens", "list", "--all")
		res.ok(t)
		assert.Regexp(t, `^ID\s+NAME\s+LAST USED\s+EXPIRES AT\s+CREATED AT\s+OWNER\n`, res.stdout)
		assert.Regexp(t, `(?m)^\S+\s+owner-ci\s.*\sowner$`, res.stdout)
		assert.Regexp(t, `(?m)^\S+\s+bob-ci\s.*\sbob$`, res.stdout)

		res = e.runEnv(asBob, "", "tokens", "list", "--all")
		res.ok(t)
		assert.Contains(t, res.stdout, "bob-ci")
		assert.NotContains(t, res.stdout, "owner-ci", "a member sees only their own tokens")

		res = e.run("", "tokens", "list", "--user", "bob")
		res.ok(t)
		assert.Contains(t, res.stdout, "bob-ci")
		assert.NotContains(t, res.stdout, "owner-ci")
		e.runEnv(asBob, "", "tokens", "list", "--user", "owner").fails(t, "Resource not found or you do not have access to this resource")
	})

	t.Run("remove by name, by id or by the token itself; the token stops working", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		keys := map[string]string{}
		for _, name := range []string{"by-name", "by-id", "by-token"} {
			res := e.run("", "tokens", "create", "-n", name)
			res.ok(t)
			keys[name] = strings.TrimSpace(res.stdout)
		}

		for name, ref := range map[string]string{
			"by-name":  "by-name",
			"by-id":    keyLine.FindStringSubmatch(keys["by-id"] + "\n")[1],
			"by-token": keys["by-token"],
		} {
			res := e.run("", "tokens", "remove", ref)
			res.ok(t)
			assert.Equal(t, "Token "+ref+" deleted.\n", res.stdout)
			e.run("", "organizations", "list", "--url", e.inst.URL, "--token", keys[name]).fails(t, "You are signed out")
		}
		res := e.run("", "tokens", "list")
		res.ok(t)
		assert.Equal(t, 1, strings.Count(res.stdout, "\n"), "only the header is left: %s", res.stdout)

		e.run("", "tokens", "rm", "by-name").fails(t, `you have no token named or with the id "by-name". See 'entitle tokens list'; another user's token needs --user USER`)
		res = e.run("", "tokens", "rm", keys["by-token"])
		res.fails(t, `you have no token with the id "`+keyLine.FindStringSubmatch(keys["by-token"] + "\n")[1]+`"`)
		assert.NotContains(t, res.stderr, keys["by-token"], "the token itself is never echoed")
		e.run("", "tokens", "rm", "by-name", "--user", "owner").fails(t, `owner has no token named or with the id "by-name", or you cannot see their tokens. See 'entitle tokens list --user owner'`)
	})

	t.Run("failures print the server's message", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		e.run("", "tokens", "create", "-n", "ci").ok(t)

		res := e.run("", "tokens", "create", "-n", "ci")
		res.fails(t, `A token with name "ci" already exists.`)
		assert.Contains(t, res.stderr, "name: This value is already in use and should be unique.")

		res = e.run("", "tokens", "create", "--lifetime", "721h")
		res.fails(t, "Failed to validate create API key request.")
		assert.Contains(t, res.stderr, "lifetime must be less than 720h0m0s")

		res = e.run("", "tokens", "create", "-n", "not a name")
		res.fails(t, "Validation failed.")
		assert.Contains(t, res.stderr, "token_name: ")
	})

	t.Run("the server reads --max-token-lifetime and ENTITLE_MAX_TOKEN_LIFETIME", func(t *testing.T) {
		t.Parallel()
		e := &cliEnv{bin: bin, configDir: t.TempDir()}
		e.run("", "server", "--max-token-lifetime=-1h", "--data-dir", t.TempDir()).
			fails(t, "--max-token-lifetime must not be negative")
		e.runEnv([]string{"ENTITLE_MAX_TOKEN_LIFETIME=-1h"}, "", "server", "--data-dir", t.TempDir()).
			fails(t, "--max-token-lifetime must not be negative")
	})

	t.Run("without a session every tokens command says to sign in", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		for _, args := range [][]string{{"tokens", "create"}, {"tokens", "list"}, {"tokens", "remove", "ci"}} {
			e.run("", args...).fails(t, "You are not signed in. Run 'entitle login URL' first.")
		}
	})
}
