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
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"entitle/bench/benchdb"
	"entitle/bench/benchhttp"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, dialect, err := benchdb.Open(sqliteDir, postgresURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ins, err := newInserter(ctx, db, dialect)
	if err != nil {
		return err
	}
	return benchhttp.Serve(ctx, addr, newHandler(ins), "rawinsert", "database", dialect)
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
// builds the INSERT for the organizations table's columns as they are in the database now.
func newInserter(ctx context.Context, db *sql.DB, dialect store.Dialect) (*inserter, error) {
	ins := &inserter{db: db}
	owner, err := benchdb.OwnerID(ctx, db)
	if err != nil {
		return nil, err
	}
	if ins.ownerID, err = uuid.Parse(owner); err != nil {
		return nil, fmt.Errorf("owner id %q: %w", owner, err)
	}
	columns, err := benchdb.Columns(ctx, db, "organizations")
	if err != nil {
		return nil, err
	}
	// Each column's value, from the new organization's id, name and creation time.
	fill, err := benchdb.Pick("organizations", columns, map[string]func(id uuid.UUID, name string, now time.Time) any{
		"id":           func(id uuid.UUID, _ string, _ time.Time) any { return id },
		"name":         func(_ uuid.UUID, name string, _ time.Time) any { return name },
		"display_name": func(_ uuid.UUID, name string, _ time.Time) any { return name },
		"description":  func(uuid.UUID, string, time.Time) any { return "" },
		"icon":         func(uuid.UUID, string, time.Time) any { return "" },
		"is_default":   func(uuid.UUID, string, time.Time) any { return false },
		"created_at":   func(_ uuid.UUID, _ string, now time.Time) any { return now },
		"updated_at":   func(_ uuid.UUID, _ string, now time.Time) any { return now },
	})
	if err != nil {
		return nil, err
	}
	ins.insertOrg = "INSERT INTO organizations (" + strings.Join(columns, ", ") + ") VALUES (" + benchdb.Placeholders(dialect, len(columns)) + ")"
	ins.orgArgs = func(id uuid.UUID, name string, now time.Time) []any {
		args := make([]any, len(fill))
		for i, f := range fill {
			args[i] = f(id, name, now)
		}
		return args
	}
	ins.insertMem = "INSERT INTO organization_members (organization_id, user_id, is_admin, created_at, updated_at) VALUES (" + benchdb.Placeholders(dialect, 5) + ")"
	return ins, nil
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
