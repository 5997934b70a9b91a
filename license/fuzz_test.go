package license_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"entitle/license"
)

// fuzzKey is fixed so the seed corpus stays valid from run to run.
var fuzzKey = ed25519.NewKeyFromSeed([]byte("entitle-license-fuzz-seed-32byte"))

// FuzzVerifyUpload feeds arbitrary tokens to the verifier: it must never panic, and every
// rejection must be a *license.Error with a message and a detail.
func FuzzVerifyUpload(f *testing.F) {
	keys := license.Keys{"k1": fuzzKey.Public().(ed25519.PublicKey)}
	valid := sign(f, fuzzKey, "k1", validClaims())
	parts := strings.Split(valid, ".")
	expired := validClaims()
	expired.ExpiresAt = date(now.Add(-day))
	noVersion := validClaims()
	noVersion.Version = 0
	wrongDeployment := validClaims()
	wrongDeployment.DeploymentIDs = []string{"not-this-one"}

	for _, seed := range []string{
		valid,
		sign(f, fuzzKey, "k2", validClaims()),
		sign(f, fuzzKey, "k1", expired),
		sign(f, fuzzKey, "k1", noVersion),
		sign(f, fuzzKey, "k1", wrongDeployment),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + parts[2] + "A",
		"eyJhbGciOiJub25lIiwia2lkIjoiazEifQ." + parts[1] + ".",
		"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0." + parts[1] + "." + parts[2],
		"e30.e30.",
		"bnVsbA.bnVsbA.",
		"..",
		"",
		"a.b.c.d",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, token string) {
		lic, err := license.VerifyUpload(token, keys, deploymentID, now)
		checkVerifyResult(t, lic, err)
		stored, storedErr := license.VerifyStored(token, keys)
		checkVerifyResult(t, stored, storedErr)
		if err == nil && storedErr != nil {
			t.Fatalf("VerifyUpload accepted what VerifyStored rejects: %v", storedErr)
		}
	})
}

// FuzzVerifySignedPayload signs arbitrary payloads with a trusted key, so the claims decoding and
// checks (which a fuzzer cannot reach by forging signatures) and Compute on any stored claims get
// fuzzed too.
func FuzzVerifySignedPayload(f *testing.F) {
	keys := license.Keys{"k1": fuzzKey.Public().(ed25519.PublicKey)}
	good, err := json.Marshal(validClaims())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(good),
		`{"version":3,"exp":1900000000,"license_expires":1800000000,"features":{"user_limit":9007199254740993}}`,
		`{"version":3,"exp":1900000000,"license_expires":1800000000,"nbf":1e300,"iat":-1e300,"all_features":true}`,
		`{"version":"3"}`,
		`{"version":3.5}`,
		`null`,
		`[]`,
		`{"version":3,"exp":1900000000,"license_expires":1800000000,"deployment_ids":["x"]}`,
		`{"version":3,"exp":253402300800,"license_expires":253402300799.9999999,"nbf":-0.5}`,
		`{"version":3,"exp":"1900000000","license_expires":1e400}`,
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, payload string) {
		token := signRaw(fuzzKey, "k1", payload)
		lic, err := license.VerifyUpload(token, keys, deploymentID, now)
		checkVerifyResult(t, lic, err)
		stored, storedErr := license.VerifyStored(token, keys)
		checkVerifyResult(t, stored, storedErr)
		if storedErr != nil {
			if err == nil {
				t.Fatalf("VerifyUpload accepted what VerifyStored rejects: %v", storedErr)
			}
			return // claims that do not decode
		}
		if string(stored.Payload) != payload {
			t.Fatalf("payload changed: %q became %q", payload, stored.Payload)
		}
		c := stored.Claims
		for _, d := range []*jwt.NumericDate{c.ExpiresAt, c.NotBefore, c.IssuedAt, c.LicenseExpires} {
			if d != nil && !license.TimeInBounds(d.Time) {
				t.Fatalf("a verified license holds the time %v, outside %s", d.Time, license.TimeBounds)
			}
		}
		// Stored licenses skip the claims checks, so Compute must cope with any claims at all.
		ent, next := license.Compute([]license.Stored{{ID: 1, UUID: stored.UUID, License: stored}}, now,
			license.Usage{ActiveUsers: 3, Replicas: 2})
		if len(ent.Features) != len(license.FeatureNames()) || ent.Warnings == nil || ent.Errors == nil {
			t.Fatalf("incomplete entitlements: %+v", ent)
		}
		if !next.IsZero() && !next.After(now) {
			t.Fatalf("next change %v is not after now %v", next, now)
		}
		if err == nil && (lic.Claims.Version != 3 || lic.Claims.ExpiresAt == nil || lic.Claims.LicenseExpires == nil) {
			t.Fatalf("accepted claims that miss a required check: %+v", lic.Claims)
		}
	})
}

// checkVerifyResult asserts the verifier's contract: exactly one of license and error, and an
// error that the API can put in its envelope.
func checkVerifyResult(t *testing.T, lic *license.License, err error) {
	t.Helper()
	if err == nil {
		if lic == nil {
			t.Fatal("no license and no error")
		}
		if !json.Valid(lic.Payload) {
			t.Fatalf("payload is not JSON: %q", lic.Payload)
		}
		return
	}
	if lic != nil {
		t.Fatalf("both a license and an error: %v", err)
	}
	var licErr *license.Error
	if !errors.As(err, &licErr) {
		t.Fatalf("error is %T, want *license.Error: %v", err, err)
	}
	if licErr.Message == "" || licErr.Detail == "" {
		t.Fatalf("error lacks message or detail: %+v", licErr)
	}
}
