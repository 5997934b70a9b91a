package license_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

func TestKeyPEMRoundTrips(t *testing.T) {
	pub, priv := newKey(t)

	t.Run("a public key survives marshal then parse", func(t *testing.T) {
		b, err := license.MarshalPublicKeyPEM(pub)
		require.NoError(t, err)
		assert.Contains(t, string(b), "-----BEGIN PUBLIC KEY-----")
		got, err := license.ParsePublicKeyPEM(b)
		require.NoError(t, err)
		assert.Equal(t, pub, got)
	})
	t.Run("a private key survives marshal then parse", func(t *testing.T) {
		b, err := license.MarshalPrivateKeyPEM(priv)
		require.NoError(t, err)
		assert.Contains(t, string(b), "-----BEGIN PRIVATE KEY-----")
		got, err := license.ParsePrivateKeyPEM(b)
		require.NoError(t, err)
		assert.Equal(t, priv, got)
	})
	t.Run("a short key is refused rather than panicking", func(t *testing.T) {
		_, err := license.MarshalPublicKeyPEM(pub[:5])
		require.Error(t, err)
		_, err = license.MarshalPrivateKeyPEM(priv[:5])
		require.Error(t, err)
		_, err = license.Sign(priv[:5], "k1", validClaims())
		require.Error(t, err)
	})
}

func TestParseKeyPEMRejects(t *testing.T) {
	pub, priv := newKey(t)
	pubPEM, err := license.MarshalPublicKeyPEM(pub)
	require.NoError(t, err)
	privPEM, err := license.MarshalPrivateKeyPEM(priv)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	require.NoError(t, err)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})

	tests := []struct {
		name    string
		parse   func([]byte) error
		input   []byte
		wantErr string
	}{
		{"a public key parser refuses text with no PEM", parsePublic, []byte("hello"), "no PEM block found"},
		{"a public key parser refuses a private key", parsePublic, privPEM, `PEM block is "PRIVATE KEY", want "PUBLIC KEY"`},
		{"a public key parser refuses an ECDSA key", parsePublic, ecPEM, "want Ed25519"},
		{"a public key parser refuses two keys in one file", parsePublic, append(append([]byte{}, pubPEM...), pubPEM...), "more than one PEM block"},
		{"a private key parser refuses a public key", parsePrivate, pubPEM, `PEM block is "PUBLIC KEY", want "PRIVATE KEY"`},
		{"a private key parser refuses garbage DER", parsePrivate, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), "parse private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.input)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func parsePublic(b []byte) error {
	_, err := license.ParsePublicKeyPEM(b)
	return err
}

func parsePrivate(b []byte) error {
	_, err := license.ParsePrivateKeyPEM(b)
	return err
}

func TestLoadKeys(t *testing.T) {
	pub1, _ := newKey(t)
	pub2, _ := newKey(t)
	pem1, err := license.MarshalPublicKeyPEM(pub1)
	require.NoError(t, err)
	pem2, err := license.MarshalPublicKeyPEM(pub2)
	require.NoError(t, err)

	t.Run("loads every top-level pem file with its base name as kid", func(t *testing.T) {
		keys, err := license.LoadKeys(fstest.MapFS{
			"2026-01.pem":     {Data: pem1},
			"backup.pem":      {Data: pem2},
			"README.md":       {Data: []byte("not a key")},
			"old/retired.pem": {Data: []byte("not even a key")},
		})
		require.NoError(t, err)
		assert.Equal(t, license.Keys{"2026-01": pub1, "backup": pub2}, keys)
	})
	t.Run("an empty directory gives no keys and no error", func(t *testing.T) {
		keys, err := license.LoadKeys(fstest.MapFS{})
		require.NoError(t, err)
		assert.Empty(t, keys)
	})
	t.Run("a bad file fails the load and is named", func(t *testing.T) {
		_, err := license.LoadKeys(fstest.MapFS{
			"good.pem":   {Data: pem1},
			"broken.pem": {Data: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "broken.pem")
	})
}

// TestOpenSSLKeysWork proves keys made by the issuer's usual tool work end to end.
func TestOpenSSLKeysWork(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed to test keys it makes, but is not on PATH: %v", err)
	}
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keysDir, 0o755))
	privPath := filepath.Join(dir, "priv.pem")
	run := func(args ...string) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		require.NoError(t, err, "openssl %v: %s", args, out)
	}
	run("genpkey", "-algorithm", "ed25519", "-out", privPath)
	run("pkey", "-in", privPath, "-pubout", "-out", filepath.Join(keysDir, "issuer-1.pem"))

	privPEM, err := os.ReadFile(privPath)
	require.NoError(t, err)
	priv, err := license.ParsePrivateKeyPEM(privPEM)
	require.NoError(t, err)
	token, err := license.Sign(priv, "issuer-1", validClaims())
	require.NoError(t, err)

	keys, err := license.LoadKeys(os.DirFS(keysDir))
	require.NoError(t, err)
	lic, err := license.VerifyUpload(token, keys, deploymentID, now)
	require.NoError(t, err)
	assert.Equal(t, "issuer-1", lic.KeyID)

	// Our own PEM must read back in openssl too, since the issuer may inspect keys with it.
	ourPEM, err := license.MarshalPublicKeyPEM(keys["issuer-1"])
	require.NoError(t, err)
	ourPath := filepath.Join(dir, "ours.pem")
	require.NoError(t, os.WriteFile(ourPath, ourPEM, 0o600))
	run("pkey", "-pubin", "-in", ourPath, "-noout")
}
