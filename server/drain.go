package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// How a stop drains, without cutting a request a client has already written.
//
// http.Server.Shutdown on its own cuts requests under keep-alive load: it closes every
// connection in StateIdle, and a connection stays StateIdle from the moment its last response
// is written until the server has read the next request's headers. A busy client writes that
// next request within microseconds of reading the response, so Shutdown keeps closing
// connections whose request is already in the kernel's buffer, and the client reads EOF.
// SetKeepAlivesEnabled(false) has the same flaw: it closes idle connections at once.
//
// So the drain never closes a connection a client may be about to use:
//
//  1. The listener closes first: no new connections (new dials are refused).
//  2. From then on every response says Connection: close (written at the moment the header
//     goes out, see responseHeaders), and net/http closes each connection right
//     after such a response. The client was told, so it sends nothing more on it: a busy
//     connection ends cleanly after one more answer.
//  3. A connection that is waiting for a request (StateNew or StateIdle) is closed by the drain
//     only once it has waited parkedAfter with no change of state. A client that meant to
//     send a request on it right after its last response has done so by then, and that
//     request makes the connection StateActive, which the drain never closes.
//  4. When no connection is left, or the drain budget (Config.ShutdownTimeout) runs out,
//     Shutdown and then Close end what remains.
//
// What remains, and why it is acceptable:
//   - A client that leaves a connection parked for parkedAfter and then sends a request on it
//     in the microseconds in which the drain closes it. Every HTTP/1.1 server has this race
//     with its idle timeout; RFC 9112 section 9.3.1 lets such a client retry, and Go's and
//     browsers' clients do so for idempotent requests.
//   - A connection the kernel has completed but the server had not yet accepted when the
//     listener closed is reset by the kernel: to the client it is a new connection refused,
//     never a request on a kept-alive connection.
//   - A response whose header went out before the signal, without Connection: close, from a
//     handler still running when the whole budget is spent: the budget bounds the stop.
const parkedAfter = 500 * time.Millisecond

// drainPollInterval is how often the drain looks for parked connections.
const drainPollInterval = 10 * time.Millisecond

// connections follows every connection's state, so the drain can tell a connection a client
// may be about to use from one it has parked. Every request changes its connection's state
// twice (active, then idle again), so the http.Server's ConnState hook (track) only stores into
// the connection's own atomics; the set of connections, behind the mutex, changes only when one
// is accepted or ends.
type connections struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// trackedConn is an accepted connection with its state, as ConnState reports it.
type trackedConn struct {
	net.Conn
	state atomic.Int64 // an http.ConnState
	// idleSince is when the connection last began to wait for a request (unix nanoseconds);
	// only read while state says it waits.
	idleSince atomic.Int64
}

// CloseWrite half-closes a TCP connection: net/http does so after answering a request whose
// body it would not read, so that the client reads the answer rather than a reset.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func newConnections() *connections {
	return &connections{conns: make(map[*trackedConn]struct{})}
}

// listen wraps ln so that every connection it accepts is tracked.
func (c *connections) listen(ln net.Listener) net.Listener { return trackingListener{ln, c} }

type trackingListener struct {
	net.Listener
	conns *connections
}

// Accept implements net.Listener.
func (l trackingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tracked := &trackedConn{Conn: conn}
	tracked.state.Store(int64(http.StateNew))
	tracked.idleSince.Store(time.Now().UnixNano())
	l.conns.mu.Lock()
	l.conns.conns[tracked] = struct{}{}
	l.conns.mu.Unlock()
	return tracked, nil
}

// track is the http.Server's ConnState hook.
func (c *connections) track(conn net.Conn, state http.ConnState) {
	tracked, ok := conn.(*trackedConn)
	if !ok {
		return // not accepted through listen
	}
	switch state {
	case http.StateHijacked, http.StateClosed:
		c.mu.Lock()
		delete(c.conns, tracked)
		c.mu.Unlock()
	case http.StateNew, http.StateIdle:
		// The time first, then the state: closeParked reads them the other way round.
		tracked.idleSince.Store(time.Now().UnixNano())
	}
	tracked.state.Store(int64(state))
}

// closeParked closes the connections that have waited for a request for at least parkedAfter,
// and returns how many connections are still open.
func (c *connections) closeParked(now time.Time) (open int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		state := http.ConnState(conn.state.Load())
		waiting := state == http.StateNew || state == http.StateIdle
		if waiting && now.Sub(time.Unix(0, conn.idleSince.Load())) >= parkedAfter {
			// Its goroutine in net/http sees the read fail and reports StateClosed.
			_ = conn.Close()
			delete(c.conns, conn)
			continue
		}
		open++
	}
	return open
}

// drain ends srv, whose listener is already closed, without cutting a written request (see
// the comment at parkedAfter), by deadline at the latest.
func (s *Server) drain(srv *http.Server, conns *connections, deadline time.Time) {
	tick := time.NewTicker(drainPollInterval)
	defer tick.Stop()
	for conns.closeParked(time.Now()) > 0 && time.Now().Before(deadline) {
		<-tick.C
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		// The drain is bounded: what is still open now (a request slower than the budget) is
		// cut, and the stop is still an orderly one.
		s.logger.Warn("drain time ran out; closing the remaining connections", "error", err)
		_ = srv.Close()
	}
}
