package license_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

// now is the fake clock every test reads.
var now = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

const (
	day          = 24 * time.Hour
	deploymentID = "0d4c5b3e-6a0f-4c39-9f57-1f3b3c8f4a21"
	licenseJTI   = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
)

// date turns a time into a claim value.
func date(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }

// newKey makes a fresh Ed25519 key pair for one test.
func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return pub, priv
}

// validClaims is a license that passes every upload check at now.
func validClaims() license.Claims {
	return license.Claims{
		ID:             licenseJTI,
		Issuer:         "entitle-test",
		Subject:        "customer@example.com",
		IssuedAt:       date(now.Add(-time.Hour)),
		NotBefore:      date(now.Add(-time.Hour)),
		LicenseExpires: date(now.Add(90 * day)),
		ExpiresAt:      date(now.Add(97 * day)),
		AccountType:    "salesforce",
		AccountID:      "acct-1",
		Version:        3,
		Features:       map[string]int64{"user_limit": 100, "audit_log": 1},
	}
}

// sign signs c with priv under kid, failing the test on error.
func sign(t testing.TB, priv ed25519.PrivateKey, kid string, c license.Claims) string {
	t.Helper()
	token, err := license.Sign(priv, kid, c)
	require.NoError(t, err)
	return token
}

// segment base64url-encodes one JWT part.
func segment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawToken builds a token by hand so tests can make ones no well-behaved signer would.
func rawToken(t testing.TB, header map[string]any, payload any, signature []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	p, err := json.Marshal(payload)
	require.NoError(t, err)
	return segment(h) + "." + segment(p) + "." + segment(signature)
}

// signRaw signs payload exactly as given, so tests can make payloads Claims cannot express.
func signRaw(priv ed25519.PrivateKey, kid, payload string) string {
	header := segment([]byte(`{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT"}`))
	signingInput := header + "." + segment([]byte(payload))
	return signingInput + "." + segment(ed25519.Sign(priv, []byte(signingInput)))
}

func TestVerifyUpload(t *testing.T) {
	pub, priv := newKey(t)
	keys := license.Keys{"k1": pub}
	pubPEM, err := license.MarshalPublicKeyPEM(pub)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	// with signs validClaims changed by edit.
	with := func(edit func(*license.Claims)) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := validClaims()
			edit(&c)
			return sign(t, priv, "k1", c)
		}
	}
	// jwtSigned signs validClaims with another algorithm and key, as an attacker would.
	jwtSigned := func(method jwt.SigningMethod, key any) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := validClaims()
			tok := jwt.NewWithClaims(method, jwt.MapClaims{
				"exp": c.ExpiresAt, "license_expires": c.LicenseExpires, "version": 3, "all_features": true,
			})
			tok.Header["kid"] = "k1"
			s, err := tok.SignedString(key)
			require.NoError(t, err)
			return s
		}
	}

	tests := []struct {
		name        string
		token       func(t *testing.T) string
		wantMessage string
		wantDetail  string
	}{
		{
			name: "rejects a token that is not three parts",
			token: func(t *testing.T) string {
				return "abc.def"
			},
			wantMessage: "Invalid license",
			wantDetail:  "token is malformed",
		},
		{
			name: "rejects a header that is not JSON",
			token: func(t *testing.T) string {
				good := sign(t, priv, "k1", validClaims())
				return segment([]byte("{not json")) + good[strings.Index(good, "."):]
			},
			wantMessage: "Invalid license",
			wantDetail:  "token is malformed: could not JSON decode header",
		},
		{
			name: "rejects a payload that is not base64url",
			token: func(t *testing.T) string {
				good := strings.Split(sign(t, priv, "k1", validClaims()), ".")
				return good[0] + ".!!!." + good[2]
			},
			wantMessage: "Invalid license",
			wantDetail:  "token is malformed: could not base64 decode claim",
		},
		{
			name: "rejects a claim of the wrong type and names the claim",
			token: func(t *testing.T) string {
				return signRaw(priv, "k1", `{"version":"3","exp":1900000000,"license_expires":1800000000}`)
			},
			wantMessage: "Invalid license",
			wantDetail:  `token is malformed: claim "version" has the wrong type (string)`,
		},
		{
			name:        "rejects a payload that is not a JSON object",
			token:       func(t *testing.T) string { return signRaw(priv, "k1", `[3]`) },
			wantMessage: "Invalid license",
			wantDetail:  "token is malformed: payload is a JSON array, want an object",
		},
		{
			name: "rejects a header that is not a JSON object",
			token: func(t *testing.T) string {
				good := sign(t, priv, "k1", validClaims())
				return segment([]byte("[1]")) + good[strings.Index(good, "."):]
			},
			wantMessage: "Invalid license",
			wantDetail:  "token is malformed: header is a JSON array, want an object",
		},
		{
			name:        "rejects a null payload as having no version",
			token:       func(t *testing.T) string { return signRaw(priv, "k1", `null`) },
			wantMessage: "Invalid license",
			wantDetail:  "license version is missing, want 3",
		},
		{
			name: "rejects a payload changed after signing",
			token: func(t *testing.T) string {
				good := strings.Split(sign(t, priv, "k1", validClaims()), ".")
				c := validClaims()
				c.Features["user_limit"] = 1_000_000
				p, err := json.Marshal(c)
				require.NoError(t, err)
				return good[0] + "." + segment(p) + "." + good[2]
			},
			wantMessage: "Invalid license",
			wantDetail:  "signature is invalid",
		},
		{
			name: "rejects a signature changed after signing",
			token: func(t *testing.T) string {
				good := strings.Split(sign(t, priv, "k1", validClaims()), ".")
				sig, err := base64.RawURLEncoding.DecodeString(good[2])
				require.NoError(t, err)
				sig[0] ^= 0xff
				return good[0] + "." + good[1] + "." + segment(sig)
			},
			wantMessage: "Invalid license",
			wantDetail:  "signature is invalid",
		},
		{
			name: "rejects a signature signed by another key under a trusted kid",
			token: func(t *testing.T) string {
				_, other := newKey(t)
				return sign(t, other, "k1", validClaims())
			},
			wantMessage: "Invalid license",
			wantDetail:  "signature is invalid",
		},
		{
			name: "rejects alg none",
			token: func(t *testing.T) string {
				return rawToken(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, validClaims(), nil)
			},
			wantMessage: "Invalid license",
			wantDetail:  `algorithm "none" is not allowed`,
		},
		{
			name:        "rejects HS256 signed with the raw public key as the HMAC secret",
			token:       jwtSigned(jwt.SigningMethodHS256, []byte(pub)),
			wantMessage: "Invalid license",
			wantDetail:  `algorithm "HS256" is not allowed`,
		},
		{
			name:        "rejects HS256 signed with the public key PEM as the HMAC secret",
			token:       jwtSigned(jwt.SigningMethodHS256, pubPEM),
			wantMessage: "Invalid license",
			wantDetail:  `algorithm "HS256" is not allowed`,
		},
		{
			name:        "rejects RS256",
			token:       jwtSigned(jwt.SigningMethodRS256, rsaKey),
			wantMessage: "Invalid license",
			wantDetail:  `algorithm "RS256" is not allowed`,
		},
		{
			name: "rejects an algorithm jwt does not know",
			token: func(t *testing.T) string {
				return rawToken(t, map[string]any{"alg": "Ed448", "kid": "k1"}, validClaims(), []byte("sig"))
			},
			wantMessage: "Invalid license",
			wantDetail:  `algorithm "Ed448" is not allowed`,
		},
		{
			name: "rejects a token with no alg",
			token: func(t *testing.T) string {
				return rawToken(t, map[string]any{"kid": "k1"}, validClaims(), []byte("sig"))
			},
			wantMessage: "Invalid license",
			wantDetail:  "license has no algorithm (alg)",
		},
		{
			name: "rejects a missing kid",
			token: func(t *testing.T) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"version": 3})
				s, err := tok.SignedString(priv)
				require.NoError(t, err)
				return s
			},
			wantMessage: "Invalid license",
			wantDetail:  "license has no key id (kid)",
		},
		{
			name:        "rejects an unknown kid and names it",
			token:       func(t *testing.T) string { return sign(t, priv, "k2", validClaims()) },
			wantMessage: "Invalid license",
			wantDetail:  `unknown key id "k2"`,
		},
		{
			name:        "rejects version 2 and gives the version seen",
			token:       with(func(c *license.Claims) { c.Version = 2 }),
			wantMessage: "Invalid license",
			wantDetail:  "license version is 2, want 3",
		},
		{
			name:        "rejects a missing version and says it is missing",
			token:       with(func(c *license.Claims) { c.Version = 0 }),
			wantMessage: "Invalid license",
			wantDetail:  "license version is missing, want 3",
		},
		{
			name:        "rejects a missing exp",
			token:       with(func(c *license.Claims) { c.ExpiresAt = nil }),
			wantMessage: "Invalid license",
			wantDetail:  "license has no expiry (exp)",
		},
		{
			name: "rejects an expired license and gives the expiry time",
			token: with(func(c *license.Claims) {
				c.LicenseExpires = date(now.Add(-8 * day))
				c.ExpiresAt = date(now.Add(-day))
			}),
			wantMessage: "Invalid license",
			wantDetail:  "license expired at 2026-01-01T15:04:05Z",
		},
		{
			name:        "rejects a license expiring exactly now",
			token:       with(func(c *license.Claims) { c.LicenseExpires, c.ExpiresAt = date(now), date(now) }),
			wantMessage: "Invalid license",
			wantDetail:  "license expired at 2026-01-02T15:04:05Z",
		},
		{
			name:        "rejects a missing license_expires",
			token:       with(func(c *license.Claims) { c.LicenseExpires = nil }),
			wantMessage: "Invalid license",
			wantDetail:  "license has no end of paid term (license_expires)",
		},
		{
			name:        "rejects license_expires after exp",
			token:       with(func(c *license.Claims) { c.LicenseExpires = date(now.Add(100 * day)) }),
			wantMessage: "Invalid license",
			wantDetail:  "license_expires 2026-04-12T15:04:05Z is after exp 2026-04-09T15:04:05Z",
		},
		{
			name:        "rejects iat more than five minutes in the future",
			token:       with(func(c *license.Claims) { c.IssuedAt = date(now.Add(6 * time.Minute)) }),
			wantMessage: "Invalid license",
			wantDetail:  "license is issued in the future, at 2026-01-02T15:10:05Z",
		},
		{
			name: "rejects a license for other deployments and lists both ids",
			token: with(func(c *license.Claims) {
				c.DeploymentIDs = []string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"}
			}),
			wantMessage: "License cannot be used on this deployment.",
			wantDetail: `license is for deployment ids "11111111-1111-1111-1111-111111111111", ` +
				`"22222222-2222-2222-2222-222222222222"; this deployment's id is "` + deploymentID + `"`,
		},
	}
	// Claims and headers that two JSON readers would read differently: golang-jwt merges a
	// repeated object and keeps the last of a repeated value, a browser keeps the last, other
	// readers the first; text that is not Unicode reads as U+FFFD here and as bytes, or not at
	// all, elsewhere. A signature over them does not make them mean one thing.
	validJSON, err := json.Marshal(validClaims())
	require.NoError(t, err)
	claimsWith := func(extra string) func(t *testing.T) string {
		return func(t *testing.T) string {
			return signRaw(priv, "k1", string(validJSON[:len(validJSON)-1])+","+extra+"}")
		}
	}
	withHeader := func(header string) func(t *testing.T) string {
		return func(t *testing.T) string {
			signingInput := segment([]byte(header)) + "." + segment(validJSON)
			return signingInput + "." + segment(ed25519.Sign(priv, []byte(signingInput)))
		}
	}
	tests = append(tests, []struct {
		name        string
		token       func(t *testing.T) string
		wantMessage string
		wantDetail  string
	}{
		{
			name:        "rejects a claim given twice",
			token:       claimsWith(`"trial":true,"trial":false`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "trial" more than once`,
		},
		{
			name:        "rejects an object of claims given twice, which a reader might merge",
			token:       claimsWith(`"deployment_ids":["other"],"deployment_ids":[]`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "deployment_ids" more than once`,
		},
		{
			name:        "rejects a feature given twice",
			token:       claimsWith(`"x":{"features":{"scim":1,"scim":0}}`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "scim" more than once, in x.features`,
		},
		{
			name:        "rejects a header key given twice",
			token:       withHeader(`{"alg":"none","alg":"EdDSA","kid":"k1"}`),
			wantMessage: "Invalid license",
			wantDetail:  `the header gives "alg" more than once`,
		},
		{
			name:        "rejects claims that are not UTF-8",
			token:       claimsWith("\"note\":\"\xff\""),
			wantMessage: "Invalid license",
			wantDetail:  `the claims hold the byte 0xff, which is not UTF-8 text there, in "note"`,
		},
		{
			name:        "rejects an escaped surrogate without its pair",
			token:       claimsWith(`"iss2":"\ud800"`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims hold \ud800, an escaped UTF-16 surrogate without its pair, which stands for no character, in "iss2"`,
		},
		// Go's encoding/json (here, and in Coder) matches a struct's field names ignoring case,
		// so "EXP" is read as exp where a reader of the verbatim claims sees none, or another.
		{
			name:        "rejects a claim name in another case beside the claim",
			token:       claimsWith(`"EXP":99999999999`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "EXP", which differs from the claim "exp" only in case`,
		},
		{
			name: "rejects a claim name in another case alone",
			token: func(t *testing.T) string {
				return signRaw(priv, "k1", strings.Replace(string(validJSON), `"trial":`, `"Trial":`, 1))
			},
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "Trial", which differs from the claim "trial" only in case`,
		},
		{
			name:        "rejects a claim name spelt with the Kelvin sign, which Go folds to k",
			token:       claimsWith(`"trial_\u212a":1,"ta\u017fk":2,"\u212aeep":3,"ver\u017fion":4`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims give "verſion", which differs from the claim "version" only in case`,
		},
		// Coder's SDK reads claims into map[string]any, whose numbers are float64: one number out
		// of its range and the whole list of licenses cannot be read.
		{
			name:        "rejects a claim number out of a float64's range",
			token:       claimsWith(`"foo":1e400`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims hold the number 1e400, beyond what a JSON reader can hold, in "foo"`,
		},
		{
			name:        "rejects a negative number out of range, deep inside",
			token:       claimsWith(`"x":{"y":[1,-2e308]}`),
			wantMessage: "Invalid license",
			wantDetail:  `the claims hold the number -2e308, beyond what a JSON reader can hold`,
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lic, err := license.VerifyUpload(tt.token(t), keys, deploymentID, now)
			require.Error(t, err)
			assert.Nil(t, lic)
			var licErr *license.Error
			require.ErrorAs(t, err, &licErr)
			assert.Equal(t, tt.wantMessage, licErr.Message)
			assert.Contains(t, licErr.Detail, tt.wantDetail)
		})
	}
}

func TestVerifyUploadAccepts(t *testing.T) {
	pub, priv := newKey(t)
	keys := license.Keys{"k1": pub}

	tests := []struct {
		name     string
		edit     func(*license.Claims)
		wantUUID func(t *testing.T, got uuid.UUID)
	}{
		{
			name: "accepts a valid license and takes its uuid from jti",
			edit: func(*license.Claims) {},
			wantUUID: func(t *testing.T, got uuid.UUID) {
				assert.Equal(t, uuid.MustParse(licenseJTI), got)
			},
		},
		{
			name: "accepts a license naming this deployment among others",
			edit: func(c *license.Claims) {
				c.DeploymentIDs = []string{"11111111-1111-1111-1111-111111111111", strings.ToUpper(deploymentID)}
			},
		},
		{
			name: "accepts a license whose nbf is in the future",
			edit: func(c *license.Claims) { c.NotBefore = date(now.Add(30 * day)) },
		},
		{
			name: "accepts iat within five minutes of skew",
			edit: func(c *license.Claims) { c.IssuedAt = date(now.Add(4 * time.Minute)) },
		},
		{
			name: "accepts license_expires equal to exp",
			edit: func(c *license.Claims) { c.LicenseExpires = c.ExpiresAt },
		},
		{
			name: "gives a fresh uuid when jti is not a uuid",
			edit: func(c *license.Claims) { c.ID = "license-42" },
			wantUUID: func(t *testing.T, got uuid.UUID) {
				assert.NotEqual(t, uuid.Nil, got)
			},
		},
		{
			name: "gives a fresh uuid when jti is the nil uuid",
			edit: func(c *license.Claims) { c.ID = uuid.Nil.String() },
			wantUUID: func(t *testing.T, got uuid.UUID) {
				assert.NotEqual(t, uuid.Nil, got)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			tt.edit(&c)
			token := sign(t, priv, "k1", c)
			lic, err := license.VerifyUpload(token, keys, deploymentID, now)
			require.NoError(t, err)
			require.NotNil(t, lic)
			assert.Equal(t, token, lic.Token)
			assert.Equal(t, "k1", lic.KeyID)
			assert.Equal(t, c, lic.Claims)
			if tt.wantUUID != nil {
				tt.wantUUID(t, lic.UUID)
			}
		})
	}
}

func TestPayloadIsKeptVerbatim(t *testing.T) {
	pub, priv := newKey(t)
	c := validClaims()
	// 2^53 + 1: a float64 would round it to ...992.
	c.Features["user_limit"] = 9007199254740993
	token := sign(t, priv, "k1", c)

	lic, err := license.VerifyUpload(token, license.Keys{"k1": pub}, deploymentID, now)
	require.NoError(t, err)

	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	require.NoError(t, err)
	assert.Equal(t, string(payload), string(lic.Payload))
	assert.Contains(t, string(lic.Payload), `"user_limit":9007199254740993`)
	assert.Equal(t, int64(9007199254740993), lic.Claims.Features["user_limit"])

	// Re-encoding, as the API does when it answers, keeps the digits too.
	out, err := json.Marshal(struct {
		Claims json.RawMessage `json:"claims"`
	}{lic.Payload})
	require.NoError(t, err)
	assert.Contains(t, string(out), "9007199254740993")
}

func TestVerifyStored(t *testing.T) {
	pub, priv := newKey(t)

	t.Run("accepts an expired license because expiry is a state, not a fault", func(t *testing.T) {
		c := validClaims()
		c.LicenseExpires, c.ExpiresAt = date(now.Add(-10*day)), date(now.Add(-3*day))
		lic, err := license.VerifyStored(sign(t, priv, "k1", c), license.Keys{"k1": pub})
		require.NoError(t, err)
		assert.Equal(t, "k1", lic.KeyID)
	})
	t.Run("rejects a license whose key was removed and names the kid", func(t *testing.T) {
		lic, err := license.VerifyStored(sign(t, priv, "k1", validClaims()), license.Keys{})
		assert.Nil(t, lic)
		var licErr *license.Error
		require.ErrorAs(t, err, &licErr)
		assert.Equal(t, "Invalid license", licErr.Message)
		assert.Equal(t, `unknown key id "k1"`, licErr.Detail)
	})
}

func TestErrorReadsAsMessageAndDetail(t *testing.T) {
	err := &license.Error{Message: "Invalid license", Detail: "signature is invalid"}
	assert.Equal(t, "Invalid license: signature is invalid", err.Error())
}
