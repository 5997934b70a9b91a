package store

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
