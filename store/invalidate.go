package store

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// Invalidation is structural: one GORM callback, registered once in Open, sees every statement
// any code in this package runs (models, raw SQL, upserts, RETURNING, later code included),
// and empties the caches that a statement writing to a cached table may have made stale. No
// write method has to remember anything.
//
// A statement outside a transaction has committed when the callback runs: it empties the
// caches here and announces to the other replicas. Inside one (InTx), it empties them here at
// the write and again after the transaction ends, and announces then, once the change can be
// read: otherwise a reader could re-read the old row between the write and the COMMIT and keep
// it. A reader already under way when the caches are emptied keeps nothing (see readcache).

// invalidations says which caches a write to each cached table empties. A plain INSERT only
// adds a row, so it can make no kept row stale; it empties only the caches of lists (a user's
// organizations, and where each offset falls in the list of organizations: a row inserted
// before a mark moves it; afterCreate narrows that to the marks after the rows it knows, and
// afterUpdate keeps the marks through an update that moves no row, such as a rename). The one
// exception is a name: an organization inserted here may take a name whose old organization
// another replica deleted or renamed a moment ago, before its announcement arrived, and this
// replica's next read by that name must be the new one, not the kept old one.
// Deleting a user or an organization cascades to keys and memberships.
var invalidations = map[string]struct{ change, insert []cacheName }{
	"api_keys":             {change: []cacheName{cacheAPIKeys}},
	"users":                {change: []cacheName{cacheUsers, cacheAPIKeys, cacheMemberships, cacheUserOrganizations}},
	"organizations":        {change: []cacheName{cacheOrganizations, cacheMemberships, cacheUserOrganizations, cacheOrganizationMarks}, insert: []cacheName{cacheOrganizations, cacheOrganizationMarks}},
	"organization_members": {change: []cacheName{cacheMemberships, cacheUserOrganizations}, insert: []cacheName{cacheUserOrganizations}},
}

// changeVerbs are the words that make a statement a change of rows rather than a read or a
// plain insert. "update" also catches ON CONFLICT ... DO UPDATE and SELECT ... FOR UPDATE (a
// needless invalidation, never a missed one).
var changeVerbs = []string{"update", "delete", "replace", "upsert", "merge", "truncate", "alter", "drop", "conflict"}

// invalidatedBy returns the caches a statement's SQL may have made stale, and whether it may
// have changed or deleted rows (rather than only inserted them).
func invalidatedBy(sql string) (names []cacheName, changed bool) {
	var tables []string
	inserts, changes := false, false
	forEachWord(sql, func(word string) {
		switch {
		case strings.EqualFold(word, "insert"):
			inserts = true
		case slices.ContainsFunc(changeVerbs, func(v string) bool { return strings.EqualFold(word, v) }):
			changes = true
		default:
			lower := strings.ToLower(word)
			if _, cached := invalidations[lower]; cached && !slices.Contains(tables, lower) {
				tables = append(tables, lower)
			}
		}
	})
	if len(tables) == 0 || (!inserts && !changes) {
		return nil, false
	}
	for _, table := range tables {
		dropped := invalidations[table].change
		if !changes {
			dropped = invalidations[table].insert
		}
		for _, n := range dropped {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil, false
	}
	return names, changes
}

// forEachWord calls fn with every identifier or keyword in sql, quoted identifiers included
// (without their quotes), string literals excluded.
func forEachWord(sql string, fn func(string)) {
	start := -1
	for i := 0; i <= len(sql); i++ {
		var ch byte
		if i < len(sql) {
			ch = sql[i]
		}
		if ch == '_' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(sql[start:i])
			start = -1
		}
		if ch == '\'' {
			// Skip the literal; '' inside one is an escaped quote, which this also skips.
			end := strings.IndexByte(sql[i+1:], '\'')
			if end < 0 {
				return
			}
			i += end + 1
		}
	}
}

// touchSetting marks a statement that only records a use (TouchAPIKey, TouchUser); its value
// is the columns such a statement may set. It invalidates nothing: the caller updates the kept
// row in place instead. A statement so marked that sets any other column invalidates as usual.
const touchSetting = "entitle:touch"

// touchColumns are the columns a touch may set.
type touchColumns []string

func isTouch(db *gorm.DB) bool {
	allowed, ok := db.Statement.Settings.Load(touchSetting)
	if !ok {
		return false
	}
	set, ok := db.Statement.Dest.(map[string]any)
	if !ok || len(set) == 0 {
		return false
	}
	for column := range set {
		if !slices.Contains(allowed.(touchColumns), column) {
			return false
		}
	}
	return true
}

// transactionWrites collects the caches a transaction's writes invalidate, to empty and
// announce once it has ended.
type transactionWrites struct {
	mu    sync.Mutex
	names []cacheName
	// changed says some write changed or deleted rows, rather than only inserting them.
	changed bool
}

func (w *transactionWrites) add(names []cacheName, changed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changed = w.changed || changed
	w.names = mergeCacheNames(w.names, names)
}

// mergeCacheNames adds names to into, once each. The marks from the earliest place stand for
// every later one (offsets.go), and all the marks for any of them.
func mergeCacheNames(into, names []cacheName) []cacheName {
	for _, n := range names {
		switch {
		case slices.Contains(into, n):
		case isMarksFrom(n):
			if slices.Contains(into, cacheOrganizationMarks) {
				continue
			}
			i := slices.IndexFunc(into, isMarksFrom)
			if i < 0 {
				into = append(into, n)
				continue
			}
			// An unreadable name drops every cache, so it stands for any other.
			kept, _, keptErr := marksFromTime(into[i])
			at, _, err := marksFromTime(n)
			if keptErr == nil && (err != nil || at.Before(kept)) {
				into[i] = n
			}
		case n == cacheOrganizationMarks:
			into = append(slices.DeleteFunc(into, isMarksFrom), n)
		default:
			into = append(into, n)
		}
	}
	return into
}

// written is the caches the transaction's writes so far invalidate, and whether any of them
// changed or deleted rows.
func (w *transactionWrites) written() (names []cacheName, changed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.names), w.changed
}

// registerInvalidation adds the callback after every kind of statement GORM runs.
func (c *readCaches) registerInvalidation(db *gorm.DB) error {
	const name = "entitle:invalidate_read_caches"
	cb := db.Callback()
	for what, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register(name, c.afterCreate),
		"update": cb.Update().After("gorm:update").Register(name, c.afterUpdate),
		"delete": cb.Delete().After("gorm:delete").Register(name, c.afterStatement),
		"query":  cb.Query().After("gorm:query").Register(name, c.afterStatement),
		"row":    cb.Row().After("gorm:row").Register(name, c.afterStatement),
		"raw":    cb.Raw().After("gorm:raw").Register(name, c.afterRaw),
	} {
		if err != nil {
			return fmt.Errorf("register cache invalidation after %s: %w", what, err)
		}
	}
	return nil
}

// afterStatement runs after every statement, failed ones included (a failure does not prove
// that nothing changed).
func (c *readCaches) afterStatement(db *gorm.DB) {
	c.invalidateAfter(db, nil)
}

// afterCreate and afterUpdate are afterStatement for GORM's creates and updates, which know
// their rows or columns: they drop fewer offset marks (offsets.go).
func (c *readCaches) afterCreate(db *gorm.DB) {
	c.invalidateAfter(db, marksAnInsertMoves)
}

func (c *readCaches) afterUpdate(db *gorm.DB) {
	c.invalidateAfter(db, marksAnUpdateMoves)
}

// afterRaw is afterStatement for raw SQL, which drops fewer offset marks when the statement
// says where the organizations it inserts fall (insertedFromSetting).
func (c *readCaches) afterRaw(db *gorm.DB) {
	c.invalidateAfter(db, marksARawInsertMoves)
}

// invalidateAfter empties the caches db's statement may have made stale; narrow, when not nil,
// may name fewer of them from what it knows of the statement.
func (c *readCaches) invalidateAfter(db *gorm.DB, narrow func(db *gorm.DB, names []cacheName, changed bool) []cacheName) {
	if db.Statement.SQL.Len() == 0 || isTouch(db) {
		return
	}
	names, changed := invalidatedBy(db.Statement.SQL.String())
	if narrow != nil && slices.Contains(names, cacheOrganizationMarks) {
		names = narrow(db, names, changed)
	}
	if len(names) == 0 {
		return
	}
	c.drop(names)
	if w := c.transactionOf(db.Statement.ConnPool); w != nil {
		w.add(names, changed)
		return
	}
	if _, inTransaction := db.Statement.ConnPool.(gorm.TxCommitter); inTransaction {
		// A transaction not begun by InTx: the other replicas hear of the write before it
		// commits, and could keep the old row again until cacheMaxAge. Every transaction of
		// this package goes through InTx (TestTransactionsGoThroughInTx).
		c.logger.Error("a write in a transaction not begun by InTx: other replicas may keep stale rows", "caches", formatCacheNames(names))
	}
	if !changed {
		c.announceLater(names)
		return
	}
	c.announce(db.Statement.Context, names)
}

func (c *readCaches) transactionOf(pool gorm.ConnPool) *transactionWrites {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transactions[pool]
}

// beginTransaction starts collecting the writes made on pool, a transaction's connection.
func (c *readCaches) beginTransaction(pool gorm.ConnPool) *transactionWrites {
	w := &transactionWrites{}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.transactions[pool] = w
	return w
}

// endTransaction stops collecting for pool; afterTransaction acts on what was collected.
func (c *readCaches) endTransaction(pool gorm.ConnPool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.transactions, pool)
}

// afterTransaction empties the caches the transaction's writes invalidated, now that they
// are committed (or rolled back: a failed COMMIT does not prove nothing was written). The other
// replicas were told of changes from inside the transaction (announceWithin); of inserts only,
// they are told now.
func (c *readCaches) afterTransaction(w *transactionWrites) {
	if w == nil {
		return
	}
	names, changed := w.written()
	if len(names) == 0 {
		return
	}
	c.drop(names)
	if !changed {
		c.announceLater(names)
	}
}
