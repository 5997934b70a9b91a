// Command rawinsert is the baseline `make bench` sets POST /organizations against: a bare Echo
// server whose one route, POST /api/v2/organizations, reads {"name"} and inserts the same two
// rows entitle inserts (the organization and the caller's admin membership) in one transaction
// with plain database/sql, on the same database, the same driver, the same SQLite settings and
// the same connection pool size as entitle's store. No authentication, no validation, no ORM.
//
// It is driven by the same wrk script at the same concurrency as entitle, so the ratio compares
// like with like: both pay for HTTP and JSON, and the difference is what entitle adds on top of
// the database's own cost (authentication, validation, GORM, the response).
//
// Usage: rawinsert -addr 127.0.0.1:PORT (-sqlite-dir DIR | -postgres-url URL)
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/glebarez/sqlite" // registers the "sqlite" driver entitle's store uses
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver entitle's store uses
	"github.com/labstack/echo/v4"

	"entitle/store"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	sqliteDir := flag.String("sqlite-dir", "", "entitle's data directory (its entitle.db)")
	postgresURL := flag.String("postgres-url", "", "entitle's PostgreSQL database")
	flag.Parse()
	if err := run(*addr, *sqliteDir, *postgresURL); err != nil {
		fmt.Fprintln(os.Stderr, "rawinsert:", err)
		os.Exit(1)
	}
}

func run(addr, sqliteDir, postgresURL string) error {
	if (sqliteDir == "") == (postgresURL == "") {
		return errors.New("give exactly one of -sqlite-dir and -postgres-url")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, dialect, err := openDatabase(sqliteDir, postgresURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ins, err := newInserter(ctx, db, dialect)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: newHandler(ins), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	slog.Info("rawinsert serving", "url", "http://"+ln.Addr().String(), "database", dialect)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// openDatabase opens the database the way entitle's store does (store.Open and its sqliteDSN and
// configurePool in store/store.go): keep the two in step, or the baseline stops being fair.
func openDatabase(sqliteDir, postgresURL string) (*sql.DB, store.Dialect, error) {
	if postgresURL != "" {
		db, err := sql.Open("pgx", postgresURL)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		return db, store.DialectPostgres, nil
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(sqliteDir, "entitle.db")+"?"+q.Encode())
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, store.DialectSQLite, nil
}

// inserter writes an organization and its creator's admin membership in one transaction.
type inserter struct {
	db        *sql.DB
	ownerID   uuid.UUID
	insertOrg string
	orgArgs   func(id uuid.UUID, name string, now time.Time) []any
	insertMem string
}

// newInserter finds the owner (the creator of every organization, as in the benchmark) and
// builds the INSERT for the organizations table's columns as they are in the database now, so a
// migration that adds a column with a plain value does not silently break the baseline.
func newInserter(ctx context.Context, db *sql.DB, dialect store.Dialect) (*inserter, error) {
	ins := &inserter{db: db}
	if err := db.QueryRowContext(ctx, "SELECT id FROM users WHERE site_role = 'owner'").Scan(&ins.ownerID); err != nil {
		return nil, fmt.Errorf("find the owner (run entitle and POST /users/first first): %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM organizations WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("read the organizations columns: %w", err)
	}
	columns, err := rows.Columns()
	_ = rows.Close()
	if err != nil {
		return nil, fmt.Errorf("read the organizations columns: %w", err)
	}
	// Each column's value, from the new organization's id, name and creation time.
	values := map[string]func(id uuid.UUID, name string, now time.Time) any{
		"id":           func(id uuid.UUID, _ string, _ time.Time) any { return id },
		"name":         func(_ uuid.UUID, name string, _ time.Time) any { return name },
		"display_name": func(_ uuid.UUID, name string, _ time.Time) any { return name },
		"description":  func(uuid.UUID, string, time.Time) any { return "" },
		"icon":         func(uuid.UUID, string, time.Time) any { return "" },
		"is_default":   func(uuid.UUID, string, time.Time) any { return false },
		"created_at":   func(_ uuid.UUID, _ string, now time.Time) any { return now },
		"updated_at":   func(_ uuid.UUID, _ string, now time.Time) any { return now },
	}
	var fill []func(uuid.UUID, string, time.Time) any
	for _, c := range columns {
		v, ok := values[c]
		if !ok {
			return nil, fmt.Errorf("organizations has a column %q that rawinsert does not know: give it a value in newInserter", c)
		}
		fill = append(fill, v)
	}
	ins.insertOrg = "INSERT INTO organizations (" + strings.Join(columns, ", ") + ") VALUES (" + placeholders(dialect, len(columns)) + ")"
	ins.orgArgs = func(id uuid.UUID, name string, now time.Time) []any {
		args := make([]any, len(fill))
		for i, f := range fill {
			args[i] = f(id, name, now)
		}
		return args
	}
	ins.insertMem = "INSERT INTO organization_members (organization_id, user_id, is_admin, created_at, updated_at) VALUES (" + placeholders(dialect, 5) + ")"
	return ins, nil
}

func placeholders(dialect store.Dialect, n int) string {
	marks := make([]string, n)
	for i := range marks {
		if dialect == store.DialectPostgres {
			marks[i] = fmt.Sprintf("$%d", i+1)
		} else {
			marks[i] = "?"
		}
	}
	return strings.Join(marks, ", ")
}

// organization is the response body: the fields entitle answers with, so both encode alike.
type organization struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	IsDefault bool      `json:"is_default"`
}

func (ins *inserter) create(ctx context.Context, name string) (organization, error) {
	org := organization{ID: uuid.New(), Name: name, CreatedAt: store.Now()}
	org.UpdatedAt = org.CreatedAt
	tx, err := ins.db.BeginTx(ctx, nil)
	if err != nil {
		return organization{}, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, ins.insertOrg, ins.orgArgs(org.ID, name, org.CreatedAt)...); err != nil {
		return organization{}, fmt.Errorf("insert organization: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ins.insertMem, org.ID, ins.ownerID, true, org.CreatedAt, org.CreatedAt); err != nil {
		return organization{}, fmt.Errorf("insert membership: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return organization{}, fmt.Errorf("commit: %w", err)
	}
	return org, nil
}

func newHandler(ins *inserter) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.POST("/api/v2/organizations", func(c echo.Context) error {
		var req struct {
			Name string `json:"name"`
		}
		if err := c.Bind(&req); err != nil {
			return err
		}
		org, err := ins.create(c.Request().Context(), req.Name)
		if err != nil {
			slog.Error("raw insert", "error", err)
			return echo.NewHTTPError(http.StatusInternalServerError)
		}
		return c.JSON(http.StatusCreated, org)
	})
	return e
}
