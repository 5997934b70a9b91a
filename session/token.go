// Package session makes and reads session tokens. A token is "<id>-<secret>": the id finds the
// stored session, and only the SHA-256 of the secret is ever stored.
package session

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
)

// Lengths of a token's two parts.
const (
	IDLength     = 10
	SecretLength = 22
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed means a string is not shaped like a session token.
var ErrMalformed = errors.New("session token must be a 10-character id, a hyphen and a 22-character secret, letters and digits only")

// Token is a session token split into its parts.
type Token struct {
	ID     string
	Secret string
}

// String gives the token as clients send it.
func (t Token) String() string { return t.ID + "-" + t.Secret }

// New makes a token from a cryptographic random source.
func New() (Token, error) {
	id, err := randomString(IDLength)
	if err != nil {
		return Token{}, fmt.Errorf("generate token id: %w", err)
	}
	secret, err := randomString(SecretLength)
	if err != nil {
		return Token{}, fmt.Errorf("generate token secret: %w", err)
	}
	return Token{ID: id, Secret: secret}, nil
}

// Parse splits s into id and secret, or returns ErrMalformed.
func Parse(s string) (Token, error) {
	if len(s) != IDLength+1+SecretLength || s[IDLength] != '-' {
		return Token{}, ErrMalformed
	}
	t := Token{ID: s[:IDLength], Secret: s[IDLength+1:]}
	if !alphanumeric(t.ID) || !alphanumeric(t.Secret) {
		return Token{}, ErrMalformed
	}
	return t, nil
}

// ValidID says whether s could be a token's id: IDLength letters and digits.
func ValidID(s string) bool {
	return len(s) == IDLength && alphanumeric(s)
}

// HashSecret is what is stored in place of the secret.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches compares in constant time so the comparison leaks nothing about the stored hash.
func SecretMatches(secret string, hashed []byte) bool {
	return subtle.ConstantTimeCompare(HashSecret(secret), hashed) == 1
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}
