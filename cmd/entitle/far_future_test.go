package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// A license whose next moment lies centuries ahead (here its start, in the year 9000) is waited
// for, not polled. The wait until it once overflowed time.Duration and the timer fired at once,
// for ever: a core spinning on recomputes, and on PostgreSQL thousands of transactions a
// second, from the upload on and after every restart.
func TestALicenseCenturiesAheadLeavesTheServerIdle(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	run := func(args ...string) string {
		out, err := exec.Command(bin, args...).Output()
		require.NoError(t, err, "entitle %s", strings.Join(args, " "))
		return strings.TrimSpace(string(out))
	}
	run("license", "keygen", "--kid", "k", "--private-out", filepath.Join(dir, "k.pem"), "--public-dir", keys)
	token := run("license", "sign", "--key", filepath.Join(dir, "k.pem"), "--kid", "k", "--features", "user_limit=5",
		"--not-before", "9000-01-01T00:00:00Z")

	addr := testenv.FreeAddress(t)
	cmd := exec.Command(bin, "server", "--data-dir", filepath.Join(dir, "data"), "--http-address", addr, "--license-keys-dir", keys)
	var out testenv.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	api := "http://" + addr + "/api/v2"
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "the server never became healthy:\n%s", out.String())

	post := func(path, session string, body any) *http.Response {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, api+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if session != "" {
			req.Header.Set("Coder-Session-Token", session)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	resp := post("/users/first", "", map[string]string{"email": testenv.OwnerEmail, "username": testenv.OwnerUsername, "password": testenv.OwnerPassword})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var login struct {
		SessionToken string `json:"session_token"`
	}
	resp = post("/users/login", "", map[string]string{"email": testenv.OwnerEmail, "password": testenv.OwnerPassword})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&login))
	resp = post("/licenses", login.SessionToken, map[string]string{"license": token})
	require.Equal(t, http.StatusCreated, resp.StatusCode)

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
