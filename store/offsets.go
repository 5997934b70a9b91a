package store

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"entitle/store/internal/readcache"
)

// An offset steps over every row it skips: a page in the middle of a million organizations read
// half a million index entries (30 ms), where the contract says a page costs the same at any
// depth. So the list of every organization keeps marks: the place (created_at, id) of the row
// at every markStride-th offset, planted ahead of the pages by a background walk of the list
// (planter.go) and learnt from the pages asked for. A page at offset N starts from the mark at
// N rounded down to the stride and skips fewer than markStride rows; when that mark is not
// known yet (the walk has not reached it), it is found from the nearest known mark before it,
// and kept. A page costs the same at any depth; one read before the walk got near it costs at
// most what it did without marks.
//
// A mark is a place in the list as it was, so any write that may add a row before it, or
// remove one, must drop it: the marks are one of the store's read caches (cache.go), emptied by
// every change to organizations here and on every other replica, and kept only while the caches
// keep anything. A plain insert whose rows are known drops only the marks from its earliest row
// on (marksFrom, below), so creating organizations, which adds them at the end, keeps them all;
// an update that sets neither created_at nor id (a rename) keeps them too. A page read while a
// write commits elsewhere may be off by the rows that write added or removed until its
// announcement arrives, as any offset page read during a write is.

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

// offsets yields the offsets a mark may be kept at, in order: every stride, as many as the
// marks' cache holds.
func (m *offsetMarks) offsets() iter.Seq[int] {
	return func(yield func(int) bool) {
		for at := m.stride; at <= m.stride*cachedOffsetMarksMax; at += m.stride {
			if !yield(at) {
				return
			}
		}
	}
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
		place, found, err := placeAfter(scoped, createdAt, key, placeOf, from, base-fromOffset)
		if err != nil {
			return nil, fmt.Errorf("find the row at offset %d: %w", base, err)
		}
		if !found {
			return []T{}, nil // the list ends before base
		}
		m.cache.StoreIfCurrent(generation, base, place)
		from = &place
	}
	rows := make([]T, 0, chunkRoom(false, n))
	if err := skipFrom(scoped, createdAt, key, from, page.Offset-base, n).Scan(&rows).Error; err != nil {
		return nil, err
	}
	return rows, nil
}

// placeAfter finds the place of the row skip rows after the one at from (the start of the list
// scoped selects, when from is nil); found is false when the list ends before it. It reads
// the index alone: only the two columns of the place, from the rows skipped and the one found.
func placeAfter[T any](scoped func() *gorm.DB, createdAt, key string, placeOf func(T) keyset, from *keyset, skip int) (place keyset, found bool, err error) {
	var at []T
	q := limitAndOffset(orderedFrom(scoped, createdAt, key, from).Select(createdAt+", "+key), 1, skip)
	if err := q.Scan(&at).Error; err != nil {
		return keyset{}, false, err
	}
	if len(at) == 0 {
		return keyset{}, false, nil
	}
	return placeOf(at[0]), true, nil
}

// skipFrom is the query for at most limit rows of the list scoped selects, in (createdAt, key)
// order, from the row at place (or the start, when place is nil) with skip rows skipped.
func skipFrom(scoped func() *gorm.DB, createdAt, key string, place *keyset, skip, limit int) *gorm.DB {
	ordered := func() *gorm.DB { return orderedFrom(scoped, createdAt, key, place) }
	return skipThenTake(scoped, ordered, createdAt, key, skip, limit)
}

// orderedFrom is the list scoped selects, in (createdAt, key) order, from the row at place (or
// the start, when place is nil) on.
func orderedFrom(scoped func() *gorm.DB, createdAt, key string, place *keyset) *gorm.DB {
	q := scoped()
	if place != nil {
		// In UTC, as byKeyset compares: SQLite compares stored times as text.
		q = q.Where("("+createdAt+", "+key+") >= (?, ?)", place.createdAt.UTC(), place.key)
	}
	return q.Order(createdAt).Order(key)
}

// An insert moves only the marks at or after the rows it adds. Organizations are created at the
// end of the list (created_at is the time of the request), so the invalidation of an insert
// whose rows are known names the earliest created_at it added, and drops only the marks from
// there: paging by offset stays cheap while organizations are created. The name is one cache
// name on the wire; a replica that does not know it drops every cache, as for any name it does
// not know.
const marksFromPrefix = string(cacheOrganizationMarks) + "_from:"

// placeMargin widens the marks an insert drops by the rounding of a time stored by the database
// (PostgreSQL keeps microseconds) and ignores the key: a mark kept that an insert moved would
// put a page in the wrong place, one dropped too many only costs a read.
const placeMargin = time.Microsecond

// marksFrom names the marks at or after at.
func marksFrom(at time.Time) cacheName {
	return cacheName(marksFromPrefix + at.UTC().Format(time.RFC3339Nano))
}

// marksFromTime reads what marksFrom named: ok is false for any other name.
func marksFromTime(name cacheName) (at time.Time, ok bool, err error) {
	rest, ok := strings.CutPrefix(string(name), marksFromPrefix)
	if !ok {
		return time.Time{}, false, nil
	}
	at, err = time.Parse(time.RFC3339Nano, rest)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("read the invalidation %q: %w", name, err)
	}
	return at, true, nil
}

// dropMarksFrom drops the marks an insert of a row created at at may have moved.
func (c *readCaches) dropMarksFrom(at time.Time) {
	from := at.Add(-placeMargin)
	c.organizationMarks.InvalidateWhere(func(_ int, place keyset) bool { return !place.createdAt.Before(from) })
}

// marksAnInsertMoves narrows names, what a create statement invalidates, to the marks from the
// earliest organization it inserted, when it only inserted and its rows are known.
func marksAnInsertMoves(db *gorm.DB, names []cacheName, changed bool) []cacheName {
	at, ok := earliestInserted(db)
	return narrowToMarksFrom(names, at, ok && !changed)
}

// insertedFromSetting marks a raw statement that inserts organizations: its value is the
// earliest created_at among them (a time.Time), which GORM cannot know from raw SQL.
const insertedFromSetting = "entitle:organizations_inserted_from"

// marksARawInsertMoves is marksAnInsertMoves for a raw statement, which GORM knows no rows of:
// it narrows by the time the statement carries in insertedFromSetting, if any.
func marksARawInsertMoves(db *gorm.DB, names []cacheName, changed bool) []cacheName {
	value, ok := db.Statement.Settings.Load(insertedFromSetting)
	at, isTime := value.(time.Time)
	return narrowToMarksFrom(names, at, ok && isTime && !at.IsZero() && !changed)
}

// narrowToMarksFrom, when narrow, names in place of all the marks only those from at on.
func narrowToMarksFrom(names []cacheName, at time.Time, narrow bool) []cacheName {
	if !narrow {
		return names
	}
	narrowed := slices.Clone(names)
	narrowed[slices.Index(names, cacheOrganizationMarks)] = marksFrom(at)
	return narrowed
}

// isMarksFrom says whether name is one marksFrom made (readable or not).
func isMarksFrom(name cacheName) bool {
	return strings.HasPrefix(string(name), marksFromPrefix)
}

// marksAnUpdateMoves takes the marks out of names, what an update statement invalidates, when it
// updated organizations and set neither of the columns that place a row in the list: renaming
// an organization moves nothing.
func marksAnUpdateMoves(db *gorm.DB, names []cacheName, _ bool) []cacheName {
	stmt := db.Statement
	if stmt.Schema == nil || stmt.Schema.Table != "organizations" {
		return names
	}
	// GORM drops the SET clause once the update has run; the columns are those of the map
	// given to Updates (isTouch reads it the same way). An update from a struct drops the marks.
	set, ok := stmt.Dest.(map[string]any)
	if !ok || len(set) == 0 {
		return names
	}
	for key := range set {
		field := stmt.Schema.LookUpField(key)
		if field == nil || field.DBName == "created_at" || field.DBName == "id" {
			return names
		}
	}
	return slices.DeleteFunc(slices.Clone(names), func(n cacheName) bool { return n == cacheOrganizationMarks })
}

// earliestInserted returns the earliest created_at among the organizations a create statement
// inserted, when it inserted organizations and every one of them has one.
func earliestInserted(db *gorm.DB) (time.Time, bool) {
	stmt := db.Statement
	if stmt.Schema == nil || stmt.Schema.Table != "organizations" || !stmt.ReflectValue.IsValid() {
		return time.Time{}, false
	}
	field := stmt.Schema.LookUpField("created_at")
	if field == nil {
		return time.Time{}, false
	}
	rows := []reflect.Value{stmt.ReflectValue}
	if k := stmt.ReflectValue.Kind(); k == reflect.Slice || k == reflect.Array {
		rows = rows[:0]
		for i := range stmt.ReflectValue.Len() {
			rows = append(rows, reflect.Indirect(stmt.ReflectValue.Index(i)))
		}
	}
	var earliest time.Time
	for _, row := range rows {
		value, zero := field.ValueOf(stmt.Context, row)
		at, ok := value.(time.Time)
		if zero || !ok {
			return time.Time{}, false
		}
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	return earliest, !earliest.IsZero()
}
