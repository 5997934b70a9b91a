package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logoutServer answers POST /users/logout with status and body, and records the token sent.
func logoutServer(t *testing.T, status int, body string, sent *string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*sent = r.Header.Get("Coder-Session-Token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLogoutForgetsOnlyTheSessionItEnded(t *testing.T) {
	const stored, other = "storedtokn-0123456789012345678901", "othertoken-0123456789012345678901"
	setup := func(t *testing.T, srv *httptest.Server) string {
		dir := t.TempDir()
		t.Setenv("HOME", t.TempDir())
		t.Setenv("ENTITLE_CONFIG_DIR", dir)
		t.Setenv("ENTITLE_SESSION_TOKEN", "")
		require.NoError(t, saveSession(dir, session{URL: srv.URL, SessionToken: stored}))
		return filepath.Join(dir, sessionFileName)
	}

	t.Run("signing out another token keeps the stored session", func(t *testing.T) {
		var sent string
		srv := logoutServer(t, http.StatusOK, `{"message":"You've been logged out!"}`, &sent)
		file := setup(t, srv)
		stdout, stderr, err := runCLI(t, "logout", "--token", other)
		require.NoError(t, err, stderr)
		assert.Equal(t, other, sent)
		assert.FileExists(t, file, "the stored session is another one, still valid: it stays")
		assert.Contains(t, stdout, "kept")
	})

	t.Run("signing out the stored session forgets it", func(t *testing.T) {
		var sent string
		srv := logoutServer(t, http.StatusOK, `{"message":"You've been logged out!"}`, &sent)
		file := setup(t, srv)
		_, stderr, err := runCLI(t, "logout")
		require.NoError(t, err, stderr)
		assert.Equal(t, stored, sent)
		assert.NoFileExists(t, file)
	})

	t.Run("a suspended account's session is not said to have ended", func(t *testing.T) {
		var sent string
		srv := logoutServer(t, http.StatusUnauthorized, `{"message":"User is not active (status = \"suspended\"). Contact an admin to reactivate your account."}`, &sent)
		file := setup(t, srv)
		stdout, stderr, err := runCLI(t, "logout")
		require.Error(t, err, "the session was not ended: %s", stdout)
		assert.NotContains(t, stdout+stderr+err.Error(), "already ended")
		assert.Contains(t, err.Error(), "suspended")
		assert.Contains(t, err.Error(), "valid on the server")
		_, statErr := os.Stat(file)
		assert.True(t, os.IsNotExist(statErr), "it is still forgotten here, as asked")
	})
}
