package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCeilingAnswersEachRouteWithItsBytes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "org.json"), []byte(`{"id":"x","name":"bench"}`+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "created.json"), []byte(`{"id":"y"}`), 0o600))
	manifest := filepath.Join(dir, "routes.tsv")
	require.NoError(t, os.WriteFile(manifest, []byte(strings.Join([]string{
		"# method\tpath\tstatus\tbody",
		"GET\t/api/v2/organizations/bench\t200\torg.json",
		"POST\t/api/v2/organizations\t201\tcreated.json",
	}, "\n")), 0o600))
	routes, err := readRoutes(manifest)
	require.NoError(t, err)
	h := newHandler(routes)

	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/api/v2/organizations/bench", http.StatusOK, `{"id":"x","name":"bench"}` + "\n"},
		{http.MethodPost, "/api/v2/organizations", http.StatusCreated, `{"id":"y"}`},
		{http.MethodGet, "/api/v2/organizations/other", http.StatusNotFound, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"name":"ignored"}`)))
			assert.Equal(t, tc.status, rec.Code)
			if tc.body != "" {
				assert.Equal(t, tc.body, rec.Body.String(), "the very bytes of the file")
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestCeilingRefusesABadManifest(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "routes.tsv")
	for name, content := range map[string]string{
		"three fields":   "GET\t/x\t200",
		"a bad status":   "GET\t/x\tok\tbody.json",
		"a missing body": "GET\t/x\t200\tmissing.json",
		"no routes":      "# nothing\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(manifest, []byte(content), 0o600))
			_, err := readRoutes(manifest)
			assert.Error(t, err)
		})
	}
}
