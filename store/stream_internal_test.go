package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A short list is read in one short chunk: its rows take room for the rows, not for a whole
// chunk. Room for ChunkSize organizations up front is 136 KB, on every GET /organizations of a
// deployment with a handful. Bytes allocated are counted, not timed.
func TestAShortListTakesRoomForItsRowsNotAWholeChunk(t *testing.T) {
	if raceDetector {
		t.Skip("bytes allocated are counted without the race detector (make test's first run); with it they count its bookkeeping too")
	}
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			s := openForTest(t, config(t))
			createOrganizations(t, s, "org", 2, time.Now().UTC().Add(-time.Hour))
			const reads = 20
			for _, page := range []Page{{}, {Limit: 50}, {Offset: 1}} {
				streamedPage(t, s, page) // the first read warms what is read once (statements, caches)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range reads {
					streamedPage(t, s, page)
				}
				runtime.ReadMemStats(&after)
				perRead := (after.TotalAlloc - before.TotalAlloc) / reads
				assert.Less(t, perRead, uint64(32<<10), "page %+v: bytes allocated for each read of a list of three", page)
			}
		})
	}
}

// A list read in chunks moves on from the last row it gave. On SQLite, where times compare as
// text, a time stored in another form than entitle writes (an import, a restore by hand) can
// make the next chunk start over: the stream must end with an error, not repeat forever.
func TestAListThatDoesNotMoveOnEndsWithAnError(t *testing.T) {
	s := openForTest(t, Config{DataDir: t.TempDir()})
	ctx := context.Background()
	for i := range ChunkSize + 500 {
		require.NoError(t, s.db.Exec("INSERT INTO organizations (id, name, display_name, description, icon, is_default, created_at, updated_at) VALUES (?, ?, '', '', '', false, ?, ?)",
			uuid.New(), fmt.Sprintf("imported-%d", i), "2026-12-07 14:45:00.000000+00:00", "2026-12-07 14:45:00.000000+00:00").Error)
	}
	rows, limit := 0, 10*(ChunkSize+502)
	var err error
	for _, e := range s.StreamOrganizations(ctx, Page{}) {
		if e != nil {
			err = e
			break
		}
		if rows++; rows > limit {
			break
		}
	}
	require.LessOrEqual(t, rows, limit, "the list went round and round")
	if err == nil {
		assert.Equal(t, ChunkSize+501, rows, "every organization once, the default one too")
		return
	}
	assert.ErrorContains(t, err, "did not move on")
}
