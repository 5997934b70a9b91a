package password_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"entitle/password"
)

func TestEveryByteOfAPasswordCounts(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name    string
		stored  string
		offered string
		matches bool
	}{
		{"the same short password matches", "correct horse", "correct horse", true},
		{"another short password does not", "correct horse", "correct horsf", false},
		{"the same 300-byte password matches", long, long, true},
		{"a 300-byte password cut at 72 bytes does not", long, long[:72], false},
		{"a 300-byte password differing in its last byte does not", long, long[:299] + "y", false},
		{"an empty password does not match a stored one", "correct horse", "", false},
		{"a password differing only in case does not", "Correct Horse", "correct horse", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hashed, err := password.Hash(tc.stored, bcrypt.MinCost)
			require.NoError(t, err)
			assert.NotContains(t, string(hashed), tc.stored)
			assert.Equal(t, tc.matches, password.Matches(hashed, tc.offered))
		})
	}
}

func TestTwoHashesOfOnePasswordDiffer(t *testing.T) {
	a, err := password.Hash("correct horse", bcrypt.MinCost)
	require.NoError(t, err)
	b, err := password.Hash("correct horse", bcrypt.MinCost)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "each hash has its own salt")
}

func TestPlainBcryptHashesStillVerify(t *testing.T) {
	p72 := strings.Repeat("p", 72)
	legacy, err := bcrypt.GenerateFromPassword([]byte(p72), bcrypt.MinCost)
	require.NoError(t, err)
	assert.True(t, password.Matches(legacy, p72), "the password it was made from")
	assert.False(t, password.Matches(legacy, p72[:71]), "a shorter one")
	assert.False(t, password.Matches(legacy, p72+"tail"), "a longer one, whose first 72 bytes are all bcrypt would read")
	assert.False(t, password.Matches([]byte("not a hash"), p72), "garbage stored")
}

// An unknown email's login compares against Unmatchable, so that it costs what a wrong
// password costs; Unmatchable itself costs nothing, so the server need not run bcrypt to start.
func TestUnmatchableCostsOneBcryptAtItsCostAndMatchesNothing(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost, bcrypt.DefaultCost, 12} {
		hashed, err := password.Unmatchable(cost)
		require.NoError(t, err)
		rest, ok := bytes.CutPrefix(hashed, []byte(password.Marker))
		require.True(t, ok, "it is in Hash's format: %q", hashed)
		got, err := bcrypt.Cost(rest)
		require.NoError(t, err)
		assert.Equal(t, cost, got)
		// A malformed hash would be refused before any work; a mismatch means bcrypt ran.
		assert.ErrorIs(t, bcrypt.CompareHashAndPassword(rest, password.PreHash("entitle-timing-equalizer")), bcrypt.ErrMismatchedHashAndPassword)
		assert.False(t, password.Matches(hashed, ""))
	}
	_, err := password.Unmatchable(bcrypt.MaxCost + 1)
	assert.Error(t, err)
}
