package server

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptTracked dials ln's address and returns the tracked server side and the client side.
func acceptTracked(t *testing.T, ln net.Listener) (*trackedConn, net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	conn, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	tracked, ok := conn.(*trackedConn)
	require.True(t, ok, "the listener hands out tracked connections")
	return tracked, client
}

func TestConnectionsCloseOnlyWhatHasWaitedLongEnough(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	conns := newConnections()
	ln := conns.listen(raw)

	active, _ := acceptTracked(t, ln)
	conns.track(active, http.StateActive)
	parked, parkedClient := acceptTracked(t, ln)
	conns.track(parked, http.StateIdle)
	fresh, _ := acceptTracked(t, ln) // accepted, no request yet: StateNew
	closed, _ := acceptTracked(t, ln)
	conns.track(closed, http.StateClosed)

	now := time.Now()
	assert.Equal(t, 3, conns.closeParked(now), "nothing has waited parkedAfter yet; the closed one is forgotten")

	later := now.Add(parkedAfter + time.Millisecond)
	conns.track(fresh, http.StateActive) // its request arrived meanwhile
	assert.Equal(t, 2, conns.closeParked(later), "the parked connection is closed, the two busy ones stay")
	_ = parkedClient.SetReadDeadline(time.Now().Add(time.Second))
	_, err = parkedClient.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the parked connection was closed")

	conns.track(active, http.StateIdle) // its answer went out just now
	assert.Equal(t, 2, conns.closeParked(time.Now()), "a connection is timed from when it began to wait")
	assert.Equal(t, 1, conns.closeParked(time.Now().Add(parkedAfter+time.Millisecond)))
}

func TestTrackedConnectionsStillHalfClose(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	server, client := acceptTracked(t, newConnections().listen(raw))

	// net/http half-closes after answering a request whose body it will not read (a body over
	// the limit), so that the client reads the answer rather than a reset.
	require.NoError(t, server.CloseWrite())
	_ = client.SetReadDeadline(time.Now().Add(time.Second))
	_, err = client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the client reads the end of the answer")
	_, err = client.Write([]byte("the rest of the body"))
	assert.NoError(t, err, "the client may still write")
	got := make([]byte, 3)
	_, err = io.ReadFull(server, got)
	assert.NoError(t, err, "the server may still read")
}
