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

// manyStored is n verified licenses as a long-lived deployment collects them (the mix
// bench/scaleseed stores): enterprise and premium, some trials, different limits and terms.
// They are not signed: Compute reads only the claims.
func manyStored(n int, now time.Time) []Stored {
	stored := make([]Stored, n)
	for i := range stored {
		paidDays := time.Duration(30+i%365) * 24 * time.Hour
		id := uuid.New()
		stored[i] = Stored{ID: int64(i + 1), UUID: id, License: &License{UUID: id, Claims: Claims{
			IssuedAt:       jwt.NewNumericDate(now.Add(-time.Hour)),
			NotBefore:      jwt.NewNumericDate(now.Add(-time.Hour)),
			LicenseExpires: jwt.NewNumericDate(now.Add(paidDays)),
			ExpiresAt:      jwt.NewNumericDate(now.Add(paidDays + 7*24*time.Hour)),
			ID:             id.String(),
			Trial:          i%10 == 0,
			FeatureSet:     []string{"enterprise", "premium"}[i%2],
			Version:        SupportedVersion,
			Features:       map[string]int64{"user_limit": int64(10 + i%1000), "audit_log": 1},
		}}}
	}
	return stored
}

// BenchmarkCompute10k is a recompute over ten thousand verified licenses.
func BenchmarkCompute10k(b *testing.B) {
	now := time.Now()
	stored := manyStored(10_000, now)
	b.ReportAllocs()
	for b.Loop() {
		Compute(stored, now, Usage{ActiveUsers: 42, Replicas: 1})
	}
}

// BenchmarkPreparedCompute10k is a recompute over ten thousand licenses prepared once, as the
// server holds them between changes.
func BenchmarkPreparedCompute10k(b *testing.B) {
	now := time.Now()
	prepared := Prepare(manyStored(10_000, now))
	b.ReportAllocs()
	for b.Loop() {
		prepared.Compute(now, Usage{ActiveUsers: 42, Replicas: 1})
	}
}

// BenchmarkPrepare10k prepares ten thousand licenses, as the server does when they change.
func BenchmarkPrepare10k(b *testing.B) {
	stored := manyStored(10_000, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		Prepare(stored)
	}
}

// BenchmarkExplain10k explains ten thousand licenses whose terms end on a few hundred distinct
// days (manyStored), as GET /entitlements/explain does.
func BenchmarkExplain10k(b *testing.B) {
	now := time.Now()
	stored := manyStored(10_000, now)
	b.ReportAllocs()
	for b.Loop() {
		Explain(stored, now, Usage{ActiveUsers: 42, Replicas: 1})
	}
}
