package license_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// timeClaims are the claims that hold a NumericDate.
var timeClaims = []string{"exp", "nbf", "iat", "license_expires"}

// Seconds since 1970 of the last moment a time claim may name and of the first one after it.
const (
	lastSecond = 253402300799 // 9999-12-31T23:59:59Z
	year10000  = 253402300800 // 10000-01-01T00:00:00Z
)

// lastMoment is the last second a time claim may name.
var lastMoment = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// payloadWith is a valid license payload at now with some claims' JSON replaced.
func payloadWith(t *testing.T, replace map[string]string) string {
	t.Helper()
	good, err := json.Marshal(validClaims())
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(good, &fields))
	for claim, value := range replace {
		fields[claim] = json.RawMessage(value)
	}
	out, err := json.Marshal(fields)
	require.NoError(t, err)
	return string(out)
}

func TestTimeClaimsOutside1970To9999AreRefused(t *testing.T) {
	pub, priv := newKey(t)
	keys := license.Keys{"k1": pub}

	values := []struct {
		name       string
		value      string
		wantDetail string // %s is the claim's name
	}{
		{"one second before 1970", "-1", "%s is outside 1970..9999"},
		{"half a second before 1970", "-0.5", "%s is outside 1970..9999"},
		{"the first second of the year 10000", fmt.Sprint(year10000), "%s is outside 1970..9999"},
		{"a fraction that rounds up into the year 10000", "253402300799.9999999", "%s is outside 1970..9999"},
		{"the year 318857", "9999999999999", "%s is outside 1970..9999"},
		{"a huge number that overflows int64", "1e300", "%s is outside 1970..9999"},
		{"a huge negative number", "-1e300", "%s is outside 1970..9999"},
		{"a number too big for a float64", "1e400", "%s is outside 1970..9999"},
		{"a number written as a string", `"1900000000"`, "%s is not a number"},
		{"a boolean", "true", "%s is not a number"},
		{"an object", `{"seconds":1900000000}`, "%s is not a number"},
	}
	for _, claim := range timeClaims {
		for _, v := range values {
			token := signRaw(priv, "k1", payloadWith(t, map[string]string{claim: v.value}))
			want := fmt.Sprintf(v.wantDetail, claim)
			t.Run(fmt.Sprintf("an upload with %s at %s is refused naming %s", claim, v.name, claim), func(t *testing.T) {
				lic, err := license.VerifyUpload(token, keys, deploymentID, now)
				assert.Nil(t, lic)
				var licErr *license.Error
				require.ErrorAs(t, err, &licErr)
				assert.Equal(t, "Invalid license", licErr.Message)
				assert.Contains(t, licErr.Detail, want)
			})
			t.Run(fmt.Sprintf("a stored license with %s at %s no longer verifies and names %s", claim, v.name, claim), func(t *testing.T) {
				lic, err := license.VerifyStored(token, keys)
				assert.Nil(t, lic)
				var licErr *license.Error
				require.ErrorAs(t, err, &licErr)
				assert.Contains(t, licErr.Detail, want)
			})
		}
	}
}

func TestAnOutOfBoundsTimeIsShownAsWrittenAndAsADate(t *testing.T) {
	pub, priv := newKey(t)
	for value, want := range map[string]string{
		"253402300800": "exp is outside 1970..9999: 253402300800 (10000-01-01T00:00:00Z)",
		"-0.5":         "exp is outside 1970..9999: -0.5 (1969-12-31T23:59:59Z)",
		"1e300":        "exp is outside 1970..9999: 1e300",
		"1e400":        "exp is outside 1970..9999: 1e400",
	} {
		t.Run(value, func(t *testing.T) {
			_, err := license.VerifyStored(signRaw(priv, "k1", payloadWith(t, map[string]string{"exp": value})), license.Keys{"k1": pub})
			var licErr *license.Error
			require.ErrorAs(t, err, &licErr)
			assert.Equal(t, want, licErr.Detail)
		})
	}
}

func TestTimeClaimsAtTheEdgesOf1970To9999AreAccepted(t *testing.T) {
	pub, priv := newKey(t)
	keys := license.Keys{"k1": pub}

	tests := []struct {
		name    string
		replace map[string]string
		want    map[string]time.Time
	}{
		{
			name:    "nbf and iat at the first second of 1970",
			replace: map[string]string{"nbf": "0", "iat": "0"},
			want:    map[string]time.Time{"nbf": time.Unix(0, 0), "iat": time.Unix(0, 0)},
		},
		{
			name:    "exp and license_expires at the last second of 9999",
			replace: map[string]string{"exp": fmt.Sprint(lastSecond), "license_expires": fmt.Sprint(lastSecond)},
			want:    map[string]time.Time{"exp": lastMoment, "license_expires": lastMoment},
		},
		{
			name:    "exp half a second before the year 10000, read as its whole second",
			replace: map[string]string{"exp": "253402300799.5"},
			want:    map[string]time.Time{"exp": lastMoment},
		},
		{
			name:    "nbf at the last second of 9999",
			replace: map[string]string{"nbf": fmt.Sprint(lastSecond)},
			want:    map[string]time.Time{"nbf": lastMoment},
		},
	}
	for _, tt := range tests {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			lic, err := license.VerifyUpload(signRaw(priv, "k1", payloadWith(t, tt.replace)), keys, deploymentID, now)
			require.NoError(t, err)
			got := map[string]*jwt.NumericDate{
				"exp": lic.Claims.ExpiresAt, "nbf": lic.Claims.NotBefore,
				"iat": lic.Claims.IssuedAt, "license_expires": lic.Claims.LicenseExpires,
			}
			for claim, want := range tt.want {
				require.NotNil(t, got[claim], claim)
				assert.True(t, want.Equal(got[claim].Time), "%s is %s, want %s", claim, got[claim].Time, want)
			}
		})
	}
}
