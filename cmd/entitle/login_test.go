package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"entitle/internal/testenv"
)

// TestLoginBootstrapsAndExplains runs the real binary as a new user would on a fresh server.
func TestLoginBootstrapsAndExplains(t *testing.T) {
	bin := buildBinary(t)

	t.Run("login on a server with no users says so and how to create the first one", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		res := e.run("", "login", e.inst.URL, "--email", "someone@example.com", "--password", "whatever-pass")
		res.fails(t, "has no users yet")
		assert.Contains(t, res.stderr, "--first-user-email")
		assert.NotContains(t, res.stderr, "Incorrect email or password")
	})

	t.Run("login on a server that is not entitle says so, not that it has no users", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		other := httptest.NewServer(http.NotFoundHandler()) // a metrics port, a web server
		t.Cleanup(other.Close)
		res := e.run("", "login", other.URL, "--email", "someone@example.com", "--password", "whatever-pass")
		res.fails(t, "is not an entitle server")
		assert.NotContains(t, res.stderr, "no users yet")
	})

	t.Run("login with only some --first-user-* flags names the missing ones", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		res := e.run("", "login", e.inst.URL, "--first-user-email", "admin@example.com", "--first-user-username", "admin")
		res.fails(t, "has no users yet")
		assert.Contains(t, res.stderr, "missing: --first-user-password")
	})

	t.Run("login with --first-user-* creates the owner and signs in", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		res := e.run("", "login", e.inst.URL, "--first-user-email", "admin@example.com",
			"--first-user-username", "admin", "--first-user-password", "correct-horse")
		res.ok(t)
		assert.Contains(t, res.stdout, "Welcome, admin!")
		assert.Contains(t, res.stderr, "Created the first user")
		e.run("", "organizations", "list").ok(t)

		// Once a user exists, the same command simply signs in.
		res = e.run("", "login", e.inst.URL, "--first-user-email", "admin@example.com",
			"--first-user-username", "admin", "--first-user-password", "correct-horse")
		res.ok(t)
		assert.NotContains(t, res.stderr, "Created the first user")
	})

	t.Run("the first-user flags come from the environment too", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		res := e.runEnv([]string{"ENTITLE_FIRST_USER_EMAIL=env@example.com", "ENTITLE_FIRST_USER_USERNAME=envadmin",
			"ENTITLE_FIRST_USER_PASSWORD=correct-horse"}, "", "login", e.inst.URL)
		res.ok(t)
		assert.Contains(t, res.stdout, "Welcome, envadmin!")
	})

	t.Run("an invalid email is reported as such, not as a network failure", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)
		res := e.run("", "login", e.inst.URL, "--email", "not-an-email", "--password", testenv.OwnerPassword)
		res.fails(t, `"not-an-email" is not an email address`)
		assert.NotContains(t, res.stderr, "could not talk to the server")
	})
}
