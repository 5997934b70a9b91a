package license

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Sign makes a compact JWT with header {alg: EdDSA, typ: JWT, kid}; it does not check the claims,
// so tests and the issuer's tools can make any license, valid or not.
func Sign(priv ed25519.PrivateKey, kid string, c Claims) (string, error) {
	// ed25519 would panic on a short key, so check the length first.
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("sign license: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if kid == "" {
		return "", errors.New("sign license: key id is empty")
	}
	if c.Features == nil {
		c.Features = map[string]int64{}
	}
	claims := licenseClaims(c)
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &claims)
	token.Header["kid"] = kid
	signed, err := token.SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("sign license: %w", err)
	}
	return signed, nil
}
