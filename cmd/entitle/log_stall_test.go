package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// The server's log goes to a pipe that a log shipper reads. While the shipper stalls (the pipe
// full), requests go on being answered: their access lines wait in memory, up to a bound far
// above what this test sends, and all of them come out once it reads again.
func TestRequestsGoOnWhileTheLogReaderStalls(t *testing.T) {
	bin := buildBinary(t)
	addr := testenv.FreeAddress(t)
	cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--http-address", addr)
	logs, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	reader := bufio.NewReader(logs)
	for {
		line, err := reader.ReadString('\n')
		require.NoError(t, err, "the server stopped before listening")
		if strings.Contains(line, "entitle is listening on") {
			break
		}
	}
	// From here nobody reads the log until every request is answered. Each access line is
	// about 250 bytes: 2000 of them are several times what the pipe (64 KiB) and the server's
	// buffer before its first write (64 KiB) hold.
	const requests = 2000
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range requests {
		resp, err := client.Get("http://" + addr + "/api/v2/entitlements")
		require.NoError(t, err, "request %d of %d, with the log's reader stalled", i+1, requests)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	rest, err := io.ReadAll(reader)
	require.NoError(t, err)
	assert.Equal(t, requests, strings.Count(string(rest), "route=/api/v2/entitlements "), "every access line comes out once the log is read again")
}
