// Command scaleseed fills entitle's database for `make bench-scale`, straight through SQL and
// far faster than the API could: organizations numbered from..to (each with the owner as its
// admin, as if the owner had created them all through POST /organizations), or signed licenses.
// Run it while entitle is stopped, after entitle has started once (so its migrations ran and the
// owner exists).
//
// Usage:
//
//	scaleseed organizations -from 1 -to 1000000 (-sqlite-dir DIR | -postgres-url URL)
//	scaleseed licenses -count 10000 -keys-dir DIR (-sqlite-dir DIR | -postgres-url URL)
//
// Organization n is named scale-<n> and has the id OrganizationID(n), so the script knows the id
// of any one of them without asking.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"entitle/bench/benchdb"
	"entitle/license"
	"entitle/store"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "scaleseed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("say organizations or licenses")
	}
	fs := flag.NewFlagSet("scaleseed "+args[0], flag.ContinueOnError)
	sqliteDir := fs.String("sqlite-dir", "", "entitle's data directory (its entitle.db)")
	postgresURL := fs.String("postgres-url", "", "entitle's PostgreSQL database")
	from := fs.Int64("from", 1, "first organization number")
	to := fs.Int64("to", 1000, "last organization number")
	count := fs.Int("count", 10000, "licenses to sign and store")
	keysDir := fs.String("keys-dir", "", "entitle's --license-keys-dir: the signing key's public half is written there")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, dialect, err := benchdb.Open(*sqliteDir, *postgresURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	started := time.Now()
	switch args[0] {
	case "organizations":
		if *from < 1 || *to < *from {
			return fmt.Errorf("want 1 <= -from <= -to, got %d..%d", *from, *to)
		}
		err = seedOrganizations(ctx, db, dialect, *from, *to)
		if err == nil {
			fmt.Printf("inserted organizations %d..%d and the owner's memberships in %s\n", *from, *to, time.Since(started).Round(time.Millisecond))
		}
	case "licenses":
		if *keysDir == "" {
			return errors.New("-keys-dir is required")
		}
		err = seedLicenses(ctx, db, dialect, *keysDir, *count)
		if err == nil {
			fmt.Printf("signed and inserted %d licenses in %s\n", *count, time.Since(started).Round(time.Millisecond))
		}
	default:
		return fmt.Errorf("unknown command %q: say organizations or licenses", args[0])
	}
	return err
}

// OrganizationID is the id of organization n: a version-4-shaped UUID holding n, unique per n.
func OrganizationID(n int64) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012x", n))
}

// organizationSeries is, per dialect, the rows n = from..to as SQL: the FROM clause, and the
// expressions for the id, the name and the creation time (one second apart from a fixed start,
// so the order is the numbering).
type organizationSeries struct {
	with, from, id, name, createdAt, falseValue, trueValue string
}

func seriesFor(dialect store.Dialect, from, to int64) organizationSeries {
	if dialect == store.DialectPostgres {
		return organizationSeries{
			from:       fmt.Sprintf("generate_series(%d::bigint, %d::bigint) AS s(n)", from, to),
			id:         "('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid",
			name:       "'scale-' || n",
			createdAt:  "timestamptz '2025-01-01 00:00:00+00' + n * interval '1 second'",
			falseValue: "false",
			trueValue:  "true",
		}
	}
	return organizationSeries{
		with: fmt.Sprintf("WITH RECURSIVE s(n) AS (SELECT %d UNION ALL SELECT n + 1 FROM s WHERE n < %d) ", from, to),
		from: "s",
		id:   "printf('00000000-0000-4000-8000-%012x', n)",
		name: "'scale-' || n",
		// The format the SQLite driver writes a UTC time.Time in, so entitle reads it back alike.
		createdAt:  "strftime('%Y-%m-%d %H:%M:%S+00:00', '2025-01-01 00:00:00', '+' || n || ' seconds')",
		falseValue: "0",
		trueValue:  "1",
	}
}

func seedOrganizations(ctx context.Context, db *sql.DB, dialect store.Dialect, from, to int64) error {
	owner, err := benchdb.OwnerID(ctx, db)
	if err != nil {
		return err
	}
	s := seriesFor(dialect, from, to)
	orgColumns, err := benchdb.Columns(ctx, db, "organizations")
	if err != nil {
		return err
	}
	orgValues, err := benchdb.Pick("organizations", orgColumns, map[string]string{
		"id": s.id, "name": s.name, "display_name": s.name, "description": "''", "icon": "''",
		"is_default": s.falseValue, "created_at": s.createdAt, "updated_at": s.createdAt,
	})
	if err != nil {
		return err
	}
	memberColumns, err := benchdb.Columns(ctx, db, "organization_members")
	if err != nil {
		return err
	}
	ownerValue := "'" + owner + "'" // an id read from the database, a UUID: nothing to escape
	if dialect == store.DialectPostgres {
		ownerValue += "::uuid"
	}
	memberValues, err := benchdb.Pick("organization_members", memberColumns, map[string]string{
		"organization_id": s.id, "user_id": ownerValue, "is_admin": s.trueValue,
		"created_at": s.createdAt, "updated_at": s.createdAt,
	})
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	for _, insert := range []string{
		s.with + "INSERT INTO organizations (" + strings.Join(orgColumns, ", ") + ") SELECT " + strings.Join(orgValues, ", ") + " FROM " + s.from,
		s.with + "INSERT INTO organization_members (" + strings.Join(memberColumns, ", ") + ") SELECT " + strings.Join(memberValues, ", ") + " FROM " + s.from,
	} {
		if _, err := tx.ExecContext(ctx, insert); err != nil { //nolint:gosec // built from this tool's own column lists
			return fmt.Errorf("bulk insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return settle(ctx, db, dialect, "organizations", "organization_members")
}

// settle brings tables just filled in bulk to where PostgreSQL's own upkeep would bring them
// within a minute or so, as on any deployment that grew to this size: VACUUM ANALYZE (what
// autovacuum does after a million inserts) sets the visibility map, without which an
// index-only scan reads every row's heap page anyway, and refreshes the planner's statistics.
// SQLite keeps no such state, and entitle never runs ANALYZE on it, so it is left as it is.
func settle(ctx context.Context, db *sql.DB, dialect store.Dialect, tables ...string) error {
	if dialect != store.DialectPostgres {
		return nil
	}
	for _, table := range tables {
		statement := "VACUUM (ANALYZE) " + table //nolint:gosec // the table names are this tool's own constants
		if _, err := db.ExecContext(ctx, statement); err != nil {
			return fmt.Errorf("%s: %w", statement, err)
		}
	}
	return nil
}

// seedLicenses makes a signing key, writes its public half to keysDir as bench-scale.pem and
// stores count distinct valid licenses signed with it: a mix of enterprise and premium, trials
// and not, with different user limits and terms, as a long-lived deployment collects them.
func seedLicenses(ctx context.Context, db *sql.DB, dialect store.Dialect, keysDir string, count int) error {
	const kid = "bench-scale"
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	pubPEM, err := license.MarshalPublicKeyPEM(pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(keysDir, 0o750); err != nil { //nolint:gosec // the operator names the directory on the command line
		return fmt.Errorf("create keys dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(keysDir, kid+".pem"), pubPEM, 0o644); err != nil { //nolint:gosec // a public key
		return fmt.Errorf("write public key: %w", err)
	}
	columns, err := benchdb.Columns(ctx, db, "licenses")
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	type row struct {
		jwt      string
		exp      time.Time
		uuid     uuid.UUID
		uploaded time.Time
	}
	values, err := benchdb.Pick("licenses", columns, map[string]func(r row) any{
		"id":          nil, // the database numbers them
		"uploaded_at": func(r row) any { return r.uploaded },
		"jwt":         func(r row) any { return r.jwt },
		"exp":         func(r row) any { return r.exp },
		"uuid":        func(r row) any { return r.uuid },
	})
	if err != nil {
		return err
	}
	var insertColumns []string
	var fill []func(row) any
	for i, c := range columns {
		if values[i] != nil {
			insertColumns = append(insertColumns, c)
			fill = append(fill, values[i])
		}
	}
	insert := "INSERT INTO licenses (" + strings.Join(insertColumns, ", ") + ") VALUES (" + benchdb.Placeholders(dialect, len(insertColumns)) + ")" //nolint:gosec // columns from the table itself, values bound
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()        // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, insert) //nolint:gosec // see insert above
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	for i := range count {
		id := uuid.New()
		paidDays := time.Duration(30+i%365) * 24 * time.Hour
		claims := license.Claims{
			IssuedAt:       jwt.NewNumericDate(now.Add(-time.Hour)),
			NotBefore:      jwt.NewNumericDate(now.Add(-time.Hour)),
			LicenseExpires: jwt.NewNumericDate(now.Add(paidDays)),
			ExpiresAt:      jwt.NewNumericDate(now.Add(paidDays + 7*24*time.Hour)),
			ID:             id.String(),
			AccountType:    "salesforce",
			AccountID:      fmt.Sprintf("account-%d", i),
			Trial:          i%10 == 0,
			FeatureSet:     []string{"enterprise", "premium"}[i%2],
			Version:        license.SupportedVersion,
			Features:       map[string]int64{"user_limit": int64(10 + i%1000), "audit_log": 1},
		}
		token, err := license.Sign(priv, kid, claims)
		if err != nil {
			return err
		}
		r := row{jwt: token, exp: claims.ExpiresAt.UTC(), uuid: id, uploaded: store.Now()}
		args := make([]any, len(fill))
		for j, f := range fill {
			args[j] = f(r)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert license %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
