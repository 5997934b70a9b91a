package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	sqlitedriver "github.com/glebarez/go-sqlite"
	"github.com/pressly/goose/v3"
)

// Emails are unique, and found, ignoring case, as Coder's index on lower(email) makes them.
// PostgreSQL's lower() folds every letter (in a UTF-8 database); SQLite's folds ASCII letters
// only, so "éloïse@exämple.com" and "ÉLOÏSE@EXÄMPLE.COM" were one user on PostgreSQL and two on
// SQLite, and only one of the spellings signed in. On SQLite emails are indexed and compared by
// unicode_lower instead: Go's strings.ToLower, as the login throttle already folds them.
// (Usernames and organization names are ASCII by their patterns: lower() serves them.)

// sqliteLower is the SQLite function that folds case as strings.ToLower does.
const sqliteLower = "unicode_lower"

func init() {
	// The driver gives its functions to every connection it opens, so this is registered once,
	// as the driver registers itself, and not by each Store. A database file whose index uses
	// it cannot have its users written by a tool without it (the sqlite3 shell says "no such
	// function: unicode_lower"), rather than index them differently.
	sqlitedriver.MustRegisterDeterministicScalarFunction(sqliteLower, 1, func(_ *sqlitedriver.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil // NULL, and numbers, as lower() leaves them
		}
	})
}

// lowerEmail is the SQL that folds the email expression as the unique index on emails does.
func (s *Store) lowerEmail(expr string) string {
	if s.dialect == DialectSQLite {
		return sqliteLower + "(" + expr + ")"
	}
	return "lower(" + expr + ")"
}

// emailIndexMigration (SQLite 11) indexes emails by unicode_lower. Users made before it whose
// emails differ only in the case of letters beyond ASCII both keep their accounts: the new index
// is then not unique and the ASCII one stays, so that deployment keeps the uniqueness it had.
// Refusing to start would lock everyone out over a pair of spellings.
var emailIndexMigration = goose.NewGoMigration(11, &goose.GoFunc{RunTx: indexEmailsByUnicodeLower}, &goose.GoFunc{RunTx: indexEmailsByLower})

func indexEmailsByUnicodeLower(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT email FROM users")
	if err != nil {
		return fmt.Errorf("read emails: %w", err)
	}
	defer func() { _ = rows.Close() }()
	seen := map[string]bool{}
	unique := true
	for rows.Next() {
		var email string
		if err := rows.Scan(&email); err != nil {
			return fmt.Errorf("read emails: %w", err)
		}
		key := strings.ToLower(email)
		unique = unique && !seen[key]
		seen[key] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read emails: %w", err)
	}
	statements := []string{"CREATE INDEX users_email_unicode_lower_idx ON users (unicode_lower(email))"}
	if unique {
		statements = []string{
			"DROP INDEX users_email_lower_idx",
			"CREATE UNIQUE INDEX users_email_unicode_lower_idx ON users (unicode_lower(email))",
		}
	}
	for _, stmt := range statements {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("index emails: %w", err)
		}
	}
	return nil
}

func indexEmailsByLower(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{
		"DROP INDEX users_email_unicode_lower_idx",
		"CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_idx ON users (lower(email))",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("index emails: %w", err)
		}
	}
	return nil
}
