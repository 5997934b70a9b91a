package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/server"
)

// Profiles expose the process's internals (command line, goroutine stacks), so operators get
// them only where they already get metrics: on the metrics listener, never on the API port.
func TestProfilesAreServedOnTheMetricsAddressOnly(t *testing.T) {
	cfg := testenv.Databases()[0].NewConfig(t)
	cfg.HTTPAddress = testenv.FreeAddress(t)
	cfg.PrometheusAddress = testenv.FreeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg, slog.New(slog.DiscardHandler), func(url string) { ready <- url }) }()
	apiURL := <-ready
	metricsURL := "http://" + cfg.PrometheusAddress

	get := func(url string) (int, []byte) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}

	t.Run("the metrics address lists the profiles", func(t *testing.T) {
		status, body := get(metricsURL + "/debug/pprof/")
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, string(body), "goroutine")
	})
	t.Run("the metrics address serves a CPU profile that go tool pprof can read", func(t *testing.T) {
		status, body := get(metricsURL + "/debug/pprof/profile?seconds=1")
		require.Equal(t, http.StatusOK, status, string(body))
		assertProfile(t, body)
	})
	t.Run("the metrics address serves a heap profile", func(t *testing.T) {
		status, body := get(metricsURL + "/debug/pprof/heap")
		require.Equal(t, http.StatusOK, status, string(body))
		assertProfile(t, body)
	})
	// The command line holds --postgres-url, password and all, and anyone who reaches the
	// metrics address would read it there.
	t.Run("the metrics address does not serve the command line", func(t *testing.T) {
		status, body := get(metricsURL + "/debug/pprof/cmdline")
		assert.Equal(t, http.StatusNotFound, status, string(body))
		assert.NotContains(t, string(body), os.Args[0])
	})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		t.Run("the API address answers 404 for "+path, func(t *testing.T) {
			status, _ := get(apiURL + path)
			assert.Equal(t, http.StatusNotFound, status)
		})
	}

	cancel()
	require.NoError(t, <-done)
}

// assertProfile checks body is what go tool pprof reads: a gzip-compressed protocol buffer.
func assertProfile(t *testing.T, body []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err, "a profile is gzip-compressed")
	decoded, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.NotEmpty(t, decoded)
}
