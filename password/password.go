// Package password hashes and checks user passwords: bcrypt over an HMAC-SHA-256 of the whole
// password, so that every byte counts however long the password is.
//
// bcrypt reads at most 72 bytes and ignores the rest, and golang.org/x/crypto refuses longer
// input outright; the spec allows 256 characters (up to 1024 bytes of UTF-8). So a new hash is
// bcrypt(base64(HMAC-SHA-256(key, password))), stored behind a marker that says so:
//
//   - Every new hash is pre-hashed, whatever the length, rather than only passwords over 72
//     bytes. Pre-hashing by length would make a 44-character password equal to the digest of
//     a long one, so anyone holding that digest could sign in with it; with the marker, how a
//     hash was made is read from the hash, never guessed from the input.
//   - The HMAC key is a fixed, public label, not a secret: it separates this scheme from plain
//     SHA-256, so unsalted SHA-256 digests leaked elsewhere cannot be tested against our hashes
//     without running bcrypt for every candidate password ("password shucking").
//   - base64 keeps the digest printable: bcrypt implementations that stop at a NUL byte would
//     otherwise read a shortened digest.
//
// Hashes made before pre-hashing (plain bcrypt, no marker) still verify; a password over 72
// bytes never matches one of them, since bcrypt would compare only its first 72 bytes.
package password

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// marker starts every hash made by Hash; a stored hash without it is plain bcrypt.
const marker = "$entitle-hmac-sha256$"

// preHashKey is the HMAC key: a public label for domain separation, not a secret.
var preHashKey = []byte("entitle password pre-hash v1")

// bcryptInputLimit is how many bytes of its input bcrypt reads.
const bcryptInputLimit = 72

// Hash returns the stored form of password at the given bcrypt cost.
func Hash(password string, cost int) ([]byte, error) {
	hashed, err := bcrypt.GenerateFromPassword(preHash(password), cost)
	if err != nil {
		return nil, fmt.Errorf("bcrypt: %w", err)
	}
	return append([]byte(marker), hashed...), nil
}

// Unmatchable returns a stored hash at the given bcrypt cost that no password matches (its
// digest is no bcrypt output, and finding a password for it would mean breaking bcrypt), made
// without running bcrypt. Matches against it still runs bcrypt once at that cost, as against
// any stored hash, so comparing a login for an unknown user against it costs what a wrong
// password costs, while making it costs the server nothing at start.
func Unmatchable(cost int) ([]byte, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	// bcrypt's format: version, cost, then 22 characters of salt and 31 of digest in its own
	// base64 alphabet (./A-Za-z0-9).
	const salt, digest = "entitleunmatchablesalt", "entitleunmatchabledigestxxxxxxx"
	return fmt.Appendf([]byte(marker), "$2a$%02d$%s%s", cost, salt, digest), nil
}

// Matches says whether password is the one stored as hashed. It always runs bcrypt once at
// the stored cost, so a refusal costs the same whatever the reason.
func Matches(hashed []byte, password string) bool {
	if rest, ok := bytes.CutPrefix(hashed, []byte(marker)); ok {
		return bcrypt.CompareHashAndPassword(rest, preHash(password)) == nil
	}
	if len(password) > bcryptInputLimit {
		// Plain bcrypt would read only the first 72 bytes and could say yes; spend the same
		// time on an input that cannot match and say no.
		_ = bcrypt.CompareHashAndPassword(hashed, preHash(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(hashed, []byte(password)) == nil
}

// preHash is base64(HMAC-SHA-256(preHashKey, password)): 44 bytes, well under bcrypt's limit.
func preHash(password string) []byte {
	mac := hmac.New(sha256.New, preHashKey)
	mac.Write([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}
