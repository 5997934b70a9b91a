package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// Issuer signs test licenses with a key the server trusts.
type Issuer struct {
	Kid string
	// KeysDir holds the public key as <Kid>.pem; give it to the server as its keys directory.
	KeysDir string
	priv    ed25519.PrivateKey
}

// NewIssuer makes a key pair and writes its public key into keysDir as <kid>.pem.
func NewIssuer(t testing.TB, keysDir, kid string) *Issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pem, err := license.MarshalPublicKeyPEM(pub)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(keysDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(keysDir, kid+".pem"), pem, 0o600))
	return &Issuer{Kid: kid, KeysDir: keysDir, priv: priv}
}

// Sign signs exactly c, so tests can also make licenses that miss a claim.
func (i *Issuer) Sign(t testing.TB, c license.Claims) string {
	t.Helper()
	token, err := license.Sign(i.priv, i.Kid, c)
	require.NoError(t, err)
	return token
}

// SignValid signs c, filling in what a valid license needs and c leaves out: version 3, a jti,
// iat, and a 30-day paid term with a 7-day grace period.
func (i *Issuer) SignValid(t testing.TB, c license.Claims) string {
	t.Helper()
	now := time.Now()
	if c.Version == 0 {
		c.Version = license.SupportedVersion
	}
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if c.IssuedAt == nil {
		c.IssuedAt = jwt.NewNumericDate(now)
	}
	if c.LicenseExpires == nil {
		c.LicenseExpires = jwt.NewNumericDate(now.Add(30 * 24 * time.Hour))
	}
	if c.ExpiresAt == nil {
		c.ExpiresAt = jwt.NewNumericDate(c.LicenseExpires.Add(7 * 24 * time.Hour))
	}
	return i.Sign(t, c)
}

// SignRaw signs exactly the given header and payload JSON, for payloads json.Marshal would
// never write (spaces, characters it escapes).
func (i *Issuer) SignRaw(header, payload string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return input + "." + enc.EncodeToString(ed25519.Sign(i.priv, []byte(input)))
}
