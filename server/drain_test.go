package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/server"
)

// served is a server whose stop the test begins itself, as a signal would.
type served struct {
	addr string
	stop context.CancelFunc
	done chan error
}

func serveForDrain(t *testing.T) *served {
	t.Helper()
	cfg := testenv.Databases()[0].NewConfig(t)
	srv, err := server.New(context.Background(), cfg, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	s := &served{addr: ln.Addr().String(), stop: stop, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-s.done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = srv.Close()
	})
	return s
}

// stopped waits for Serve to return and requires that it returned nil within limit.
func (s *served) stopped(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	begun := time.Now()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		require.NoError(t, err)
		return time.Since(begun)
	case <-time.After(limit):
		t.Fatalf("Serve did not return within %v of the stop", limit)
		return 0
	}
}

func dialKeptAlive(t *testing.T, addr string) *testenv.RawConn {
	t.Helper()
	conn, err := testenv.DialRaw(addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestTheDrainAnswersWhatClientsSendOnOpenConnections(t *testing.T) {
	t.Run("a request sent on a kept-alive connection after the stop began is answered, with Connection: close", func(t *testing.T) {
		s := serveForDrain(t)
		client := dialKeptAlive(t, s.addr)
		first, err := client.Get("/healthz", 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, first.StatusCode)
		require.False(t, first.Close, "before the stop, connections are kept alive")

		s.stop()
		// Once new connections are refused, the drain has begun.
		require.Eventually(t, func() bool {
			conn, err := net.Dial("tcp", s.addr)
			if err == nil {
				_ = conn.Close()
			}
			return errors.Is(err, syscall.ECONNREFUSED)
		}, 5*time.Second, 2*time.Millisecond, "the listener closes at the stop")

		second, err := client.Get("/api/v2/entitlements", 10*time.Second)
		require.NoError(t, err, "the request on the open connection is answered")
		assert.Equal(t, http.StatusOK, second.StatusCode)
		assert.True(t, second.Close, "the answer says Connection: close")
		took := s.stopped(t, 5*time.Second)
		t.Logf("Serve returned %v after the last answer", took)
	})

	t.Run("connections that wait without a request are closed within a second, not at the end of the budget", func(t *testing.T) {
		s := serveForDrain(t) // its drain budget is 5s
		// The unused connection is dialed first. A connection the kernel has completed but the
		// server has not yet accepted is reset, not closed, when the listener closes, so the
		// test must know the server accepted it: the kernel's accept queue is first in, first
		// out, so once the connection dialed after it is answered, it has been accepted.
		never := dialKeptAlive(t, s.addr) // connected, never sends a request
		used := dialKeptAlive(t, s.addr)
		resp, err := used.Get("/healthz", 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		s.stop()
		took := s.stopped(t, 10*time.Second)
		assert.Less(t, took, 2*time.Second, "Serve returned after %v", took)
		for name, conn := range map[string]*testenv.RawConn{"the used connection": used, "the unused connection": never} {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			_, err := conn.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "%s is closed", name)
		}
	})
}
