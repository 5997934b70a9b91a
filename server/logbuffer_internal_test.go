package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedWriter is a log output whose writes wait at a gate: a pipe nobody reads for a while.
type gatedWriter struct {
	entered chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	out     bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.entered <- struct{}{}
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// A request appends its access line while a flush is writing to a slow output: it must not
// wait for that write (the buffer has room), and the lines still come out in order.
func TestAccessLinesDoNotWaitForAWriteUnderWay(t *testing.T) {
	w := &gatedWriter{entered: make(chan struct{}, 8), gate: make(chan struct{})}
	b := newLogBuffer(w)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	line := func(id string) *accessLine {
		return &accessLine{requestID: id, method: "GET", route: "/api/v2/users/me", path: "/api/v2/users/me",
			status: 200, elapsed: time.Millisecond, bytesOut: 10, remoteIP: "127.0.0.1"}
	}
	require.True(t, b.appendAccessLine("text", at, slog.LevelInfo, line("first")))
	flushed := make(chan error, 1)
	go func() { flushed <- b.Flush() }()
	<-w.entered // the flush is writing, and held there

	appended := make(chan bool, 1)
	go func() { appended <- b.appendAccessLine("text", at, slog.LevelInfo, line("second")) }()
	waited := false
	select {
	case ok := <-appended:
		assert.True(t, ok)
	case <-time.After(2 * time.Second):
		waited = true
		t.Error("an access line waited for a write to a slow output, with room in the buffer")
	}

	close(w.gate)
	require.NoError(t, <-flushed)
	if waited {
		<-appended
	}
	require.NoError(t, b.Flush())
	w.mu.Lock()
	out := w.out.String()
	w.mu.Unlock()
	first, second := strings.Index(out, "request_id=first"), strings.Index(out, "request_id=second")
	require.True(t, first >= 0 && second >= 0, "lines lost: %q", out)
	assert.Less(t, first, second, "lines out of order")
}
