package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// buildBinary builds entitle into the test's temporary directory, so tests run the real binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "entitle")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestServerStartFailuresAreOneLineAndANonZeroExit(t *testing.T) {
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// Parallel subtests run after this function returns: hold the port until they are done.
	t.Cleanup(func() { _ = taken.Close() })
	takenAddr := taken.Addr().String()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown flag", []string{"server", "--no-such-flag"}, "unknown flag --no-such-flag"},
		{"a malformed duration", []string{"server", "--session-duration", "soon"}, "--session-duration"},
		{"a negative duration", []string{"server", "--session-duration=-1s", "--data-dir", t.TempDir()}, "--session-duration must be positive"},
		{"an unknown log format", []string{"server", "--log-format", "xml"}, "--log-format"},
		{"a proxy origin that is no address", []string{"server", "--proxy-trusted-headers", "X-Forwarded-For", "--proxy-trusted-origins", "10.0.0.0/8,proxy.internal", "--data-dir", t.TempDir()},
			`--proxy-trusted-origins: "proxy.internal" is neither an address nor a CIDR range`},
		{"proxy headers with no proxy to trust", []string{"server", "--proxy-trusted-headers", "X-Forwarded-For", "--data-dir", t.TempDir()},
			"--proxy-trusted-headers needs --proxy-trusted-origins"},
		{"an access URL that is no URL", []string{"server", "--access-url", "not a url", "--data-dir", t.TempDir()}, `--access-url: "not a url" is not an http or https URL`},
		{"an access URL without a host", []string{"server", "--access-url", "https://", "--data-dir", t.TempDir()}, `--access-url: "https://" is not an http or https URL`},
		{"an access URL of another scheme", []string{"server", "--access-url", "ftp://entitle.example.com", "--data-dir", t.TempDir()}, `--access-url: "ftp://entitle.example.com" is not an http or https URL`},
		{"an unreachable database", []string{"server", "--postgres-url", "postgres://postgres@127.0.0.1:1/entitle?connect_timeout=2", "--data-dir", t.TempDir()}, "connect"},
		{"an address in use", []string{"server", "--http-address", takenAddr, "--data-dir", t.TempDir()}, "listen on " + takenAddr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "it must exit non-zero; stderr: %s", stderr.String())
			assert.NotZero(t, exit.ExitCode())

			// Logging before the failure is allowed; the failure itself is the last line, alone.
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			assert.True(t, strings.HasPrefix(last, "entitle: "), "last line: %q", last)
			assert.Contains(t, last, tc.want)
			assert.NotContains(t, stderr.String(), "goroutine", "no panic trace")
			for _, l := range lines[:len(lines)-1] {
				assert.Contains(t, l, "level=", "only log lines come before the error: %q", l)
			}
		})
	}
}

func TestServerStartsWithMetricsAndAPIBothOnPortZero(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "server", "--data-dir", t.TempDir(),
		"--http-address", "127.0.0.1:0", "--prometheus-address", "127.0.0.1:0")
	var stderr testenv.LockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "serving metrics") },
		20*time.Second, 50*time.Millisecond, "two listeners on port 0 each get their own port; output:\n%s", stderr.String())
}

func TestJSONLogsAreOnlyJSONLinesWithUnitsInTheirKeys(t *testing.T) {
	bin := buildBinary(t)
	addr := testenv.FreeAddress(t)
	cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--http-address", addr, "--log-format", "json")
	var stdout, stderr testenv.LockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/api/v2/no/such/route")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())

	assert.Empty(t, stdout.String(), "the server writes nothing to stdout")
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	require.Greater(t, len(lines), 3)
	for _, line := range lines {
		var fields map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &fields), "not a JSON line: %q", line)
		for key, value := range fields {
			if _, isNumber := value.(float64); isNumber {
				for _, bare := range []string{"duration", "timeout", "in", "elapsed", "wait"} {
					assert.NotEqual(t, bare, key, "a duration's key says its unit (e.g. %s_ms): %s", bare, line)
				}
			}
		}
	}
	assert.Contains(t, stderr.String(), `"route":"unmatched"`, "unmatched requests are logged under the metrics' label")
}

// The server's live heap is small (the spec and bounded caches, a few MB), so with Go's default
// GOGC of 100 it collected some 40 times a second under load, about a sixth of its CPU on GET
// /entitlements. `entitle server` collects at GOGC=400 under a soft limit of 64 MiB instead,
// unless the operator set GOGC or GOMEMLIMIT, which always win.
func TestServerTunesTheGarbageCollectorUnlessTheOperatorDid(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name              string
		env               []string
		percent, limitMiB float64
	}{
		{"by default", nil, 400, 64},
		{"GOGC and GOMEMLIMIT set", []string{"GOGC=150", "GOMEMLIMIT=1GiB"}, 150, 1024},
		{"only GOGC set", []string{"GOGC=50"}, 50, 64},
		{"only GOMEMLIMIT set", []string{"GOMEMLIMIT=300MiB"}, 400, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metricsAddr := testenv.FreeAddress(t)
			cmd := exec.Command(bin, "server", "--data-dir", t.TempDir(), "--http-address", "127.0.0.1:0", "--prometheus-address", metricsAddr)
			cmd.Env = append(withoutGCSettings(os.Environ()), tc.env...)
			var stderr testenv.LockedBuffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			var body string
			require.Eventually(t, func() bool {
				resp, err := http.Get("http://" + metricsAddr + "/metrics")
				if err != nil {
					return false
				}
				defer func() { _ = resp.Body.Close() }()
				b, err := io.ReadAll(resp.Body)
				body = string(b)
				return err == nil && resp.StatusCode == http.StatusOK
			}, 20*time.Second, 50*time.Millisecond, "metrics never answered; output:\n%s", stderr.String())
			assert.Equal(t, tc.percent, metricOf(t, body, "go_gc_gogc_percent"))
			assert.Equal(t, tc.limitMiB, metricOf(t, body, "go_gc_gomemlimit_bytes")/(1<<20))
		})
	}
}

// Go records no contention by default, so /debug/pprof/mutex and /debug/pprof/block are empty
// unless --profile-contention (or its variable) turns the recording on; their text form says
// the sampling period in force.
func TestContentionProfilesRecordOnlyWhenAskedFor(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name          string
		args, env     []string
		mutexPeriod   string
		blockRecorded bool
	}{
		{"by default", nil, nil, "sampling period=0", false},
		{"--profile-contention", []string{"--profile-contention"}, nil, "sampling period=100", true},
		{"ENTITLE_PROFILE_CONTENTION", nil, []string{"ENTITLE_PROFILE_CONTENTION=true"}, "sampling period=100", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metricsAddr := testenv.FreeAddress(t)
			args := append([]string{"server", "--data-dir", t.TempDir(), "--http-address", "127.0.0.1:0", "--prometheus-address", metricsAddr}, tc.args...)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr testenv.LockedBuffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			get := func(path string) (string, bool) {
				resp, err := http.Get("http://" + metricsAddr + path)
				if err != nil {
					return "", false
				}
				defer func() { _ = resp.Body.Close() }()
				b, err := io.ReadAll(resp.Body)
				return string(b), err == nil && resp.StatusCode == http.StatusOK
			}
			var mutex string
			require.Eventually(t, func() bool {
				var ok bool
				mutex, ok = get("/debug/pprof/mutex?debug=1")
				return ok
			}, 20*time.Second, 50*time.Millisecond, "the metrics listener never answered; output:\n%s", stderr.String())
			assert.Contains(t, mutex, tc.mutexPeriod)
			// A CPU profile of one second waits in a select for that second: a wait far longer
			// than the sampling period, so a block profile that records is sure to hold it (the
			// server's own waits at start-up may all be short and go unsampled). One that
			// records nothing is a header alone.
			_, ok := get("/debug/pprof/profile?seconds=1")
			require.True(t, ok)
			block, ok := get("/debug/pprof/block?debug=1")
			require.True(t, ok)
			assert.Equal(t, tc.blockRecorded, strings.Contains(block, "@ 0x"), "block profile:\n%.400s", block)
		})
	}
}

func withoutGCSettings(env []string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

func metricOf(t *testing.T, body, name string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return 0
}

// A server on SQLite keeps sessions, users and organizations in memory and empties them on its
// own writes: nothing tells it of another process's. A second server on the same data
// directory would serve what the first revoked (a logout, a suspension) for up to the caches'
// age, so it refuses to start, saying where replicas belong; once the first has stopped, it
// starts.
func TestASecondServerOnTheSameSQLiteDataDirectoryRefusesToStart(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startServer := func(addr string, out *testenv.LockedBuffer) *exec.Cmd {
		cmd := exec.Command(bin, "server", "--data-dir", dir, "--http-address", addr)
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		return cmd
	}
	healthy := func(addr string) bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	firstAddr := testenv.FreeAddress(t)
	var firstOut testenv.LockedBuffer
	first := startServer(firstAddr, &firstOut)
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	require.Eventually(t, func() bool { return healthy(firstAddr) }, 20*time.Second, 50*time.Millisecond, "%s", firstOut.String())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "server", "--data-dir", dir, "--http-address", testenv.FreeAddress(t))
	var stderr bytes.Buffer
	second.Stderr = &stderr
	err := second.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the second server must exit non-zero; stderr: %s", stderr.String())
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "entitle: "), "last line: %q", last)
	assert.Contains(t, last, "another entitle server is using the data directory "+dir)
	assert.Contains(t, last, "--postgres-url", "it says where replicas belong")
	assert.True(t, healthy(firstAddr), "the first server still serves")

	require.NoError(t, first.Process.Signal(syscall.SIGTERM))
	require.NoError(t, first.Wait())
	thirdAddr := testenv.FreeAddress(t)
	var thirdOut testenv.LockedBuffer
	third := startServer(thirdAddr, &thirdOut)
	t.Cleanup(func() { _ = third.Process.Kill(); _ = third.Wait() })
	require.Eventually(t, func() bool { return healthy(thirdAddr) }, 20*time.Second, 50*time.Millisecond,
		"once the first stopped, another starts on its data directory: %s", thirdOut.String())
}
