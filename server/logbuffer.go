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
// the last accessLogFlushInterval (while the output is slow, what waits for it), and never a
// warning or an error.
//
// Every request goes through the buffer's lock, so it is held only to copy a finished line in:
// the line is formatted before, and the write to the output happens after, outside it. With the
// formatting and the write under it, the requests on the other core queued behind each one, and
// behind a whole write when the output was slow (a mutex profile under wrk at 64 connections
// on two cores: 0.8 s of waiting every 5 s).
//
// Nor does a request wait for the output when the buffer fills: the write starts in a goroutine
// of its own, and what piles up while one is under way goes out with the first line kept after
// it, or by the timer. A write to a file can stall for most of a second
// behind the file system's journal (fsyncs from SQLite or PostgreSQL on the same disk), and a
// pipe behind a reader that lags; the first request that filled the buffer then held up every
// other (make bench: a round of GET /users/me at 64 connections with a p99 of 791 ms, every
// round around it under 10 ms). Only past accessLogBufferLimit do requests wait for the
// output, so memory stays bounded however long it stalls.
const (
	accessLogFlushInterval = 100 * time.Millisecond
	accessLogBufferSize    = 64 << 10
	// accessLogBufferLimit is about half a second of access lines at 30,000 requests a second.
	accessLogBufferLimit = 4 << 20
)

// flushNeed says what a line just kept asks of the output.
type flushNeed int

const (
	flushLater  flushNeed = iota // the timer writes it within the flush interval
	flushIfIdle                  // the buffer is full: write it out, unless a write is under way
	flushNow                     // urgent, or past the limit: write it out, after a write under way
)

// logBuffer keeps what is written until Flush, the flush interval after the first write it
// kept, or its size passing the limit.
type logBuffer struct {
	out io.Writer

	// writeMu is held by one flush at a time, from taking the buffer until its write is done,
	// so what is taken first is written first. It is taken before mu, never while holding it.
	writeMu sync.Mutex
	// spare is the buffer the last flush wrote out, kept for the next one to swap in; under
	// writeMu.
	spare []byte

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	armed bool

	// lines lends each access line a buffer to be formatted in, outside mu (*lineBuffer).
	lines sync.Pool
}

// maxPooledLine bounds the buffer a formatted line leaves in the pool.
const maxPooledLine = 8 << 10

// lineBuffer is where one access line is formatted. It keeps the last second it formatted:
// the lines within a second share it (see secondStamp), and a pool keeps one per core about.
type lineBuffer struct {
	b     []byte
	stamp secondStamp
}

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	b.lines.New = func() any { return &lineBuffer{} }
	return b
}

// Write keeps p; slog's handlers write each record in one call.
func (b *logBuffer) Write(p []byte) (int, error) {
	return len(p), b.flushFor(b.keep(p, false))
}

// flushFor writes out what waits, as need says.
func (b *logBuffer) flushFor(need flushNeed) error {
	switch need {
	case flushNow:
		return b.Flush()
	case flushIfIdle:
		if !b.writeMu.TryLock() {
			return nil // the write under way writes these lines out next
		}
		// From a goroutine of its own, so that this request does not wait for the output
		// either; Flush, and so Close, wait for it through writeMu.
		go func() {
			defer b.writeMu.Unlock()
			_ = b.flushLocked() // as slog's handlers do, a failed write of a log line is dropped
		}()
	}
	return nil
}

// appendAccessLine keeps the access line l, formatted as accesslog.go does, and says false when
// it must go through slog instead. A line above info is written out at once.
func (b *logBuffer) appendAccessLine(format string, t time.Time, level slog.Level, l *accessLine) bool {
	line := b.lines.Get().(*lineBuffer)
	defer func() {
		if cap(line.b) > maxPooledLine {
			line.b = nil // a line with a very long path; not kept for the common ones
		}
		b.lines.Put(line)
	}()
	formatted, ok := appendAccessLine(line.b[:0], format, &line.stamp, t, level, l)
	if !ok {
		return false
	}
	line.b = formatted
	// As slog's handlers do, a failed write of a log line is dropped.
	_ = b.flushFor(b.keep(formatted, level >= slog.LevelWarn))
	return true
}

// keep copies p into the buffer and says what it asks of the output.
func (b *logBuffer) keep(p []byte, urgent bool) flushNeed {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if urgent || len(b.buf) >= accessLogBufferLimit {
		return flushNow
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(accessLogFlushInterval)
	}
	if len(b.buf) >= accessLogBufferSize {
		return flushIfIdle
	}
	return flushLater
}

// Flush writes out what waits.
func (b *logBuffer) Flush() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	return b.flushLocked()
}

// flushLocked writes out what waits; writeMu is held. The lines kept during the write arm the
// timer again.
func (b *logBuffer) flushLocked() error {
	b.mu.Lock()
	pending := b.buf
	b.buf = b.spare[:0]
	if b.armed {
		b.armed = false
		b.timer.Stop()
	}
	b.mu.Unlock()
	if len(pending) == 0 {
		b.spare = pending
		return nil
	}
	_, err := b.out.Write(pending)
	if cap(pending) <= 4*accessLogBufferSize {
		// Kept for the next flush, unless a burst behind a slow write grew it far past the
		// size: that one goes back to the garbage collector.
		b.spare = pending[:0]
	} else {
		b.spare = nil
	}
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
