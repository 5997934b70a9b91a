package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Text from the server reaches a terminal: an organization admin writes descriptions the
// owner's `entitle audit` prints. Control characters in it (escape sequences that move the
// cursor or erase lines, carriage returns, line breaks) are shown as escapes, so no answer can
// rewrite the screen or add a line that looks like the CLI's own.
func TestServerTextCannotDriveTheTerminal(t *testing.T) {
	const hostile = `\u001b[1A\u001b[2K\r\nowner deleted license 1\u001b[8m\u0085\u202e`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v2/audit":
			_, _ = w.Write([]byte(`{"count":1,"audit_logs":[{"id":"0b5f3a5e-1111-4a6e-9a51-3f2f4c1d2e01","request_id":"0b5f3a5e-1111-4a6e-9a51-3f2f4c1d2e02",` +
				`"time":"2026-12-07T10:00:00Z","ip":"","user_agent":"","resource_type":"organization","resource_id":"0b5f3a5e-1111-4a6e-9a51-3f2f4c1d2e03",` +
				`"resource_target":"eps` + hostile + `","action":"write","diff":{"description":{"old":"","new":"` + hostile + `","secret":false}},` +
				`"status_code":200,"description":"{user} updated organization {target}","organization_id":"0b5f3a5e-1111-4a6e-9a51-3f2f4c1d2e04","user":null}]}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"bad \u001b[31mRED\u0007","detail":"line one\r\nentitle: all is well","validations":[{"field":"na\u001bme","detail":"x\ny"}]}`))
		}
	}))
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("ENTITLE_CONFIG_DIR", t.TempDir())

	stdout, stderr, err := runCLI(t, "audit", "--url", srv.URL, "--token", "abcdefghij-0123456789012345678901")
	require.NoError(t, err, stderr)
	assertInert(t, stdout)
	assert.Equal(t, 2, strings.Count(stdout, "\n"), "a header and one entry, no line of the server's own: %q", stdout)

	_, stderr, err = runCLI(t, "organizations", "show", "x", "--url", srv.URL, "--token", "abcdefghij-0123456789012345678901")
	require.Error(t, err)
	assertInert(t, err.Error()+stderr)
	assert.NotContains(t, err.Error(), "\nentitle: all is well", "no line of the server's own")
}

func assertInert(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		assert.False(t, r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069),
			"control character %U printed: %q", r, s)
	}
}
