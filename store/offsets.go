package store

import (
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"entitle/store/internal/readcache"
)

// An offset steps over every row it skips: a page in the middle of a million organizations read
// half a million index entries (30 ms), where the contract says a page costs the same at any
// depth. So the list of every organization keeps marks: the place (created_at, id) of the row
// at every markStride-th offset, learnt from the pages asked for. A page at offset N starts
// from the mark at N rounded down to the stride and skips fewer than markStride rows; when that
// mark is not known yet, it is found from the nearest known mark before it, and kept. Paging
// through a list one page after another costs the same at any depth; the first page at a new
// depth costs at most what it did without marks.
//
// A mark is a place in the list as it was, so any write that may add a row before it, or
// remove one, must drop it: the marks are one of the store's read caches (cache.go), emptied by
// every write to organizations, plain inserts included, here and on every other replica, and
// kept only while the caches keep anything. A page read while a write commits elsewhere may be
// off by the rows that write added or removed until its announcement arrives, as any offset
// page read during a write is.

// defaultMarkStride is how many rows apart the marks are.
const defaultMarkStride = ChunkSize

// offsetMarks are the marks of one list, as a store may use them now.
type offsetMarks struct {
	cache  *readcache.Cache[int, keyset]
	stride int
}

// organizationMarks returns the marks of the list of every organization, or nil when none may
// be used: inside a transaction, or while the caches keep nothing.
func (s *Store) organizationMarks() *offsetMarks {
	if s.inTx || !s.caches.active.Load() {
		return nil
	}
	return &offsetMarks{cache: s.caches.organizationMarks, stride: s.caches.markStride}
}

// covers says whether the first chunk of page is read from the marks: a page by offset alone
// (after_id places a page by itself), at least one stride deep.
func (m *offsetMarks) covers(page Page) bool {
	return m != nil && page.AfterID == uuid.Nil && page.Offset >= m.stride
}

// nearest returns the mark known at or before offset base (a multiple of the stride), and its
// offset; at offset 0, the start of the list, there is none (nil).
func (m *offsetMarks) nearest(base int) (*keyset, int) {
	for at := base; at >= m.stride; at -= m.stride {
		if place, ok := m.cache.Lookup(at); ok {
			return &place, at
		}
	}
	return nil, 0
}

// firstChunk reads at most n rows of the list scoped selects, from page.Offset on (covers
// holds), by the marks; see byKeyset for the other arguments.
func firstChunk[T any](m *offsetMarks, page Page, n int, scoped func() *gorm.DB, createdAt, key string, placeOf func(T) keyset) ([]T, error) {
	// Recorded before any mark is read: a mark found from rows read after a write is kept only
	// if that write's invalidation has not come since.
	generation := m.cache.Generation()
	base := page.Offset / m.stride * m.stride
	from, fromOffset := m.nearest(base)
	if fromOffset != base {
		var at []T
		if err := skipFrom(scoped, createdAt, key, from, base-fromOffset, 1).Scan(&at).Error; err != nil {
			return nil, fmt.Errorf("find the row at offset %d: %w", base, err)
		}
		if len(at) == 0 {
			return []T{}, nil // the list ends before base
		}
		place := placeOf(at[0])
		m.cache.StoreIfCurrent(generation, base, place)
		from = &place
	}
	rows := make([]T, 0, chunkRoom(false, n))
	if err := skipFrom(scoped, createdAt, key, from, page.Offset-base, n).Scan(&rows).Error; err != nil {
		return nil, err
	}
	return rows, nil
}

// skipFrom is the query for at most limit rows of the list scoped selects, in (createdAt, key)
// order, from the row at place (or the start, when place is nil) with skip rows skipped.
func skipFrom(scoped func() *gorm.DB, createdAt, key string, place *keyset, skip, limit int) *gorm.DB {
	ordered := func() *gorm.DB {
		q := scoped()
		if place != nil {
			// In UTC, as byKeyset compares: SQLite compares stored times as text.
			q = q.Where("("+createdAt+", "+key+") >= (?, ?)", place.createdAt.UTC(), place.key)
		}
		return q.Order(createdAt).Order(key)
	}
	return skipThenTake(scoped, ordered, createdAt, key, skip, limit)
}
