package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Go's client resends every header but Authorization and Cookie to wherever a redirect points,
// the session token included. The API never redirects; a server in front of it that does,
// to another host or from https down to http, is refused rather than handed the session.
func TestTheCLINeverFollowsARedirectWithTheSessionToAnotherHost(t *testing.T) {
	var stolen atomic.Value
	stolen.Store("")
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Store(r.Header.Get("Coder-Session-Token"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	defer thief.Close()
	// The same listener as another host name: 127.0.0.1 redirects to localhost.
	elsewhere := strings.Replace(thief.URL, "127.0.0.1", "localhost", 1)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()

	t.Setenv("HOME", t.TempDir())
	t.Setenv("ENTITLE_CONFIG_DIR", t.TempDir())
	const token = "abcdefghij-SECRETSECRETSECRET1234"
	_, stderr, err := runCLI(t, "organizations", "list", "--url", redirector.URL, "--token", token)
	require.Error(t, err, "a redirect to another host is an error, not an answer")
	assert.Empty(t, stolen.Load(), "the session went to the other host")
	assert.Contains(t, err.Error()+stderr, "localhost", "the error names where it was sent")
	assert.NotContains(t, err.Error()+stderr, "SECRET")
}
