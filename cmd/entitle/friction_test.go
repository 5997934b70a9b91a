package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// TestCLIMessagesHelp runs the real binary the ways a new user gets it wrong, and checks that
// each answer says what happened and what to do.
func TestCLIMessagesHelp(t *testing.T) {
	bin := buildBinary(t)

	t.Run("license and licenses mixed up suggest the right command", func(t *testing.T) {
		t.Parallel()
		e := &cliEnv{bin: bin, configDir: t.TempDir()}
		e.run("", "license", "add", "x.license").fails(t, "Did you mean 'entitle licenses add'?")
		e.run("", "licenses", "sign").fails(t, "Did you mean 'entitle license sign'?")
	})

	t.Run("--version prints the version and the help lists the groups", func(t *testing.T) {
		t.Parallel()
		e := &cliEnv{bin: bin, configDir: t.TempDir()}
		res := e.run("", "--version")
		res.ok(t)
		assert.Regexp(t, `^v\d+\.\d+\.\d+`, res.stdout)
		res = e.run("", "--help")
		res.ok(t)
		for _, want := range []string{"Server:", "Issuer (offline):", "Client (", "licenses", "The license issuer's tools"} {
			assert.Contains(t, res.stdout, want)
		}
	})

	t.Run("licenses add takes -f and -l, and a file that is not a license is named", func(t *testing.T) {
		t.Parallel()
		issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
		cfg := testenv.Databases()[0].NewConfig(t)
		cfg.LicenseKeysDir = issuer.KeysDir
		e := newCLIEnvOn(t, bin, testenv.Start(t, cfg))
		e.login(t)

		notALicense := filepath.Join(t.TempDir(), "notes.txt")
		require.NoError(t, os.WriteFile(notALicense, []byte("hello\n"), 0o600))
		e.run("", "licenses", "add", notALicense).fails(t, notALicense+" does not hold a license")
		e.run("", "licenses", "add", "-f", notALicense).fails(t, notALicense+" does not hold a license")

		file := filepath.Join(t.TempDir(), "a.license")
		require.NoError(t, os.WriteFile(file, []byte(signLicense(t, issuer, map[string]int64{"scim": 1})+"\n"), 0o600))
		e.run("", "licenses", "add", "-f", file).ok(t)
		e.run("", "licenses", "add", "-l", signLicense(t, issuer, map[string]int64{"audit_log": 1})).ok(t)
		e.run("", "licenses", "add").fails(t, "give the license once")
		e.run("", "licenses", "add", file, "-l", "x").fails(t, "give the license once")
	})

	t.Run("licenses delete checks the id and names what was not found", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		e.run("", "licenses", "delete", "abc").fails(t, `"abc" is not a license id`)
		e.run("", "licenses", "delete", "999").fails(t, "there is no license with id 999. See 'entitle licenses list'")
	})

	t.Run("logout while the server is down forgets the session and says the server was not reached", func(t *testing.T) {
		t.Parallel()
		e := newCLIEnv(t, bin)
		e.login(t)
		e.inst.Stop(t)
		e.run("", "logout").fails(t, "could not reach the server")
		_, err := os.Stat(filepath.Join(e.configDir, "session.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
