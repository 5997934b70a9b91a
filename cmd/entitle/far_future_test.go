package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// A license whose next moment lies centuries ahead (here its start, in the year 9000) is waited
// for, not polled. The wait until it once overflowed time.Duration and the timer fired at once,
// for ever: a core spinning on recomputes, and on PostgreSQL thousands of transactions a
// second, from the upload on and after every restart.
func TestALicenseCenturiesAheadLeavesTheServerIdle(t *testing.T) {
	bin := buildBinary(t)
	key, keys := keyPair(t, "k")
	token := signWith(t, "--key", key, "--kid", "k", "--features", "user_limit=5", "--not-before", "9000-01-01T00:00:00Z")

	addr := testenv.FreeAddress(t)
	cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--http-address", addr, "--license-keys-dir", keys)
	var out testenv.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "the server never became healthy:\n%s", out.String())

	owner := testenv.SetupOwnerThrough(t, testenv.NewClient(t, "http://"+addr, http.DefaultClient, ""))
	resp, err := testenv.NewClient(t, "http://"+addr, http.DefaultClient, owner).
		AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))

	// Idle, the server spends a few milliseconds a second on its heartbeats; spinning, a whole
	// core.
	before := cpuTime(t, cmd.Process.Pid)
	time.Sleep(2 * time.Second)
	used := cpuTime(t, cmd.Process.Pid) - before
	assert.Less(t, used, 500*time.Millisecond, "the server used %s of CPU in 2s while nothing happened", used)
}

// cpuTime is the CPU time process pid has used, user and system, from /proc.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	// The fields after the command (which is in parentheses and may hold spaces): utime and
	// stime are the 12th and 13th, in clock ticks of 1/100 s on Linux.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	require.NoError(t, err)
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	require.NoError(t, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
