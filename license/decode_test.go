package license

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	t.Run("a token's header and payload come back verbatim", func(t *testing.T) {
		// {"alg":"EdDSA"} . { "user_limit": 9007199254740993 } . signature
		header, payload, err := Decode("eyJhbGciOiJFZERTQSJ9.eyAidXNlcl9saW1pdCI6IDkwMDcxOTkyNTQ3NDA5OTMgfQ.c2ln")
		require.NoError(t, err)
		assert.Equal(t, `{"alg":"EdDSA"}`, string(header))
		assert.Equal(t, `{ "user_limit": 9007199254740993 }`, string(payload))
	})
	for name, token := range map[string]string{
		"two parts are refused":     "eyJhbGciOiJFZERTQSJ9.e30",
		"a payload not base64url":   "eyJhbGciOiJFZERTQSJ9.!!.c2ln",
		"a header that is not JSON": "bm90IGpzb24.e30.c2ln",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Decode(token)
			assert.Error(t, err)
		})
	}
}

func TestShownClaims(t *testing.T) {
	t.Run("a token's payload object is shown verbatim", func(t *testing.T) {
		assert.Equal(t, `{ "user_limit": 9007199254740993 }`,
			string(ShownClaims("eyJhbGciOiJFZERTQSJ9.eyAidXNlcl9saW1pdCI6IDkwMDcxOTkyNTQ3NDA5OTMgfQ.c2ln")))
	})
	t.Run("a payload is shown even when the header is broken", func(t *testing.T) {
		assert.Equal(t, `{"a":1}`, string(ShownClaims("bm90IGpzb24.eyJhIjoxfQ.c2ln")))
	})
	for name, token := range map[string]string{
		"a token that is not a JWT shows no claims":         "not-a-license",
		"a payload that is not base64url shows no claims":   "eyJhbGciOiJFZERTQSJ9.!!.c2ln",
		"a payload that is a JSON array shows no claims":    "eyJhbGciOiJFZERTQSJ9.WzNd.c2ln",
		"a payload that is JSON null shows no claims":       "eyJhbGciOiJFZERTQSJ9.bnVsbA.c2ln",
		"a payload that is not valid UTF-8 shows no claims": "eyJhbGciOiJFZERTQSJ9.eyJhIjoi_yJ9.c2ln",
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "{}", string(ShownClaims(token)))
		})
	}
}
