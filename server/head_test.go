package server_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// TestHeadAnswersAsGetWithoutABodyOnAKeptAliveConnection checks HEAD on the wire: the status
// GET would get, no body, and the connection still reads the next answer cleanly (a stray
// body or chunk terminator would corrupt it). The access log names HEAD.
func TestHeadAnswersAsGetWithoutABodyOnAKeptAliveConnection(t *testing.T) {
	logs := &testenv.LockedBuffer{}
	inst := testenv.StartWithLogger(t, testenv.Databases()[0].NewConfig(t),
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	token := inst.SetupOwner(t)
	u, err := url.Parse(inst.URL)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	reader := bufio.NewReader(conn)

	exchange := func(method, path string, header string) (*http.Response, string) {
		t.Helper()
		_, err := io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: "+u.Host+"\r\n"+header+"\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(reader, &http.Request{Method: method})
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	steps := []struct {
		method, path, header string
		status               int
	}{
		{http.MethodHead, "/api/v2/buildinfo", "", http.StatusOK},
		{http.MethodGet, "/api/v2/buildinfo", "", http.StatusOK},
		{http.MethodHead, "/api/v2/users/me", "", http.StatusUnauthorized},
		{http.MethodHead, "/api/v2/users/me", "Coder-Session-Token: " + token + "\r\n", http.StatusOK},
		{http.MethodHead, "/api/v2/organizations/default", "Coder-Session-Token: " + token + "\r\n", http.StatusOK},
		// POST only (GET /users/login is GET /users/{user}, as in Coder's router).
		{http.MethodHead, "/api/v2/licenses/refresh-entitlements", "", http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/v2/nope", "", http.StatusNotFound},
		{http.MethodGet, "/api/v2/users/me", "Coder-Session-Token: " + token + "\r\n", http.StatusOK},
	}
	for _, s := range steps {
		resp, body := exchange(s.method, s.path, s.header)
		assert.Equal(t, s.status, resp.StatusCode, "%s %s", s.method, s.path)
		if s.method == http.MethodHead {
			assert.Empty(t, body, "%s %s has no body", s.method, s.path)
			assert.Empty(t, resp.TransferEncoding, "%s %s announces no chunked body", s.method, s.path)
		} else {
			assert.True(t, strings.HasPrefix(body, "{"), "%s %s: the body after a HEAD is whole: %q", s.method, s.path, body)
		}
	}
	assert.Regexp(t, `method=HEAD route=\S+ path=/api/v2/buildinfo status=200`, logs.String(), "the access log names the method the client sent")
}
