package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

func TestClientRequestIDsAreKeptOnlyWhenShortAndPlain(t *testing.T) {
	inst := testenv.StartOn(t, testenv.Databases()[0])
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"a UUID is kept", "0b6a3f4e-8c1d-4f55-9a5e-3c2b1d0e9f87", true},
		{"a short plain id is kept", "deploy-42.retry_1", true},
		{"an id of 64 characters is kept", strings.Repeat("a", 64), true},
		{"an id of 65 characters is replaced", strings.Repeat("a", 65), false},
		{"an id with spaces is replaced", "a b", false},
		{"an id with markup is replaced", "<script>", false},
		{"an id with a control character is replaced", "a\tb", false},
		{"an id with non-ASCII letters is replaced", "idé", false},
		{"an id with a newline escape is replaced", `a\nlevel=ERROR`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, inst.URL+"/healthz", nil)
			require.NoError(t, err)
			req.Header.Set("X-Request-ID", tc.sent)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			got := resp.Header.Get("X-Request-ID")
			if tc.kept {
				assert.Equal(t, tc.sent, got)
				return
			}
			assert.NotEqual(t, tc.sent, got)
			_, err = uuid.Parse(got)
			assert.NoError(t, err, "a fresh id is a UUID: %q", got)
		})
	}
}

func TestFreshRequestIDsAreRandomUUIDsThatDoNotRepeat(t *testing.T) {
	inst := testenv.StartOn(t, testenv.Databases()[0])
	seen := map[string]bool{}
	for range 200 {
		resp, err := http.Get(inst.URL + "/healthz")
		require.NoError(t, err)
		_ = resp.Body.Close()
		id := resp.Header.Get("X-Request-ID")
		parsed, err := uuid.Parse(id)
		require.NoError(t, err, id)
		assert.Equal(t, uuid.Version(4), parsed.Version(), id)
		assert.Equal(t, uuid.RFC4122, parsed.Variant(), id)
		assert.False(t, seen[id], "request id %s given twice", id)
		seen[id] = true
	}
}
