package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// runCLI runs the command line as main would and returns what it printed.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// keyPair makes a key pair with `license keygen` in a fresh directory and returns the private
// key file and the public key directory.
func keyPair(t *testing.T, kid string) (privPath, keysDir string) {
	t.Helper()
	dir := t.TempDir()
	privPath = filepath.Join(dir, "private.pem")
	keysDir = filepath.Join(dir, "keys")
	_, stderr, err := runCLI(t, "license", "keygen", "--kid", kid, "--private-out", privPath, "--public-dir", keysDir)
	require.NoError(t, err, stderr)
	return privPath, keysDir
}

// signWith runs `license sign` and returns the token it printed.
func signWith(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCLI(t, append([]string{"license", "sign"}, args...)...)
	require.NoError(t, err, stderr)
	token := strings.TrimSpace(stdout)
	require.Len(t, strings.Split(token, "."), 3, "sign printed %q, not a compact JWT", stdout)
	return token
}

// trustedKeys loads a keys directory as the server does.
func trustedKeys(t *testing.T, dir string) license.Keys {
	t.Helper()
	keys, err := license.LoadKeys(os.DirFS(dir))
	require.NoError(t, err)
	return keys
}

func TestLicenseKeygen(t *testing.T) {
	t.Parallel()

	t.Run("keygen writes a private key of mode 0600 and the matching public key as <kid>.pem in the public directory", func(t *testing.T) {
		t.Parallel()
		privPath, keysDir := keyPair(t, "issuer-1")

		info, err := os.Stat(privPath)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "private key mode")

		privPEM, err := os.ReadFile(privPath)
		require.NoError(t, err)
		priv, err := license.ParsePrivateKeyPEM(privPEM)
		require.NoError(t, err, "the private key must be PKCS#8 PEM")

		pubPEM, err := os.ReadFile(filepath.Join(keysDir, "issuer-1.pem"))
		require.NoError(t, err)
		pub, err := license.ParsePublicKeyPEM(pubPEM)
		require.NoError(t, err, "the public key must be PKIX PEM")
		assert.True(t, pub.Equal(priv.Public().(ed25519.PublicKey)), "the public key must belong to the private key")
		assert.Contains(t, trustedKeys(t, keysDir), "issuer-1")
	})

	t.Run("keygen refuses to overwrite existing keys without --force and replaces them with it", func(t *testing.T) {
		t.Parallel()
		privPath, keysDir := keyPair(t, "issuer-2")
		pubPath := filepath.Join(keysDir, "issuer-2.pem")
		privBefore, err := os.ReadFile(privPath)
		require.NoError(t, err)
		pubBefore, err := os.ReadFile(pubPath)
		require.NoError(t, err)

		_, _, err = runCLI(t, "license", "keygen", "--kid", "issuer-2", "--private-out", privPath, "--public-dir", keysDir)
		require.Error(t, err, "keygen overwrote existing keys without --force")
		assert.Contains(t, err.Error(), "--force")
		privAfter, _ := os.ReadFile(privPath)
		pubAfter, _ := os.ReadFile(pubPath)
		assert.Equal(t, privBefore, privAfter, "the private key must be untouched")
		assert.Equal(t, pubBefore, pubAfter, "the public key must be untouched")

		_, stderr, err := runCLI(t, "license", "keygen", "--kid", "issuer-2", "--private-out", privPath, "--public-dir", keysDir, "--force")
		require.NoError(t, err, stderr)
		privForced, _ := os.ReadFile(privPath)
		pubForced, _ := os.ReadFile(pubPath)
		assert.NotEqual(t, privBefore, privForced, "--force must write a new private key")
		assert.NotEqual(t, pubBefore, pubForced, "--force must write a new public key")
		info, err := os.Stat(privPath)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "private key mode after --force")
	})
}

func TestLicenseSign(t *testing.T) {
	t.Parallel()
	privPath, keysDir := keyPair(t, "issuer")
	deployment := uuid.NewString()

	t.Run("sign sets every claim asked for and the server's upload checks accept it for that deployment", func(t *testing.T) {
		t.Parallel()
		before := time.Now().Add(-time.Second).Truncate(time.Second)
		token := signWith(t, "--key", privPath, "--kid", "issuer",
			"--features", "user_limit=10,audit_log=1", "--all-features", "--trial",
			"--expires", "2d", "--grace", "1d", "--deployment-id", deployment)

		lic, err := license.VerifyUpload(token, trustedKeys(t, keysDir), deployment, time.Now())
		require.NoError(t, err)
		c := lic.Claims
		assert.Equal(t, "issuer", lic.KeyID)
		assert.Equal(t, map[string]int64{"user_limit": 10, "audit_log": 1}, c.Features)
		assert.True(t, c.AllFeatures, "all_features")
		assert.True(t, c.Trial, "trial")
		assert.Equal(t, []string{deployment}, c.DeploymentIDs)
		assert.Equal(t, int64(license.SupportedVersion), c.Version)
		require.NotNil(t, c.NotBefore)
		require.NotNil(t, c.LicenseExpires)
		require.NotNil(t, c.ExpiresAt)
		assert.WithinRange(t, c.NotBefore.Time, before, time.Now().Add(time.Second), "nbf defaults to now")
		assert.Equal(t, 48*time.Hour, c.LicenseExpires.Sub(c.NotBefore.Time), "license_expires - nbf")
		assert.Equal(t, 24*time.Hour, c.ExpiresAt.Sub(c.LicenseExpires.Time), "exp - license_expires")

		_, err = license.VerifyUpload(token, trustedKeys(t, keysDir), uuid.NewString(), time.Now())
		require.Error(t, err, "the license must be refused on another deployment")
	})

	t.Run("--not-before in the future sets nbf and the terms run from it", func(t *testing.T) {
		t.Parallel()
		start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
		token := signWith(t, "--key", privPath, "--kid", "issuer", "--not-before", start.Format(time.RFC3339),
			"--expires", "30d", "--grace", "7d")

		lic, err := license.VerifyUpload(token, trustedKeys(t, keysDir), deployment, time.Now())
		require.NoError(t, err, "a license that starts later is still accepted")
		c := lic.Claims
		require.NotNil(t, c.NotBefore)
		assert.True(t, start.Equal(c.NotBefore.Time), "nbf %s, want %s", c.NotBefore.Time, start)
		assert.True(t, start.Add(30*24*time.Hour).Equal(c.LicenseExpires.Time), "license_expires %s", c.LicenseExpires.Time)
		assert.True(t, start.Add(37*24*time.Hour).Equal(c.ExpiresAt.Time), "exp %s", c.ExpiresAt.Time)
		assert.Empty(t, c.DeploymentIDs, "no --deployment-id means any deployment")
	})
}

// tamper swaps the token's payload for one that grants more, keeping the old signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := strings.Replace(string(payload), `"user_limit":10`, `"user_limit":10000`, 1)
	require.NotEqual(t, string(payload), forged, "payload %s has no user_limit of 10 to change", payload)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

func TestLicenseInspect(t *testing.T) {
	t.Parallel()
	privPath, keysDir := keyPair(t, "issuer")
	token := signWith(t, "--key", privPath, "--kid", "issuer", "--features", "user_limit=10")
	dir := t.TempDir()

	t.Run("inspect with --keys-dir prints the header and claims and says it verifies", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(dir, "good.jwt")
		require.NoError(t, os.WriteFile(file, []byte(token+"\n"), 0o600))
		stdout, stderr, err := runCLI(t, "license", "inspect", "--keys-dir", keysDir, file)
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		for _, want := range []string{"header:", `"alg": "EdDSA"`, `"kid": "issuer"`, "claims:", `"user_limit": 10`, "verifies: yes"} {
			assert.Contains(t, stdout, want)
		}
	})

	t.Run("inspect of a tampered token says it does not verify, why, and fails", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(dir, "tampered.jwt")
		require.NoError(t, os.WriteFile(file, []byte(tamper(t, token)), 0o600))
		stdout, _, err := runCLI(t, "license", "inspect", "--keys-dir", keysDir, file)
		require.Error(t, err, "inspect must take the non-zero exit path; stdout:\n%s", stdout)
		assert.Contains(t, stdout, "verifies: no")
		assert.Contains(t, stdout, "signature", "the cause must be named")
		assert.Contains(t, stdout, `"user_limit": 10000`, "the claims are still shown")
	})

	t.Run("inspect without --keys-dir only decodes and says the signature was not checked", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(dir, "unchecked.jwt")
		require.NoError(t, os.WriteFile(file, []byte(token), 0o600))
		stdout, stderr, err := runCLI(t, "license", "inspect", file)
		require.NoError(t, err, stderr)
		assert.Contains(t, stdout, `"user_limit": 10`)
		assert.NotContains(t, stdout, "verifies: yes")
		assert.Contains(t, stdout, "not checked")
	})
}

// TestLicenseInspectReadsStandardInput swaps os.Stdin, which run binds for inspect, so it is
// not parallel: Go runs it while no parallel test of this package runs.
func TestLicenseInspectReadsStandardInput(t *testing.T) {
	privPath, keysDir := keyPair(t, "issuer")
	token := signWith(t, "--key", privPath, "--kid", "issuer", "--features", "audit_log=1")

	t.Run("inspect - reads the license from standard input", func(t *testing.T) {
		stdinFile := filepath.Join(t.TempDir(), "stdin")
		require.NoError(t, os.WriteFile(stdinFile, []byte(token+"\n"), 0o600))
		f, err := os.Open(stdinFile)
		require.NoError(t, err)
		defer f.Close()
		saved := os.Stdin
		os.Stdin = f
		defer func() { os.Stdin = saved }()

		stdout, stderr, err := runCLI(t, "license", "inspect", "--keys-dir", keysDir, "-")
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, `"audit_log": 1`)
		assert.Contains(t, stdout, "verifies: yes")
	})
}

func TestLicenseToolsWorkWithOpenSSLKeys(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is not installed, and the OpenSSL interop test needs it: %v", err)
	}
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keysDir, 0o755))
	privPath := filepath.Join(dir, "k.pem")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", privPath},
		{"pkey", "-in", privPath, "-pubout", "-out", filepath.Join(keysDir, "ossl.pem")},
	} {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		require.NoError(t, err, "openssl %s: %s", strings.Join(args, " "), out)
	}

	t.Run("a license signed with an openssl private key verifies against its openssl public key", func(t *testing.T) {
		deployment := uuid.NewString()
		token := signWith(t, "--key", privPath, "--kid", "ossl", "--features", "audit_log=1", "--deployment-id", deployment)
		lic, err := license.VerifyUpload(token, trustedKeys(t, keysDir), deployment, time.Now())
		require.NoError(t, err)
		assert.Equal(t, "ossl", lic.KeyID)
		assert.Equal(t, int64(1), lic.Claims.Features["audit_log"])
	})
}
