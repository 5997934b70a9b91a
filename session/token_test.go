package session

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTokensParseBackAndDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := New()
		require.NoError(t, err)
		parsed, err := Parse(tok.String())
		require.NoError(t, err)
		assert.Equal(t, tok, parsed)
		assert.False(t, seen[tok.String()], "tokens repeat")
		seen[tok.String()] = true
	}
}

func TestParse(t *testing.T) {
	valid := "abcdEFGH12-" + strings.Repeat("x", SecretLength)
	cases := []struct {
		name  string
		input string
		ok    bool
	}{
		{"a well formed token parses", valid, true},
		{"an empty string is malformed", "", false},
		{"a missing hyphen is malformed", strings.Replace(valid, "-", "x", 1), false},
		{"a short id is malformed", valid[1:], false},
		{"a long secret is malformed", valid + "x", false},
		{"a non-alphanumeric id is malformed", "abcdEFGH1_-" + strings.Repeat("x", SecretLength), false},
		{"non-ASCII in the secret is malformed", "abcdEFGH12-" + strings.Repeat("x", SecretLength-2) + "é", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.input)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrMalformed)
			}
		})
	}
}

func TestSecretMatchesOnlyItsOwnHash(t *testing.T) {
	hashed := HashSecret("right")
	assert.True(t, SecretMatches("right", hashed))
	assert.False(t, SecretMatches("wrong", hashed))
	assert.False(t, SecretMatches("right", nil))
}

func FuzzParse(f *testing.F) {
	f.Add("abcdEFGH12-" + strings.Repeat("x", SecretLength))
	f.Add("")
	f.Add("-")
	f.Add(strings.Repeat("é", 16))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		if tok.String() != s || len(tok.ID) != IDLength || len(tok.Secret) != SecretLength {
			t.Fatalf("Parse(%q) accepted a token that does not round-trip: %+v", s, tok)
		}
	})
}
