package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"entitle/session"
	"entitle/store"
)

// Seeder writes many rows straight into a database with multi-row INSERTs, for tests that need
// lists far longer than creating each item through the API would allow in a test's time.
//
// Rows get created_at values that rise by one microsecond every seedTieRun rows, so runs of rows
// share a created_at and their order is decided by id: a chunk or a page boundary then falls
// inside such a run, where a keyset read is easiest to get wrong.
type Seeder struct {
	t       testing.TB
	store   *store.Store
	db      *sql.DB
	dialect store.Dialect
	// next is the created_at the next seeded row gets (before the tie runs).
	next time.Time
}

// seedTieRun is how many consecutive seeded rows share a created_at.
const seedTieRun = 3

// seedParameters is about how many parameters one INSERT binds: the SQLite driver matches
// each parameter against every argument, so a statement costs the square of its parameters.
const seedParameters = 200

// NewSeeder writes into st's database. Rows it makes are newer than anything already there.
func NewSeeder(t testing.TB, st *store.Store) *Seeder {
	t.Helper()
	db, err := st.SQLDB()
	require.NoError(t, err)
	return &Seeder{t: t, store: st, db: db, dialect: st.Dialect(), next: store.Now().Add(time.Second)}
}

// Organizations makes n organizations named <prefix>-<i>, each with member as an admin (when
// member is not uuid.Nil), and returns their ids in the order they were made.
func (s *Seeder) Organizations(prefix string, n int, member uuid.UUID) []uuid.UUID {
	s.t.Helper()
	ids := make([]uuid.UUID, n)
	created := s.times(n)
	s.insert("organizations", []string{"id", "name", "display_name", "description", "icon", "is_default", "created_at", "updated_at"}, n,
		func(i int) []any {
			ids[i] = uuid.New()
			name := fmt.Sprintf("%s-%d", prefix, i)
			return []any{ids[i].String(), name, name, "seeded <&> organization", "", false, created[i], created[i]}
		})
	if member != uuid.Nil {
		s.insert("organization_members", []string{"organization_id", "user_id", "is_admin", "created_at", "updated_at"}, n,
			func(i int) []any { return []any{ids[i].String(), member.String(), true, created[i], created[i]} })
	}
	return ids
}

// Members makes n users named <prefix>-<i> and adds them to the organization, and returns their
// ids in the order they were made.
func (s *Seeder) Members(prefix string, n int, organization uuid.UUID) []uuid.UUID {
	s.t.Helper()
	ids := make([]uuid.UUID, n)
	created := s.times(n)
	s.insert("users", []string{"id", "username", "name", "email", "hashed_password", "site_role", "status", "created_at", "updated_at", "last_seen_at"}, n,
		func(i int) []any {
			ids[i] = uuid.New()
			username := fmt.Sprintf("%s-%d", prefix, i)
			return []any{ids[i].String(), username, "Seeded " + username, username + "@example.com", []byte("not a hash"),
				store.RoleMember, store.UserActive, created[i], created[i], created[i]}
		})
	s.insert("organization_members", []string{"organization_id", "user_id", "is_admin", "created_at", "updated_at"}, n,
		func(i int) []any {
			return []any{organization.String(), ids[i].String(), i%2 == 0, created[i], created[i]}
		})
	return ids
}

// Tokens makes n API tokens named <prefix>-<i> for the user.
func (s *Seeder) Tokens(prefix string, n int, user uuid.UUID) {
	s.t.Helper()
	created := s.times(n)
	s.insert("api_keys", []string{"id", "hashed_secret", "user_id", "login_type", "scope", "token_name", "lifetime_seconds",
		"created_at", "updated_at", "last_used", "expires_at"}, n,
		func(i int) []any {
			// An id of the session format; no secret matches its hash, so it is never usable.
			return []any{rand.Text()[:session.IDLength], []byte("not a hash"), user.String(), store.LoginTypeToken, store.ScopeAll,
				fmt.Sprintf("%s-%d", prefix, i), int64(3600), created[i], created[i], created[i], created[i].Add(time.Hour)}
		})
}

// Licenses stores n licenses that are tokens in form only (three segments, a JSON payload, no
// valid signature): enough to be listed.
func (s *Seeder) Licenses(n int) {
	s.t.Helper()
	created := s.times(n)
	s.insert("licenses", []string{"uploaded_at", "jwt", "exp", "uuid"}, n,
		func(i int) []any {
			payload := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"seeded": %d, "note": "<&>"}`, i))
			return []any{created[i], "eyJhbGciOiJFZERTQSJ9." + payload + ".c2ln", created[i].Add(24 * time.Hour), uuid.NewString()}
		})
}

// times hands out n created_at values, seedTieRun rows to each.
func (s *Seeder) times(n int) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = s.next.Add(time.Duration(i/seedTieRun) * time.Microsecond)
	}
	s.next = s.next.Add(time.Duration(n/seedTieRun+1) * time.Microsecond)
	return ts
}

// insert writes n rows into table in one transaction, a few rows per statement.
func (s *Seeder) insert(table string, columns []string, n int, row func(i int) []any) {
	s.t.Helper()
	// Plain SQL goes behind the store's back: the reads it keeps would not see these rows.
	defer s.store.ForgetCachedReads()
	seedBatch := max(1, seedParameters/len(columns))
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	require.NoError(s.t, err)
	defer func() { _ = conn.Close() }()
	if s.dialect == store.DialectSQLite {
		// Each statement's undo journal and the pages it changes stay in memory; the
		// connection goes back to the pool as it was.
		_, err := conn.ExecContext(ctx, "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536")
		require.NoError(s.t, err)
		defer func() { _, _ = conn.ExecContext(ctx, "PRAGMA temp_store = DEFAULT; PRAGMA cache_size = -2000") }()
	}
	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(s.t, err)
	defer func() { _ = tx.Rollback() }()
	for start := 0; start < n; start += seedBatch {
		end := min(start+seedBatch, n)
		var (
			values []string
			args   []any
		)
		for i := start; i < end; i++ {
			marks := make([]string, len(columns))
			for c := range columns {
				marks[c] = s.placeholder(len(args) + c + 1)
			}
			values = append(values, "("+strings.Join(marks, ", ")+")")
			args = append(args, row(i)...)
		}
		query := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(columns, ", "), strings.Join(values, ", "))
		_, err := tx.ExecContext(ctx, query, args...)
		require.NoError(s.t, err, "seed %s", table)
	}
	require.NoError(s.t, tx.Commit())
}

func (s *Seeder) placeholder(n int) string {
	if s.dialect == store.DialectPostgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}
