package licensing

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// scrape reads the gauges named in names (without labels, or the first series) from a
// Prometheus text endpoint.
func scrape(t *testing.T, metricsURL string, names ...string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	values := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		for _, name := range names {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || (rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			if _, seen := values[name]; seen {
				continue
			}
			fields := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
			v, err := strconv.ParseFloat(fields[0], 64)
			require.NoError(t, err, line)
			values[name] = v
		}
	}
	require.NoError(t, lines.Err())
	for _, name := range names {
		require.Contains(t, values, name, "metric %s", name)
	}
	return values
}

// TestAThousandWaitersCostLittleMemory runs the real binary, parks 1000 watches on it and
// reads its own metrics before and during: what each waiter costs the server, that none holds
// a database connection, and that SIGTERM releases them all at once.
func TestAThousandWaitersCostLittleMemory(t *testing.T) {
	const waiters = 1000
	bin := testenv.EntitleBinary(t)
	addr, metricsAddr := testenv.FreeAddress(t), testenv.FreeAddress(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--http-address", addr, "--prometheus-address", metricsAddr)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	output := &testenv.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// The test stopped it with SIGTERM and checked its exit already; this is for a failure
		// before then, when only its being gone matters.
		_ = cmd.Process.Kill()
		select {
		case err := <-exited:
			_ = err
		case <-time.After(10 * time.Second):
		}
	})
	baseURL := "http://" + addr
	metricsURL := "http://" + metricsAddr + "/metrics"
	waitFor(t, 30*time.Second, 50*time.Millisecond, "the server serving", func() (bool, string) {
		resp, err := http.Get(baseURL + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: waiters}}
	first := getEntitlements(client, baseURL, "", "")
	require.NoError(t, first.err)
	require.Equal(t, http.StatusOK, first.status)

	gauges := []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "process_resident_memory_bytes", "go_sql_in_use_connections"}
	before := scrape(t, metricsURL, gauges...)

	var waiting []<-chan watchResult
	for range waiters {
		waiting = append(waiting, watchInBackground(client, baseURL, first.etag, "60s"))
	}
	waitFor(t, 20*time.Second, 100*time.Millisecond, "every waiter parked on the server", func() (bool, string) {
		g := scrape(t, metricsURL, "go_goroutines")["go_goroutines"]
		return g >= before["go_goroutines"]+waiters, strconv.FormatFloat(g, 'f', 0, 64) + " goroutines"
	})
	time.Sleep(500 * time.Millisecond) // let the last connections settle
	during := scrape(t, metricsURL, gauges...)
	// A scrape may itself query the database (seat counts), so the fewest connections seen in
	// a few scrapes is what the waiters hold: a waiter holding one would show in every scrape.
	inUse := during["go_sql_in_use_connections"]
	for range 3 {
		inUse = min(inUse, scrape(t, metricsURL, "go_sql_in_use_connections")["go_sql_in_use_connections"])
	}

	perWaiter := func(name string) float64 { return (during[name] - before[name]) / waiters }
	heapAndStack := perWaiter("go_memstats_heap_inuse_bytes") + perWaiter("go_memstats_stack_inuse_bytes")
	t.Logf("%d waiters: +%.0f goroutines; per waiter: heap %.1f KiB, stack %.1f KiB, heap+stack %.1f KiB, RSS %.1f KiB; "+
		"totals before/during: heap %.1f/%.1f MiB, stack %.1f/%.1f MiB, RSS %.1f/%.1f MiB; database connections in use: %.0f",
		waiters, during["go_goroutines"]-before["go_goroutines"],
		perWaiter("go_memstats_heap_inuse_bytes")/1024, perWaiter("go_memstats_stack_inuse_bytes")/1024, heapAndStack/1024,
		perWaiter("process_resident_memory_bytes")/1024,
		before["go_memstats_heap_inuse_bytes"]/(1<<20), during["go_memstats_heap_inuse_bytes"]/(1<<20),
		before["go_memstats_stack_inuse_bytes"]/(1<<20), during["go_memstats_stack_inuse_bytes"]/(1<<20),
		before["process_resident_memory_bytes"]/(1<<20), during["process_resident_memory_bytes"]/(1<<20),
		inUse)
	// Nearly all of it is the HTTP request in flight: net/http's two 4 KiB buffers per
	// connection, the request and its headers, the connection's two goroutines. The wait itself
	// is a timer and a select on a channel every waiter shares (about 1 KiB in a heap profile).
	// Measured here: about 27 KiB of heap and stack and 22 KiB of resident memory per waiter.
	assert.Less(t, heapAndStack, 48.0*1024, "heap and stack per waiter")
	assert.Less(t, perWaiter("process_resident_memory_bytes"), 64.0*1024, "resident memory per waiter")
	assert.Zero(t, inUse, "waiters hold no database connection")

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit 0 after SIGTERM\n%s", output.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM with %d waiters\n%s", waiters, output.String())
	}
	t.Logf("exited %v after SIGTERM with %d waiters", time.Since(start), waiters)
	// The drain's bound is 15 s, which waiters holding it up would reach.
	assert.Less(t, time.Since(start), 5*time.Second, "waiters do not hold up the drain")
	released := 0
	for _, answers := range waiting {
		if r := awaitAnswer(t, answers, 5*time.Second, "a waiter"); r.status == http.StatusNotModified {
			released++
		}
	}
	assert.Equal(t, waiters, released, "every waiter is answered 304 at the stop")
}
