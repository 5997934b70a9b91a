// Package benchdb opens entitle's database the way entitle's store does, for the benchmark
// tools in bench/ that write to it directly (the raw-insert baseline, the scale seeder).
package benchdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	_ "github.com/glebarez/sqlite"     // registers the "sqlite" driver entitle's store uses
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver entitle's store uses

	"entitle/store"
)

// Open opens entitle's SQLite database in sqliteDir, or its PostgreSQL database at postgresURL
// (exactly one of the two), with the settings of store.Open (its sqliteDSN and configurePool in
// store/store.go): keep the two in step, or a baseline measured through this stops being fair.
func Open(sqliteDir, postgresURL string) (*sql.DB, store.Dialect, error) {
	if (sqliteDir == "") == (postgresURL == "") {
		return nil, "", errors.New("give exactly one of a SQLite data directory and a PostgreSQL URL")
	}
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

// Columns lists table's columns as they are in the database now (migrations included), so a
// tool writing rows can fill every one of them or say which one it does not know.
func Columns(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0") //nolint:gosec // table names come from this tool's code, never from input
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer func() { _ = rows.Close() }()
	columns, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	return columns, nil
}

// Pick returns, for each column, its entry in known; a column missing from known is an error
// naming it, so a migration that adds a column makes the tool fail loudly instead of writing
// rows entitle would not write.
func Pick[T any](table string, columns []string, known map[string]T) ([]T, error) {
	picked := make([]T, 0, len(columns))
	for _, c := range columns {
		v, ok := known[c]
		if !ok {
			return nil, fmt.Errorf("%s has a column %q the benchmark tools do not know: give it a value", table, c)
		}
		picked = append(picked, v)
	}
	return picked, nil
}

// Placeholders is n bind parameters in the dialect's syntax.
func Placeholders(dialect store.Dialect, n int) string {
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

// OwnerID is the id of the deployment's owner (the first user).
func OwnerID(ctx context.Context, db *sql.DB) (string, error) {
	var id string
	if err := db.QueryRowContext(ctx, "SELECT id FROM users WHERE site_role = 'owner'").Scan(&id); err != nil {
		return "", fmt.Errorf("find the owner (start entitle and POST /users/first first): %w", err)
	}
	return id, nil
}
