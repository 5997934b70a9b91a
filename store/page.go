package store

import (
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Page selects part of a list kept in order (oldest first, or users by username): the rows
// after the one AfterID names (a keyset, so a page costs the same at any depth), then Offset
// rows skipped, then at most Limit rows. The zero Page selects everything.
type Page struct {
	Limit   int
	Offset  int
	AfterID uuid.UUID
}

// of returns the query for page p of the rows scoped selects, ordered by (order, key), the
// order an index keeps (order is a column, created_at for most lists, or an expression). The row AfterID names is looked up in the same scope, so an id the
// caller cannot list is as unknown as any other: the page after it is empty (as in Coder).
// scoped must build a fresh query on every call, and key must be unique among its rows.
//
// An offset is skipped on the index alone: the page's keys are found first, reading only
// (order, key) for the rows skipped, and then only the page's rows are read whole. Read
// in one query, every skipped row was read whole too: half a million of them for a page in
// the middle of a million organizations. The list of every organization, streamed, starts a
// deep offset from the nearest mark instead (offsets.go).
func (p Page) of(scoped func() *gorm.DB, order, key string) *gorm.DB {
	ordered := func() *gorm.DB {
		q := scoped()
		if p.AfterID != uuid.Nil {
			after := scoped().Select(order+", "+key).Where(key+" = ?", p.AfterID)
			q = q.Where("("+order+", "+key+") > (?)", after)
		}
		return q.Order(order).Order(key)
	}
	return skipThenTake(scoped, ordered, order, key, p.Offset, p.Limit)
}

// skipThenTake is the query for at most limit rows (0: all) of what ordered selects, after skip
// rows. The rows skipped are read on the index alone (see Page.of): the page's keys first, then
// only its rows whole, from the list scoped selects.
func skipThenTake(scoped, ordered func() *gorm.DB, order, key string, skip, limit int) *gorm.DB {
	if skip == 0 {
		return limitAndOffset(ordered(), limit, 0)
	}
	keys := limitAndOffset(ordered().Select(key), limit, skip)
	return scoped().Where(key+" IN (?)", keys).Order(order).Order(key)
}

// limitAndOffset applies a limit (0: none) and an offset (0: none).
func limitAndOffset(q *gorm.DB, limit, offset int) *gorm.DB {
	if limit > 0 {
		q = q.Limit(limit)
	}
	if offset > 0 {
		q = q.Offset(offset)
	}
	return q
}
