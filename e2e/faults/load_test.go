package faults

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveEntitleBinary()
	os.Exit(code)
}

// keepAliveLoad is a set of clients, each sending GET requests in a loop on a kept-alive
// connection of its own, until the server stops accepting connections.
//
// The clients speak HTTP/1.1 by hand (testenv.RawConn) on purpose: Go's http.Transport
// quietly resends an idempotent request whose kept-alive connection was closed under it, and
// reports only the second attempt's "connection refused", which would hide the cut this counts.
type keepAliveLoad struct {
	addr  string
	paths []string

	// signalled is set just before the test sends the signal: from then on a refused dial
	// means the listener is closed, which ends a client.
	signalled atomic.Bool

	answered     atomic.Int64
	connClose    atomic.Int64 // responses that said Connection: close
	refusedDials atomic.Int64 // new connections refused once the listener was closed

	mu sync.Mutex
	// cuts are requests written on a connection that had already carried a response, whose
	// answer never came (EOF, reset, or a refused write): the failure the drain must prevent.
	cuts []string
	// newConnResets are requests written on a just-dialled connection that was reset before
	// any answer: the kernel resets connections still queued in the listen backlog when the
	// listener closes, which the client sees like a refused connection.
	newConnResets []string
	// problems are anything else unexpected: a status other than 200, a dial refused before
	// the signal, a client that hung.
	problems []string

	wg sync.WaitGroup
}

// startKeepAliveLoad starts clients clients against addr, cycling through paths.
func startKeepAliveLoad(addr string, clients int, paths ...string) *keepAliveLoad {
	l := &keepAliveLoad{addr: addr, paths: paths}
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(i)
		}()
	}
	return l
}

func (l *keepAliveLoad) record(list *[]string, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*list = append(*list, fmt.Sprintf(format, args...))
}

// run is one client: it ends when a dial is refused after the signal.
func (l *keepAliveLoad) run(client int) {
	var (
		conn *testenv.RawConn
		// carried counts the responses the current connection has carried.
		carried int
	)
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for n := 0; ; n++ {
		if conn == nil {
			c, err := testenv.DialRaw(l.addr, 5*time.Second)
			if err != nil {
				if l.signalled.Load() && errors.Is(err, syscall.ECONNREFUSED) {
					l.refusedDials.Add(1)
					return
				}
				l.record(&l.problems, "client %d: dial: %v", client, err)
				return
			}
			conn, carried = c, 0
		}
		path := l.paths[(client+n)%len(l.paths)]
		resp, err := conn.Get(path, 15*time.Second)
		if err != nil {
			err = timeoutAsHung(err)
			_ = conn.Close()
			conn = nil
			if carried > 0 {
				l.record(&l.cuts, "client %d: GET %s, written on a connection that had carried %d responses: %v", client, path, carried, err)
			} else {
				l.record(&l.newConnResets, "client %d: GET %s on a new connection: %v", client, path, err)
			}
			if errors.Is(err, errHung) {
				return
			}
			continue
		}
		l.answered.Add(1)
		carried++
		if resp.StatusCode != http.StatusOK {
			l.record(&l.problems, "client %d: GET %s: status %d", client, path, resp.StatusCode)
		}
		if resp.Close {
			l.connClose.Add(1)
			_ = conn.Close()
			conn = nil
		}
	}
}

// errHung marks a request that got no answer, and no error, within its deadline.
var errHung = errors.New("no answer within 15s")

func timeoutAsHung(err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("%w: %w", errHung, err)
	}
	return err
}

// waitAnswered waits until the load has had at least n answers, or fails the test.
func (l *keepAliveLoad) waitAnswered(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.answered.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d answers within %v (wanted %d); problems: %q", l.answered.Load(), within, n, l.problems)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for every client to end.
func (l *keepAliveLoad) wait(t *testing.T, within time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("the load clients did not end within %v of the signal", within)
	}
}

// drainFigures is what one SIGTERM under load gave.
type drainFigures struct {
	answered, connClose, refusedDials int64
	cuts, newConnResets, problems     []string
	exit                              time.Duration
}

// sigtermUnderLoad starts clients keep-alive clients on p, sends SIGTERM once they are busy,
// and returns what happened, requiring exit 0.
func sigtermUnderLoad(t *testing.T, p *testenv.Process, clients int) drainFigures {
	t.Helper()
	load := startKeepAliveLoad(p.Addr(), clients, "/api/v2/entitlements", "/healthz")
	load.waitAnswered(t, int64(clients*5), 20*time.Second)
	load.signalled.Store(true)
	signalled := time.Now()
	p.Signal(t, syscall.SIGTERM)
	load.wait(t, 30*time.Second)
	exitErr := p.Wait(t, 30*time.Second)
	require.NoError(t, exitErr, "exit after SIGTERM\noutput:\n%s", p.Output.String())
	load.mu.Lock()
	defer load.mu.Unlock()
	return drainFigures{
		answered:      load.answered.Load(),
		connClose:     load.connClose.Load(),
		refusedDials:  load.refusedDials.Load(),
		cuts:          load.cuts,
		newConnResets: load.newConnResets,
		problems:      load.problems,
		exit:          time.Since(signalled),
	}
}

// requireNothingCut runs rounds rounds of SIGTERM under load on p (restarting it between
// rounds) and requires that no written request was cut.
func requireNothingCut(t *testing.T, p *testenv.Process, rounds, clients int) {
	t.Helper()
	var cut, answered int
	for round := 1; round <= rounds; round++ {
		began := time.Now()
		if round > 1 {
			p.Restart(t)
		}
		started := time.Since(began)
		f := sigtermUnderLoad(t, p, clients)
		t.Logf("round %d (restart took %v): %d answered, %d said Connection: close, %d cut, %d resets of new connections, %d dials refused, exit %v after SIGTERM",
			round, started.Round(time.Millisecond), f.answered, f.connClose, len(f.cuts), len(f.newConnResets), f.refusedDials, f.exit.Round(time.Millisecond))
		cut += len(f.cuts)
		answered += int(f.answered)
		assert.Zero(t, len(f.cuts), "round %d: %d requests written on kept-alive connections were cut, e.g. %q", round, len(f.cuts), firstFew(f.cuts))
		assert.Zero(t, len(f.problems), "round %d: %d problems, e.g. %q", round, len(f.problems), firstFew(f.problems))
		assert.Positive(t, f.connClose, "round %d: responses during the drain say Connection: close", round)
	}
	t.Logf("%d rounds of %d clients: %d answered, %d cut", rounds, clients, answered, cut)
}

// firstFew keeps a failure message short: the first three of a list.
func firstFew(list []string) []string {
	return list[:min(3, len(list))]
}
