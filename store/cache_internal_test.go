package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests reach inside the store on purpose: they write the way code added later might (a
// model update, raw SQL, an upsert, a statement marked as a touch that sets more), through
// s.db, to show that invalidation does not depend on any write method remembering it.

func TestWhichCachesAStatementEmpties(t *testing.T) {
	all := []cacheName{cacheUsers, cacheAPIKeys, cacheMemberships, cacheUserOrganizations}
	for _, tc := range []struct {
		name    string
		sql     string
		want    []cacheName
		changed bool
	}{
		{"a read empties nothing", `SELECT * FROM "users" WHERE id = $1`, nil, false},
		{"a read joining two cached tables empties nothing", "SELECT k.id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?", nil, false},
		{"a write to an uncached table empties nothing", `UPDATE "licenses" SET "exp"=$1`, nil, false},
		{"an update of users empties what depends on users", `UPDATE "users" SET "status"=$1 WHERE id = $2`, all, true},
		{"a delete of an api key empties the keys", "DELETE FROM `api_keys` WHERE id = ?", []cacheName{cacheAPIKeys}, true},
		{"a plain insert of a key empties nothing", `INSERT INTO "api_keys" ("id") VALUES ($1)`, nil, false},
		{"a plain insert of a member empties the lists of organizations", `INSERT INTO "organization_members" ("organization_id","user_id") VALUES ($1,$2)`, []cacheName{cacheUserOrganizations}, false},
		{"an upsert is a change", `INSERT INTO organizations (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, []cacheName{cacheOrganizations, cacheMemberships, cacheUserOrganizations, cacheOrganizationMarks}, true},
		{"a plain insert of an organization empties the kept organizations (it may take a name just freed) and the offset marks", `INSERT INTO "organizations" ("id","name") VALUES ($1,$2)`, []cacheName{cacheOrganizations, cacheOrganizationMarks}, false},
		{"words in upper case count", `DELETE FROM ORGANIZATION_MEMBERS WHERE USER_ID = $1`, []cacheName{cacheMemberships, cacheUserOrganizations}, true},
		{"a schema-qualified table counts", `UPDATE public.organizations SET name = $1`, []cacheName{cacheOrganizations, cacheMemberships, cacheUserOrganizations, cacheOrganizationMarks}, true},
		{"a string literal is not a verb", `SELECT * FROM users WHERE status = 'update'`, nil, false},
		{"a column named like a verb is not one", `SELECT updated_at, deleted FROM users`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, changed := invalidatedBy(tc.sql)
			assert.ElementsMatch(t, tc.want, names)
			assert.Equal(t, tc.changed, changed, "changes or deletes rows")
		})
	}
}

// openForTest opens a store on a fresh database of the kind named, and for PostgreSQL listens
// until the test ends, returning once the listener is connected (until then nothing is cached).
func openForTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var listening sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		listening.Wait()
		_ = s.Close()
	})
	if s.dialect != DialectPostgres {
		return s
	}
	connected := make(chan struct{}, 1)
	listening.Add(1)
	go func() {
		defer listening.Done()
		s.ListenAnnouncements(ctx, slog.New(slog.DiscardHandler), func(a Announcement) {
			if a.Kind == AnnouncementsMissed {
				select {
				case connected <- struct{}{}:
				default:
				}
			}
		})
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not connect within 10s")
	}
	return s
}

// databases are the two dialects' configs, on fresh databases of testenv's making. The store
// package cannot import testenv (testenv imports server, which imports store), so
// TEST_POSTGRES_URL names a database this test may create databases on, as for testenv.
func databases(t *testing.T) map[string]func(t *testing.T) Config {
	return map[string]func(t *testing.T) Config{
		"sqlite":   func(t *testing.T) Config { return Config{DataDir: t.TempDir()} },
		"postgres": freshPostgres,
	}
}

func freshPostgres(t *testing.T) Config {
	t.Helper()
	adminURL := os.Getenv("TEST_POSTGRES_URL")
	if adminURL == "" {
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	name := "entitle_cache_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	raw, err := sql.Open("pgx", adminURL)
	require.NoError(t, err, "PostgreSQL at TEST_POSTGRES_URL")
	_, err = raw.ExecContext(context.Background(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = raw.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = raw.Close()
	})
	return Config{PostgresURL: strings.Replace(adminURL, "/postgres?", "/"+name+"?", 1)}
}

func createUserAndSession(t *testing.T, s *Store, username string) (User, APIKey) {
	t.Helper()
	ctx := context.Background()
	u := User{ID: uuid.New(), Username: username, Email: username + "@example.com", HashedPassword: []byte("x"), SiteRole: RoleMember}
	require.NoError(t, s.CreateUser(ctx, &u))
	now := Now()
	k := APIKey{ID: strings.ReplaceAll(uuid.NewString(), "-", "")[:10], HashedSecret: []byte("h"), UserID: u.ID, CreatedAt: now, LastUsed: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, s.CreateAPIKey(ctx, &k))
	return u, k
}

// statusOf is the session's user's status as Session returns it.
func statusOf(t *testing.T, s *Store, keyID string) string {
	t.Helper()
	_, u, err := s.Session(context.Background(), keyID)
	require.NoError(t, err)
	return u.Status
}

func TestWritesThatNoMethodKnowsAboutStillEmptyTheCaches(t *testing.T) {
	ctx := context.Background()
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			s := openForTest(t, config(t))
			for i, write := range []struct {
				name string
				run  func(userID uuid.UUID) error
			}{
				{"a model update", func(id uuid.UUID) error {
					return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Update("status", UserSuspended).Error
				}},
				{"a raw statement", func(id uuid.UUID) error {
					return s.db.WithContext(ctx).Exec("UPDATE users SET status = ? WHERE id = ?", UserSuspended, id).Error
				}},
				{"a raw statement returning rows", func(id uuid.UUID) error {
					var got []string
					return s.db.WithContext(ctx).Raw("UPDATE users SET status = ? WHERE id = ? RETURNING status", UserSuspended, id).Scan(&got).Error
				}},
				{"a touch that sets more than a touch may", func(id uuid.UUID) error {
					return s.db.WithContext(ctx).Set(touchSetting, touchColumns{"last_seen_at"}).Model(&User{}).Where("id = ?", id).
						Updates(map[string]any{"last_seen_at": Now(), "status": UserSuspended}).Error
				}},
				{"a write inside a transaction", func(id uuid.UUID) error {
					return s.InTx(ctx, func(tx *Store) error {
						return tx.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).Update("status", UserSuspended).Error
					})
				}},
			} {
				u, k := createUserAndSession(t, s, fmt.Sprint("suspendee", i))
				require.Equal(t, UserActive, statusOf(t, s, k.ID)) // kept in memory
				require.NoError(t, write.run(u.ID), write.name)
				assert.Equal(t, UserSuspended, statusOf(t, s, k.ID), "after %s", write.name)
			}
		})
	}
}

func TestAWriteOnOneStoreEmptiesTheCachesOfAnotherOnTheSameDatabaseWithinASecond(t *testing.T) {
	ctx := context.Background()
	cfg := freshPostgres(t)
	a := openForTest(t, cfg)
	b := openForTest(t, cfg)
	u, k := createUserAndSession(t, a, "farsuspendee")
	require.Equal(t, UserActive, statusOf(t, b, k.ID))
	require.Equal(t, UserActive, statusOf(t, b, k.ID))

	require.NoError(t, a.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Update("status", UserSuspended).Error)

	eventually(t, func() bool { return statusOf(t, b, k.ID) == UserSuspended }, "the other store still says active after 1s")
}

func TestEveryCacheIsBoundedInSize(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	c := s.caches
	fill := func(n int, store func(i int)) {
		for i := range n + 100 {
			store(i)
		}
	}
	fill(cachedAPIKeysMax, func(i int) { c.apiKeys.StoreIfCurrent(c.apiKeys.Generation(), fmt.Sprint(i), APIKey{}) })
	fill(cachedUsersMax, func(int) { c.users.StoreIfCurrent(c.users.Generation(), uuid.New(), User{}) })
	fill(cachedOrganizationsMax, func(int) {
		c.organizations.StoreIfCurrent(c.organizations.Generation(), organizationKey{id: uuid.New()}, Organization{})
	})
	fill(cachedMembershipsMax, func(int) {
		c.memberships.StoreIfCurrent(c.memberships.Generation(), membershipKey{uuid.New(), uuid.New()}, OrganizationMember{})
	})
	fill(cachedUserOrganizationsMax, func(int) {
		c.userOrganizations.StoreIfCurrent(c.userOrganizations.Generation(), uuid.New(), nil)
	})
	assert.Equal(t, cachedAPIKeysMax, c.apiKeys.Len())
	assert.Equal(t, cachedUsersMax, c.users.Len())
	assert.Equal(t, cachedOrganizationsMax, c.organizations.Len())
	assert.Equal(t, cachedMembershipsMax, c.memberships.Len())
	assert.Equal(t, cachedUserOrganizationsMax, c.userOrganizations.Len())
}

// TestTransactionsGoThroughInTx guards what invalidation after COMMIT relies on: a
// transaction begun any other way is not followed (afterStatement logs it as an error).
func TestTransactionsGoThroughInTx(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	begins := regexp.MustCompile(`\.(Transaction|Begin|BeginTx)\(`)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		n := len(begins.FindAll(src, -1))
		if file == "store.go" {
			assert.Equal(t, 2, n, "store.go should begin transactions only in InTx (twice: outermost and nested)")
			continue
		}
		assert.Zero(t, n, "%s begins a transaction outside InTx: use InTx, so its writes empty the caches after COMMIT", file)
	}
}

func TestAReaderDuringATransactionCannotKeepTheRowItChanges(t *testing.T) {
	ctx := context.Background()
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			s := openForTest(t, config(t))
			org := Organization{ID: uuid.New(), Name: "before-commit", DisplayName: "before-commit"}
			require.NoError(t, s.CreateOrganization(ctx, &org))
			_, err := s.OrganizationByID(ctx, org.ID)
			require.NoError(t, err)

			err = s.InTx(ctx, func(tx *Store) error {
				if err := tx.db.WithContext(ctx).Model(&Organization{}).Where("id = ?", org.ID).Update("name", "after-commit").Error; err != nil {
					return err
				}
				// Another request reads meanwhile: the old row, since the change is not
				// committed yet; it must not be kept past the commit.
				during, err := s.OrganizationByID(ctx, org.ID)
				require.NoError(t, err)
				require.Equal(t, "before-commit", during.Name)
				return nil
			})
			require.NoError(t, err)

			after, err := s.OrganizationByID(ctx, org.ID)
			require.NoError(t, err)
			assert.Equal(t, "after-commit", after.Name, "a row read during the transaction was kept after its commit")
		})
	}
}

// storeAndWriterBehindIt opens two stores on one SQLite database: behind writes without s
// knowing, as another replica's touches (which announce nothing) do.
func storeAndWriterBehindIt(t *testing.T) (s, behind *Store) {
	cfg := Config{DataDir: t.TempDir()}
	s = openForTest(t, cfg)
	behind, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = behind.Close() })
	return s, behind
}

func TestTouchesUpdateTheKeptSessionInsteadOfEmptyingTheCaches(t *testing.T) {
	ctx := context.Background()
	s, behind := storeAndWriterBehindIt(t)

	u, k := createUserAndSession(t, s, "toucher")
	_, _, err := s.Session(ctx, k.ID)
	require.NoError(t, err)
	require.NoError(t, behind.db.Exec("UPDATE users SET name = 'changed-behind' WHERE id = ?", u.ID).Error)

	seen := Now().Add(time.Minute)
	require.NoError(t, s.TouchUser(ctx, u.ID, seen))
	require.NoError(t, s.TouchAPIKey(ctx, k.ID, seen, seen.Add(2*time.Hour)))

	key, user, err := s.Session(ctx, k.ID)
	require.NoError(t, err)
	assert.Empty(t, user.Name, "a touch emptied the caches: the session was read again")
	assert.Equal(t, seen, user.LastSeenAt.UTC(), "the kept user's last_seen_at")
	assert.Equal(t, seen, key.LastUsed.UTC(), "the kept key's last_used")
	assert.Equal(t, seen.Add(2*time.Hour), key.ExpiresAt.UTC(), "the kept key's expiry")
}

func TestAKeptSessionThatLooksExpiredIsCheckedAgainstTheDatabase(t *testing.T) {
	ctx := context.Background()
	s, behind := storeAndWriterBehindIt(t)

	u := User{ID: uuid.New(), Username: "slider", Email: "slider@example.com", HashedPassword: []byte("x"), SiteRole: RoleMember}
	require.NoError(t, s.CreateUser(ctx, &u))
	now := Now()
	k := APIKey{ID: "slider0000", HashedSecret: []byte("h"), UserID: u.ID, CreatedAt: now, LastUsed: now, ExpiresAt: now.Add(300 * time.Millisecond)}
	require.NoError(t, s.CreateAPIKey(ctx, &k))
	_, _, err := s.Session(ctx, k.ID)
	require.NoError(t, err)

	// Another replica slides the session forward; this one is not told (touches announce nothing).
	extended := now.Add(time.Hour)
	require.NoError(t, behind.TouchAPIKey(ctx, k.ID, now, extended))
	time.Sleep(400 * time.Millisecond)

	key, _, err := s.Session(ctx, k.ID)
	require.NoError(t, err)
	assert.Equal(t, extended, key.ExpiresAt.UTC(), "the kept expiry was served although it had passed")
}
