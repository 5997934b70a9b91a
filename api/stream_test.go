package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/store"
)

var errSourceBroke = errors.New("the database went away")

// failingSource yields n items of about 100 bytes each, then fails (or ends, when fail is
// false). yielded counts what it handed out.
type failingSource struct {
	n       int
	fail    bool
	yielded int
}

func (s *failingSource) items() iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for i := range s.n {
			s.yielded++
			if !yield(fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, bytes.Repeat([]byte("x"), 80)), nil) {
				return
			}
		}
		if s.fail {
			yield(nil, errSourceBroke)
		}
	}
}

func testStream(t *testing.T, logs io.Writer, items iter.Seq2[[]byte, error]) jsonStream {
	return jsonStream{
		ctx:    context.Background(),
		logger: slog.New(slog.NewTextHandler(logs, nil)),
		status: http.StatusOK,
		head:   []byte("["),
		tail:   []byte("]\n"),
		items:  items,
	}
}

func TestStreamErrors(t *testing.T) {
	t.Run("an error before the first item is returned and nothing is sent", func(t *testing.T) {
		var logs bytes.Buffer
		src := &failingSource{n: 0, fail: true}
		rec := &recordingWriter{}
		err := testStream(t, &logs, src.items()).write(rec)
		require.ErrorIs(t, err, errSourceBroke, "the server's error writer answers it with the envelope")
		assert.Zero(t, rec.status, "no status was sent")
		assert.Empty(t, rec.body.String())
		assert.Empty(t, rec.header.Get("Content-Type"), "the error writer sets its own headers")
	})

	t.Run("an error after the answer began aborts the connection and is logged", func(t *testing.T) {
		var logs bytes.Buffer
		src := &failingSource{n: 1000, fail: true}
		rec := &recordingWriter{}
		assert.PanicsWithError(t, http.ErrAbortHandler.Error(), func() { _ = testStream(t, &logs, src.items()).write(rec) })
		assert.Equal(t, http.StatusOK, rec.status)
		assert.NotEmpty(t, rec.body.String(), "part of the list was sent")
		assert.False(t, json.Valid(rec.body.Bytes()), "what was sent is not a complete answer")
		assert.Contains(t, logs.String(), "level=ERROR")
		assert.Contains(t, logs.String(), errSourceBroke.Error())
	})

	t.Run("a client sees a broken answer, never a short list", func(t *testing.T) {
		for _, n := range []int{1, 1000} {
			src := &failingSource{n: n, fail: true}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_ = testStream(t, io.Discard, src.items()).write(w)
			}))
			resp, err := srv.Client().Get(srv.URL)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			assert.Error(t, err, "%d items then an error: the client's read fails", n)
			srv.Close()
		}
	})

	t.Run("a client that goes away stops the reading", func(t *testing.T) {
		src := &failingSource{n: 100_000}
		w := &recordingWriter{failWrites: errors.New("connection reset by peer")}
		err := testStream(t, io.Discard, src.items()).write(w)
		require.Error(t, err)
		assert.Less(t, src.yielded, 1000, "the source stopped at the first failed write, after a buffer's worth")
	})

	t.Run("each write after the first moves the connection's write deadline on", func(t *testing.T) {
		src := &failingSource{n: 2000}
		w := &recordingWriter{}
		before := time.Now()
		require.NoError(t, testStream(t, io.Discard, src.items()).write(w))
		assert.True(t, json.Valid(w.body.Bytes()))
		require.Greater(t, w.writes, 1, "a long answer is written in several writes")
		assert.Equal(t, w.writes-1, w.deadlines, "one deadline per write but the first, which the server's own covers")
		assert.WithinRange(t, w.lastDeadline, before.Add(streamWriteTimeout), time.Now().Add(streamWriteTimeout))
	})

	t.Run("an answer that fits in one write sets no deadline of its own", func(t *testing.T) {
		w := &recordingWriter{}
		require.NoError(t, testStream(t, io.Discard, (&failingSource{n: 3}).items()).write(w))
		assert.True(t, json.Valid(w.body.Bytes()))
		assert.Equal(t, 1, w.writes)
		assert.Zero(t, w.deadlines)
	})
}

// recordingWriter is a ResponseWriter that keeps what it is sent and, like the server's own,
// has a write deadline.
type recordingWriter struct {
	header       http.Header
	status       int
	body         bytes.Buffer
	writes       int
	deadlines    int
	lastDeadline time.Time
	failWrites   error
}

func (r *recordingWriter) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *recordingWriter) WriteHeader(status int) { r.status = status }

func (r *recordingWriter) Write(p []byte) (int, error) {
	if r.failWrites != nil {
		return 0, r.failWrites
	}
	r.writes++
	return r.body.Write(p)
}

// SetWriteDeadline is what http.ResponseController calls.
func (r *recordingWriter) SetWriteDeadline(deadline time.Time) error {
	r.deadlines++
	r.lastDeadline = deadline
	return nil
}

// Each row of a streamed list is encoded into one buffer the stream keeps, not a new slice per
// row: a full list of a million organizations would otherwise leave 320 MB behind for the
// collector. Bytes allocated are counted, not timed.
func TestAStreamedListEncodesItsRowsWithoutAllocatingForEach(t *testing.T) {
	const rows = 20000
	orgs := make([]store.Organization, rows)
	for i := range orgs {
		orgs[i] = store.Organization{ID: uuid.New(), Name: fmt.Sprintf("org-%d", i), DisplayName: "Org", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	}
	ids := make([]uuid.UUID, rows)
	for i := range ids {
		ids[i] = uuid.New()
	}
	perRow := func(write func() error) uint64 {
		require.NoError(t, write()) // warm: the writer's buffer reaches its size
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		require.NoError(t, write())
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / rows
	}
	logger := slog.New(slog.DiscardHandler)
	assert.Less(t, perRow(func() error {
		return streamList(context.Background(), logger, rowsOf(orgs), organizationItem).write(&discardingWriter{})
	}), uint64(32), "bytes allocated for each organization of a list")
	assert.Less(t, perRow(func() error {
		return streamList(context.Background(), logger, rowsOf(ids), uuidItem).write(&discardingWriter{})
	}), uint64(8), "bytes allocated for each organization id of a user")
}

// discardingWriter is a ResponseWriter that keeps nothing.
type discardingWriter struct{ header http.Header }

func (d *discardingWriter) Header() http.Header {
	if d.header == nil {
		d.header = http.Header{}
	}
	return d.header
}
func (d *discardingWriter) WriteHeader(int)             {}
func (d *discardingWriter) Write(p []byte) (int, error) { return len(p), nil }
