package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/license"
)

// TestClient runs the real binary against a real server, as a person or a script would.
// The binary is built once here rather than in TestMain so that this file does not claim the
// package's only TestMain; it lives in this test's temporary directory, which outlives the
// parallel subtests.
func TestClient(t *testing.T) {
	bin := buildBinary(t)

	t.Run("login with flags stores the session readable by its owner only", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)

		res := e.run("", "login", e.inst.URL+"/api/v2/", "--email", testenv.OwnerEmail, "--password", testenv.OwnerPassword)
		res.ok(t)
		assert.Equal(t, "Welcome, owner!\n", res.stdout)

		dirInfo, err := os.Stat(e.configDir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())
		s := e.storedSession(t)
		assert.Equal(t, e.inst.URL, s.URL, "the URL is stored without /api/v2 and the trailing slash")
		assert.NotEmpty(t, s.SessionToken)

		e.run("", "organizations", "list").ok(t)
	})

	t.Run("login with --password-stdin and --global-config", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)
		dir := filepath.Join(t.TempDir(), "elsewhere")

		res := e.runEnv(nil, testenv.OwnerPassword+"\n", "login", e.inst.URL, "--global-config", dir,
			"--email", testenv.OwnerEmail, "--password-stdin")
		res.ok(t)
		assert.Contains(t, res.stdout, "Welcome, owner!")

		info, err := os.Stat(filepath.Join(dir, "session.json"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		_, err = os.Stat(filepath.Join(e.configDir, "session.json"))
		assert.ErrorIs(t, err, os.ErrNotExist, "the flag wins over ENTITLE_CONFIG_DIR")

		e.run("", "organizations", "list", "--global-config", dir).ok(t)
	})

	t.Run("login reads the email and password as lines when stdin is not a terminal", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)

		res := e.run(testenv.OwnerEmail+"\n"+testenv.OwnerPassword+"\n", "login", e.inst.URL+"/")
		res.ok(t)
		assert.Equal(t, "Welcome, owner!\n", res.stdout)
		assert.Empty(t, res.stderr, "no prompts when nobody is typing")
		assert.Equal(t, e.inst.URL, e.storedSession(t).URL)
	})

	t.Run("login with a wrong password fails and stores nothing", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)

		res := e.run("", "login", e.inst.URL, "--email", testenv.OwnerEmail, "--password", "wrong-password")
		res.fails(t, "Incorrect email or password.")
		assert.NotContains(t, res.stderr, "entitle login", "signing in again is what the user is doing")
		_, err := os.Stat(filepath.Join(e.configDir, "session.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("login as json prints the user", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)

		res := e.run("", "login", e.inst.URL, "--email", testenv.OwnerEmail, "--password", testenv.OwnerPassword, "-o", "json")
		res.ok(t)
		var user struct {
			Username string `json:"username"`
			Email    string `json:"email"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &user), res.stdout)
		assert.Equal(t, testenv.OwnerUsername, user.Username)
		assert.Equal(t, testenv.OwnerEmail, user.Email)
	})

	t.Run("organizations create, show and list as tables and json", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)

		res := e.run("", "organizations", "create", "my-org")
		res.ok(t)
		assert.Regexp(t, `^ID\s+NAME\s+DEFAULT\s+CREATED AT\n`, res.stdout)
		assert.Regexp(t, `(?m)^[0-9a-f-]{36}\s+my-org\s+false\s+\d{4}-\d\d-\d\dT`, res.stdout)

		res = e.run("", "organizations", "show")
		res.ok(t)
		assert.Regexp(t, `(?m)^[0-9a-f-]{36}\s+first-organization\s+true\s`, res.stdout)

		res = e.run("", "org", "show", "MY-ORG", "--output", "json")
		res.ok(t)
		var org map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &org), res.stdout)
		assert.Equal(t, "my-org", org["name"])
		assert.Equal(t, false, org["is_default"])
		for _, field := range []string{"id", "created_at", "updated_at"} {
			assert.Contains(t, org, field)
		}

		res = e.run("", "organizations", "show", org["id"].(string))
		res.ok(t)
		assert.Contains(t, res.stdout, "my-org")

		res = e.run("", "organizations", "list")
		res.ok(t)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 3, res.stdout)
		assert.Contains(t, lines[1], "first-organization", "oldest first")
		assert.Contains(t, lines[2], "my-org")

		res = e.run("", "organizations", "ls", "-o", "json")
		res.ok(t)
		var orgs []struct {
			ID        uuid.UUID `json:"id"`
			Name      string    `json:"name"`
			IsDefault bool      `json:"is_default"`
			CreatedAt time.Time `json:"created_at"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &orgs), res.stdout)
		require.Len(t, orgs, 2)
		assert.Equal(t, "first-organization", orgs[0].Name)
		assert.True(t, orgs[0].IsDefault)
		assert.Equal(t, "my-org", orgs[1].Name)
		assert.NotEqual(t, uuid.Nil, orgs[1].ID)
		assert.False(t, orgs[1].CreatedAt.IsZero())
	})

	t.Run("organizations failures print the server's message", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		owner := e.login(t)

		res := e.run("", "organizations", "create", "not a valid name")
		res.fails(t, "Validation failed.")
		assert.Contains(t, res.stderr, "name: ")

		e.run("", "organizations", "create", "taken").ok(t)
		e.run("", "organizations", "create", "TAKEN").fails(t, "Organization already exists with that name.")

		e.run("", "organizations", "show", "nope").fails(t, `organization "nope" was not found, or you cannot see it. See 'entitle organizations list'`)

		// A member, through the environment rather than the stored session.
		_, memberToken := e.inst.CreateMember(t, owner, "bob")
		res = e.runEnv([]string{"ENTITLE_URL=" + e.inst.URL, "ENTITLE_SESSION_TOKEN=" + memberToken}, "", "organizations", "create", "bobs-org")
		res.fails(t, "Forbidden.")
	})

	t.Run("licenses add, list and delete, and entitlements", func(t *testing.T) {
		t.Parallel()
		issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
		cfg := testenv.Databases()[0].NewConfig(t)
		cfg.LicenseKeysDir = issuer.KeysDir
		e := newCLIEnvOn(t, bin, testenv.Start(t, cfg))
		e.login(t)

		e.run("", "entitlements").ok(t)
		first := signLicense(t, issuer, map[string]int64{"user_limit": 10, "audit_log": 1})
		file := filepath.Join(t.TempDir(), "license.jwt")
		require.NoError(t, os.WriteFile(file, []byte(first+"\n"), 0o600))

		res := e.run("", "licenses", "add", file)
		res.ok(t)
		assert.Regexp(t, `^ID\s+UUID\s+UPLOADED AT\s+EXPIRES\s+FEATURES\n`, res.stdout)
		assert.Regexp(t, `(?m)^1\s+[0-9a-f-]{36}\s+\S+\s+\S+\s+audit_log, user_limit=10$`, res.stdout)

		second := signLicense(t, issuer, map[string]int64{"scim": 1})
		res = e.run("\n"+second+"\n\n", "licenses", "add", "-", "-o", "json")
		res.ok(t)
		var added struct {
			ID     int `json:"id"`
			Claims struct {
				Features map[string]int64 `json:"features"`
			} `json:"claims"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &added), res.stdout)
		assert.Equal(t, 2, added.ID)
		assert.Equal(t, map[string]int64{"scim": 1}, added.Claims.Features)

		res = e.run(first, "licenses", "add", "-")
		res.fails(t, "License has already been added.")
		e.run("not-a-license", "licenses", "add", "-").fails(t, "standard input does not hold a license")

		res = e.run("", "licenses", "list")
		res.ok(t)
		assert.Regexp(t, `(?m)^1\s.*audit_log, user_limit=10$`, res.stdout)
		assert.Regexp(t, `(?m)^2\s.*scim$`, res.stdout)

		res = e.run("", "licenses", "list", "-o", "json")
		res.ok(t)
		var licenses []struct {
			ID int `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &licenses), res.stdout)
		assert.Len(t, licenses, 2)

		res = e.run("", "entitlements")
		res.ok(t)
		assert.Regexp(t, `^FEATURE\s+ENTITLEMENT\s+ENABLED\s+LIMIT\s+ACTUAL\n`, res.stdout)
		assert.Regexp(t, `(?m)^audit_log\s+entitled\s+true\s+-\s+-$`, res.stdout)
		assert.Regexp(t, `(?m)^scim\s+entitled\s+true\s`, res.stdout)
		assert.Regexp(t, `(?m)^user_limit\s+entitled\s+true\s+10\s+1$`, res.stdout)
		assert.Regexp(t, `(?m)^browser_only\s+not_entitled\s+false\s`, res.stdout)
		assert.Regexp(t, `(?m)^Warning: Your license expires in \d+ days?\.$`, res.stdout)

		res = e.run("", "entitlements", "-o", "json")
		res.ok(t)
		var ent struct {
			HasLicense bool `json:"has_license"`
			Features   map[string]struct {
				Entitlement string `json:"entitlement"`
			} `json:"features"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &ent), res.stdout)
		assert.True(t, ent.HasLicense)
		assert.Equal(t, "entitled", ent.Features["audit_log"].Entitlement)

		res = e.run("", "licenses", "delete", "1")
		res.ok(t)
		assert.Equal(t, "License 1 deleted.\n", res.stdout)
		e.run("", "licenses", "delete", "1").fails(t, "there is no license with id 1. See 'entitle licenses list'")
		e.run("", "licenses", "rm", "not-a-number").fails(t, `"not-a-number" is not a license id`)

		res = e.run("", "licenses", "ls")
		res.ok(t)
		assert.NotRegexp(t, `(?m)^1\s`, res.stdout)
		assert.Regexp(t, `(?m)^2\s`, res.stdout)
	})

	t.Run("licenses are the owner's business", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		owner := e.login(t)
		_, memberToken := e.inst.CreateMember(t, owner, "bob")

		e.run("", "licenses", "list", "--url", e.inst.URL, "--token", memberToken).fails(t, "Forbidden.")
	})

	t.Run("a bad token says how to sign in again", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.inst.SetupOwner(t)

		res := e.run("", "organizations", "list", "--url", e.inst.URL, "--token", "aaaaaaaaaa-bbbbbbbbbbbbbbbbbbbbbb")
		res.fails(t, "You are signed out or your session has expired.")
		assert.Contains(t, res.stderr, "entitle login")
	})

	t.Run("logout ends the session and later commands say to sign in", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		token := e.storedSession(t).SessionToken

		res := e.run("", "logout")
		res.ok(t)
		assert.Equal(t, "You are signed out.\n", res.stdout)
		_, err := os.Stat(filepath.Join(e.configDir, "session.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)

		for _, args := range [][]string{
			{"organizations", "list"}, {"organizations", "show"}, {"organizations", "create", "x"},
			{"licenses", "list"}, {"licenses", "add", "-"}, {"licenses", "delete", "1"},
			{"logout"},
		} {
			e.run("", args...).fails(t, "You are not signed in. Run 'entitle login URL' first.")
		}
		// Entitlements are public: only the server is needed.
		e.run("", "entitlements").fails(t, "which server? Pass --url URL")
		e.run("", "entitlements", "--url", e.inst.URL).ok(t)

		// The token stopped working on the server too.
		e.run("", "organizations", "list", "--url", e.inst.URL, "--token", token).fails(t, "You are signed out")
	})

	t.Run("logout forgets a session the server already ended", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		resp, err := e.inst.ClientWithToken(t, e.storedSession(t).SessionToken).LogoutWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode())

		e.run("", "logout").ok(t)
		_, err = os.Stat(filepath.Join(e.configDir, "session.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("the stored token is never sent to another server", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		other := testenv.StartOn(t, testenv.Databases()[0])

		e.run("", "organizations", "list", "--url", other.URL).fails(t, "the stored session belongs to "+e.inst.URL+", not "+other.URL)
	})

	t.Run("an unreachable server is reported as such", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)

		e.run("", "organizations", "list", "--url", "http://127.0.0.1:1", "--token", "x").fails(t, "could not talk to the server")
	})
}

func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://example.com", "http://example.com"},
		{"http://example.com/", "http://example.com"},
		{"http://example.com/api/v2", "http://example.com"},
		{"http://example.com/api/v2/", "http://example.com"},
		{"https://example.com/entitle/api/v2", "https://example.com/entitle"},
		{"example.com:8443", "https://example.com:8443"},
		{"localhost:3000/api/v2", "http://localhost:3000"},
		{"  http://127.0.0.1:3000  ", "http://127.0.0.1:3000"},
	} {
		t.Run(tc.in+" becomes "+tc.want, func(t *testing.T) {
			got, err := normalizeURL(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, in := range []string{"", "ftp://example.com", "http://"} {
		t.Run(in+" is refused", func(t *testing.T) {
			_, err := normalizeURL(in)
			assert.Error(t, err)
		})
	}
}

// cliEnv is one server and one user's config directory.
type cliEnv struct {
	bin       string
	inst      *testenv.Instance
	configDir string
}

func newCLIEnv(t *testing.T, bin string) *cliEnv {
	return newCLIEnvOn(t, bin, testenv.StartOn(t, testenv.Databases()[0]))
}

func newCLIEnvOn(t *testing.T, bin string, inst *testenv.Instance) *cliEnv {
	return &cliEnv{bin: bin, inst: inst, configDir: filepath.Join(t.TempDir(), "config")}
}

// newSignedInCLIEnv starts a server that trusts a fresh issuer's key, signs the CLI in as the
// owner, and returns the environment, the owner's own token and the issuer.
func newSignedInCLIEnv(t *testing.T) (*cliEnv, string, *testenv.Issuer) {
	t.Helper()
	bin := buildBinary(t)
	issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := testenv.Databases()[0].NewConfig(t)
	cfg.LicenseKeysDir = issuer.KeysDir
	e := newCLIEnvOn(t, bin, testenv.Start(t, cfg))
	return e, e.login(t), issuer
}

// login creates the owner and signs the CLI in as them; it returns the owner's own token
// (another session) for setting up through the API.
func (e *cliEnv) login(t *testing.T) string {
	t.Helper()
	token := e.inst.SetupOwner(t)
	e.run("", "login", e.inst.URL, "--email", testenv.OwnerEmail, "--password", testenv.OwnerPassword).ok(t)
	return token
}

func (e *cliEnv) storedSession(t *testing.T) session {
	t.Helper()
	path := filepath.Join(e.configDir, "session.json")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the session holds a secret")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var s session
	require.NoError(t, json.Unmarshal(b, &s), string(b))
	return s
}

type cliResult struct {
	args           []string
	stdout, stderr string
	code           int
}

func (e *cliEnv) run(stdin string, args ...string) cliResult {
	return e.runEnv(nil, stdin, args...)
}

// runEnv runs the binary with only the environment the test chooses, so the developer's own
// ENTITLE_* variables and config directory never leak in.
func (e *cliEnv) runEnv(env []string, stdin string, args ...string) cliResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.configDir, "ENTITLE_CONFIG_DIR=" + e.configDir}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		code = -1
		stderr.WriteString(err.Error())
	}
	return cliResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func (r cliResult) ok(t *testing.T) {
	t.Helper()
	require.Equal(t, 0, r.code, "entitle %s\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.stdout, r.stderr)
}

// fails checks for a non-zero exit with want on stderr and nothing on stdout, so a script
// piping stdout never mistakes an error for output.
func (r cliResult) fails(t *testing.T, want string) {
	t.Helper()
	require.NotEqual(t, 0, r.code, "entitle %s should fail\nstdout: %s", strings.Join(r.args, " "), r.stdout)
	assert.Contains(t, r.stderr, want, "entitle %s", strings.Join(r.args, " "))
	assert.Empty(t, r.stdout, "entitle %s", strings.Join(r.args, " "))
}

// signLicense signs a license whose paid term ends in 20 days, close enough for a warning.
func signLicense(t *testing.T, issuer *testenv.Issuer, features map[string]int64) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return issuer.Sign(t, license.Claims{
		IssuedAt:       jwt.NewNumericDate(now),
		NotBefore:      jwt.NewNumericDate(now.Add(-time.Minute)),
		LicenseExpires: jwt.NewNumericDate(now.Add(20 * 24 * time.Hour)),
		ExpiresAt:      jwt.NewNumericDate(now.Add(27 * 24 * time.Hour)),
		ID:             uuid.NewString(),
		AccountType:    "organization",
		AccountID:      "test",
		Version:        license.SupportedVersion,
		Features:       features,
	})
}
