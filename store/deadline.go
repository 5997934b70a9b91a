package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DefaultTimeout bounds each database statement, and each transaction as a whole. A connection
// that stalls without failing (its backend stopped, a half-open TCP connection, a proxy that
// hangs) answers nothing and reports nothing, so without a deadline a request on it waited for
// ever. With one, the statement fails with context.DeadlineExceeded, which IsUnavailable reads
// as "the database does not answer": 503 with Retry-After, before net/http's write timeout
// (60 s) ends the connection. It is far above any statement entitle runs, and above SQLite's
// busy timeout (10 s), which answers a held lock first.
const DefaultTimeout = 30 * time.Second

// deadlineSetting holds, between a statement's before and after callbacks, its deadline.
const deadlineSetting = "entitle:deadline"

type statementDeadline struct {
	parent context.Context
	cancel context.CancelFunc
}

// registerDeadlines bounds every statement that runs and reads whole inside GORM's callback
// (create, update, delete, query, exec) by timeout. Row and Rows are left to the caller's
// context: their rows are read after the callback returns (the streamed lists, which end when
// the client goes), and a deadline ended in the callback would cut them off.
func registerDeadlines(db *gorm.DB, timeout time.Duration) error {
	start := func(db *gorm.DB) {
		parent := db.Statement.Context
		ctx, cancel := context.WithTimeout(parent, timeout)
		db.Statement.Context = ctx
		db.Statement.Settings.Store(deadlineSetting, statementDeadline{parent: parent, cancel: cancel})
	}
	// end runs whatever happened, and gives the statement its own context back: a *gorm.DB
	// may run another statement on the same Statement.
	end := func(db *gorm.DB) {
		if v, ok := db.Statement.Settings.LoadAndDelete(deadlineSetting); ok {
			d := v.(statementDeadline)
			d.cancel()
			db.Statement.Context = d.parent
		}
	}
	const startName, endName = "entitle:deadline_start", "entitle:deadline_end"
	cb := db.Callback()
	for what, err := range map[string]error{
		"create start": cb.Create().Before("gorm:create").Register(startName, start),
		"create end":   cb.Create().After("gorm:create").Register(endName, end),
		"update start": cb.Update().Before("gorm:update").Register(startName, start),
		"update end":   cb.Update().After("gorm:update").Register(endName, end),
		"delete start": cb.Delete().Before("gorm:delete").Register(startName, start),
		"delete end":   cb.Delete().After("gorm:delete").Register(endName, end),
		"query start":  cb.Query().Before("gorm:query").Register(startName, start),
		"query end":    cb.Query().After("gorm:query").Register(endName, end),
		"exec start":   cb.Raw().Before("gorm:raw").Register(startName, start),
		"exec end":     cb.Raw().After("gorm:raw").Register(endName, end),
	} {
		if err != nil {
			return fmt.Errorf("register statement deadline (%s): %w", what, err)
		}
	}
	return nil
}
