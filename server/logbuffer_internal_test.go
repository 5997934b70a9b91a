package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
	select {
	case w.entered <- struct{}{}:
	default: // nobody is counting the writes any more
	}
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

// A write to the output can stall for most of a second (a file system behind its journal, a
// pipe whose reader lags). The lines that fill the buffer meanwhile must not wait for it, up to
// the buffer's limit; past the limit they do, so memory stays bounded. Every line comes out,
// in order, once the output moves again.
func TestAccessLinesPileUpBehindASlowWriteUpToTheLimit(t *testing.T) {
	w := &gatedWriter{entered: make(chan struct{}, 1024), gate: make(chan struct{})}
	b := newLogBuffer(w)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	next := 0
	appendOne := func() {
		l := &accessLine{requestID: fmt.Sprintf("line-%d", next), method: "GET", route: "/api/v2/users/me",
			path: "/api/v2/users/me", status: 200, elapsed: time.Millisecond, bytesOut: 10, remoteIP: "127.0.0.1"}
		next++
		require.True(t, b.appendAccessLine("text", at, slog.LevelInfo, l))
	}
	waiting := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.buf)
	}
	appendOne()
	flushed := make(chan error, 1)
	go func() { flushed <- b.Flush() }()
	<-w.entered // the write is under way, and stalls

	// Twice the buffer's size piles up without waiting.
	piled := make(chan struct{})
	go func() {
		defer close(piled)
		for waiting() < 2*accessLogBufferSize {
			appendOne()
		}
	}()
	select {
	case <-piled:
	case <-time.After(5 * time.Second):
		t.Fatalf("a line waited for a stalled write with %d bytes waiting, below the limit of %d", waiting(), accessLogBufferLimit)
	}

	// Lines pile up to the limit, and the one that takes them past it waits for the output.
	pastLimit := make(chan struct{})
	var released atomic.Bool
	go func() {
		defer close(pastLimit)
		for waiting() < accessLogBufferLimit && !released.Load() {
			appendOne()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for waiting() < accessLogBufferLimit-1024 {
		select {
		case <-pastLimit:
			t.Fatal("a line past the buffer's limit did not wait for the stalled output")
		default:
		}
		require.True(t, time.Now().Before(deadline), "the lines up to the limit waited for the stalled write: %d bytes waiting", waiting())
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-pastLimit:
		t.Fatal("a line past the buffer's limit did not wait for the stalled output")
	case <-time.After(300 * time.Millisecond):
	}
	require.Less(t, waiting(), accessLogBufferLimit+1024, "lines went on piling up past the limit")

	released.Store(true)
	close(w.gate)
	<-pastLimit
	require.NoError(t, <-flushed)
	require.NoError(t, b.Flush())
	w.mu.Lock()
	out := w.out.String()
	w.mu.Unlock()
	from := 0
	for i := range next {
		at := strings.Index(out[from:], fmt.Sprintf("request_id=line-%d ", i))
		require.GreaterOrEqual(t, at, 0, "line %d of %d lost or out of order", i, next)
		from += at
	}
}
