// Package store keeps entitle's data in a relational database through GORM: embedded SQLite
// by default, PostgreSQL in production. It never imports Echo, api or gen.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound means the row asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict means a unique index refused the write.
var ErrConflict = errors.New("conflict")

// Dialect names the database behind a Store.
type Dialect string

// The supported dialects.
const (
	DialectSQLite   Dialect = "sqlite"
	DialectPostgres Dialect = "postgres"
)

// Config says which database to open.
type Config struct {
	// PostgresURL selects PostgreSQL; empty selects SQLite in DataDir.
	PostgresURL string
	// DataDir holds the SQLite database file.
	DataDir string
	// Logger receives migration progress.
	Logger *slog.Logger
	// SQLiteSynchronous is SQLite's synchronous pragma; empty is FULL. Only benchmarks set it,
	// to measure what FULL costs against NORMAL.
	SQLiteSynchronous string
	// Timeout bounds each statement, and each transaction as a whole (deadline.go); zero is
	// DefaultTimeout.
	Timeout time.Duration
}

// Store is the one handle on the database. A Store made by InTx runs inside that transaction.
type Store struct {
	db          *gorm.DB
	dialect     Dialect
	postgresURL string
	// caches are shared by a Store and the transactions made from it (see cache.go).
	caches *readCaches
	// inTx says this Store runs inside a transaction: its reads never use the caches, which
	// hold only committed rows.
	inTx bool
	// committed holds what AfterCommit was asked to run once this transaction commits; nil
	// outside a transaction.
	committed *commitHooks
	// timeout bounds a transaction as a whole (deadline.go).
	timeout time.Duration
}

// Now is the clock every stored timestamp comes from: UTC, truncated to microseconds because
// that is what PostgreSQL keeps, so a value written equals the value later read back.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Open connects, applies pending migrations and makes sure the deployment's defaults exist.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	gormCfg := &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                Now,
		TranslateError:         true,
		SkipDefaultTransaction: true,
	}
	var (
		db      *gorm.DB
		dialect Dialect
		err     error
	)
	if cfg.PostgresURL != "" {
		dialect = DialectPostgres
		db, err = gorm.Open(postgres.Open(cfg.PostgresURL), gormCfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	} else {
		dialect = DialectSQLite
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		// Statements are not kept prepared (GORM's PrepareStmt): when a statement cannot be
		// prepared (the database closed or gone), GORM answers a row query with an empty
		// sql.Row whose Scan panics, which turned "the database is unavailable" (503) into a
		// panic. The hot reads are served from memory (cache.go), so few statements reach
		// SQLite's parser on the hot path anyway.
		db, err = openSQLite(ctx, sqliteDSN(cfg.DataDir, cfg.SQLiteSynchronous), gormCfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	s := &Store{db: db, dialect: dialect, postgresURL: cfg.PostgresURL, caches: newReadCaches(db, dialect, cfg.Logger), timeout: timeout}
	if err := s.caches.registerInvalidation(db); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := registerDeadlines(db, timeout); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.configurePool(); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("connect to %s: %w", dialect, err)
	}
	if err := s.migrate(ctx, cfg); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.ensureDefaults(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteOpenPatience bounds how long openSQLite waits out another process that is turning a
// new database to WAL at the same moment: the busy timeout's own length.
const sqliteOpenPatience = 10 * time.Second

// openSQLite opens the database, waiting while another process holds it busy at the first open.
// Turning a new database to WAL takes an exclusive lock, and SQLite answers a connection that
// meets that lock while doing the same with SQLITE_BUSY at once, without its busy handler:
// several processes (or stores) opening one new database together failed so, now and then
// (TestProcessesStartingAtOnceMigrateOnceAndAgree). Once the database is in WAL mode, which
// lasts, opening takes no such lock.
func openSQLite(ctx context.Context, dsn string, cfg *gorm.Config) (*gorm.DB, error) {
	deadline := time.Now().Add(sqliteOpenPatience)
	wait := 5 * time.Millisecond
	for {
		db, err := gorm.Open(sqlite.Open(dsn), cfg)
		if err == nil || !isSQLiteBusy(err) || time.Now().After(deadline) {
			return db, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// isSQLiteBusy says whether err is SQLite's SQLITE_BUSY, extended codes included.
func isSQLiteBusy(err error) bool {
	const sqliteBusy = 5
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == sqliteBusy
}

// sqliteDSN turns on WAL (readers never wait for the writer), a busy timeout (writers queue
// instead of failing), foreign keys, and immediate transactions (a transaction takes the write
// lock when it begins, so two never deadlock upgrading from read to write).
//
// synchronous defaults to FULL: every commit is on disk before it is acknowledged, so a power
// loss cannot drop a write a client was told succeeded. With WAL, NORMAL would only sync at
// checkpoints and could lose the last commits. Writes here are rare and precious (licenses,
// organizations, users), and FULL costs one fsync per commit (see BenchmarkCreateOrganization).
func sqliteDSN(dataDir, synchronous string) string {
	if synchronous == "" {
		synchronous = "FULL"
	}
	q := url.Values{}
	// The busy timeout comes first: the pragmas run in order when a connection opens, and
	// switching to WAL takes a lock that another process opening the database at the same
	// moment may hold; without the timeout already set, that open fails at once with
	// SQLITE_BUSY instead of waiting its turn.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Set("_txlock", "immediate")
	return "file:" + filepath.Join(dataDir, "entitle.db") + "?" + q.Encode()
}

func (s *Store) configurePool() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if s.dialect == DialectSQLite {
		// SQLite has one writer; a few connections let reads run beside it in WAL mode.
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
	}
	return nil
}

// SQLDB is the connection pool, for its statistics.
func (s *Store) SQLDB() (*sql.DB, error) {
	return s.db.DB()
}

// Dialect says which database this Store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	return sqlDB.PingContext(ctx)
}

// Close sends the announcements still owed to the other replicas, then releases the database
// connections.
func (s *Store) Close() error {
	s.caches.later.stop()
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	return sqlDB.Close()
}

// InTx runs fn in one transaction; fn must use only the Store it is given. Once the
// transaction has ended, the caches its writes made stale are emptied here and on every
// replica (see invalidate.go), and, when it committed, what AfterCommit was given runs.
// Called on a Store already in a transaction, it nests (a savepoint), and the outermost
// transaction's end does that.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.inTx {
		inner := &commitHooks{}
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(s.within(tx, inner))
		})
		if err == nil {
			// Released, not committed: the outermost transaction may still roll it back.
			s.committed.add(inner.take()...)
		}
		return err
	}
	// A transaction holds its connection from BEGIN to COMMIT, and the COMMIT runs on the
	// context it began with: bounded here as a whole, as each statement in it is.
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var writes *transactionWrites
	hooks := &commitHooks{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		writes = s.caches.beginTransaction(tx.Statement.ConnPool)
		defer s.caches.endTransaction(tx.Statement.ConnPool)
		if err := fn(s.within(tx, hooks)); err != nil {
			return err
		}
		return s.caches.announceWithin(tx, writes)
	})
	s.caches.afterTransaction(writes)
	if err == nil {
		// GORM returns the COMMIT's own error, so nil means committed.
		for _, fn := range hooks.take() {
			fn()
		}
	}
	return err
}

// AfterCommit runs fn once the transaction s belongs to has committed, and never when it rolls
// back (a savepoint rolled back included), for what must happen only for a change that stands:
// a metric that counts it, say. Outside a transaction it runs fn at once, since each statement
// there commits on its own.
func (s *Store) AfterCommit(fn func()) {
	if s.committed == nil {
		fn()
		return
	}
	s.committed.add(fn)
}

// commitHooks are the functions a transaction runs once it has committed.
type commitHooks struct {
	mu  sync.Mutex
	fns []func()
}

func (h *commitHooks) add(fns ...func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fns...)
}

// take returns the functions and forgets them.
func (h *commitHooks) take() []func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fns := h.fns
	h.fns = nil
	return fns
}

// within is this Store inside the transaction tx, whose commit runs hooks.
func (s *Store) within(tx *gorm.DB, hooks *commitHooks) *Store {
	return &Store{db: tx, dialect: s.dialect, postgresURL: s.postgresURL, caches: s.caches, inTx: true, committed: hooks, timeout: s.timeout}
}

func (s *Store) with(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx)
}

// translate maps GORM's errors onto the store's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return ErrNotFound
	}
	return err
}
