package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The access log writes one line per request, and a write per line was a syscall per request
// (a tenth of a signed-in GET's cost). Its lines therefore wait in memory, at most
// accessLogFlushInterval or accessLogBufferSize bytes, and go out in one write. Every other
// line (start, stop, warnings, errors, a 5xx's access line) is written at once, with the access
// lines that waited before it, so the order holds. A clean stop writes everything (Close);
// a crash (SIGKILL, out of memory, a fatal runtime error) loses at most the access lines of
// the last accessLogFlushInterval, and never a warning or an error.
const (
	accessLogFlushInterval = 100 * time.Millisecond
	accessLogBufferSize    = 64 << 10
)

// logBuffer keeps what is written until Flush, the flush interval after the first write it
// kept, or its size passing the limit.
type logBuffer struct {
	out io.Writer

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	armed bool
	// stamp keeps the access lines' last second formatted.
	stamp secondStamp
}

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write keeps p; slog's handlers write each record in one call.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), b.keptLocked(false)
}

// appendAccessLine keeps the access line l, formatted in place (see accesslog.go), and says
// false when it must go through slog instead. A line above info is written out at once.
func (b *logBuffer) appendAccessLine(format string, t time.Time, level slog.Level, l *accessLine) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf, ok := appendAccessLine(b.buf, format, &b.stamp, t, level, l)
	if !ok {
		return false
	}
	b.buf = buf
	_ = b.keptLocked(level >= slog.LevelWarn) // as slog's handlers do, a failed write of a log line is dropped
	return true
}

// keptLocked follows what was just added to the buffer: written out now when urgent or when
// the buffer is full, else within the flush interval.
func (b *logBuffer) keptLocked(urgent bool) error {
	if urgent || len(b.buf) >= accessLogBufferSize {
		return b.flushLocked()
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(accessLogFlushInterval)
	}
	return nil
}

// Flush writes out what waits.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if b.armed {
		b.armed = false
		b.timer.Stop()
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// bufferingHandler lets the access log's lines wait in its buffer and writes every other line
// at once.
type bufferingHandler struct {
	slog.Handler
	buffer *logBuffer
	// format is the format of Handler, "text" or "json", when the access log may append its
	// lines straight into buffer: Handler is slog's own, with no attributes or groups added.
	format string
}

// Handle implements slog.Handler.
func (h bufferingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Message != accessLogMessage || r.Level >= slog.LevelWarn {
		if flushErr := h.buffer.Flush(); err == nil {
			err = flushErr
		}
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h bufferingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return bufferingHandler{Handler: h.Handler.WithAttrs(attrs), buffer: h.buffer}
}

// WithGroup implements slog.Handler.
func (h bufferingHandler) WithGroup(name string) slog.Handler {
	return bufferingHandler{Handler: h.Handler.WithGroup(name), buffer: h.buffer}
}

// Flush writes out the access lines that wait.
func (h bufferingHandler) Flush() error { return h.buffer.Flush() }

// flushLogs writes out the lines logger keeps waiting, if it keeps any.
func flushLogs(logger *slog.Logger) {
	if f, ok := logger.Handler().(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}
