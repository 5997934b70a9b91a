package license

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func benchLicense(b *testing.B, now time.Time) (string, Keys) {
	b.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	token, err := Sign(priv, "bench", Claims{
		IssuedAt:       jwt.NewNumericDate(now.Add(-time.Hour)),
		NotBefore:      jwt.NewNumericDate(now.Add(-time.Hour)),
		LicenseExpires: jwt.NewNumericDate(now.Add(20 * 24 * time.Hour)),
		ExpiresAt:      jwt.NewNumericDate(now.Add(27 * 24 * time.Hour)),
		ID:             uuid.NewString(),
		Version:        SupportedVersion,
		FeatureSet:     "enterprise",
		Features:       map[string]int64{"user_limit": 100, "audit_log": 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	return token, Keys{"bench": pub}
}

func BenchmarkVerifyUpload(b *testing.B) {
	now := time.Now()
	token, keys := benchLicense(b, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyUpload(token, keys, "", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompute is a recompute over ten stored licenses, what a reload costs once they are
// verified.
func BenchmarkCompute(b *testing.B) {
	now := time.Now()
	token, keys := benchLicense(b, now)
	stored := make([]Stored, 10)
	for i := range stored {
		lic, err := VerifyStored(token, keys)
		if err != nil {
			b.Fatal(err)
		}
		stored[i] = Stored{ID: int64(i + 1), UUID: uuid.New(), License: lic}
	}
	b.ReportAllocs()
	for b.Loop() {
		Compute(stored, now, Usage{ActiveUsers: 42, Replicas: 1})
	}
}
