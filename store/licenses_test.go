package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func TestRefreshCooldownIsOneCompareAndSet(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		t0 := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
		cooldown := time.Minute

		ok, _, err := s.ClaimRefresh(ctx, t0, cooldown)
		require.NoError(t, err)
		assert.True(t, ok, "the first refresh is allowed")

		ok, wait, err := s.ClaimRefresh(ctx, t0.Add(20*time.Second+500*time.Millisecond), cooldown)
		require.NoError(t, err)
		assert.False(t, ok, "a refresh within the cooldown is refused")
		assert.Equal(t, 39*time.Second+500*time.Millisecond, wait)

		ok, _, err = s.ClaimRefresh(ctx, t0.Add(cooldown-time.Microsecond), cooldown)
		require.NoError(t, err)
		assert.False(t, ok, "a microsecond early is still too early")

		ok, _, err = s.ClaimRefresh(ctx, t0.Add(cooldown), cooldown)
		require.NoError(t, err)
		assert.True(t, ok, "once the cooldown has passed a refresh is allowed again")
	})
}

// With no cooldown every refresh is allowed, however the callers' clock reads and commits
// interleave: one whose clock read came a moment before another's commit was refused (a 429
// with a cooldown of 0s).
func TestWithoutACooldownEveryRefreshIsAllowed(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		t0 := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
		for _, at := range []time.Time{t0, t0.Add(-time.Millisecond), t0} {
			ok, _, err := s.ClaimRefresh(ctx, at, 0)
			require.NoError(t, err)
			assert.True(t, ok, "a refresh at %s", at)
		}
	})
}

func TestConcurrentRefreshClaimsHaveOneWinner(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		now := store.Now()
		const n = 16
		var wg sync.WaitGroup
		wins := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wins[i], _, errs[i] = s.ClaimRefresh(ctx, now, time.Minute)
			}()
		}
		wg.Wait()
		won := 0
		for i := range n {
			require.NoError(t, errs[i])
			if wins[i] {
				won++
			}
		}
		assert.Equal(t, 1, won)
	})
}

func TestTheIdenticalLicenseTokenIsAConflict(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		// Longer than a PostgreSQL btree entry may be, so the unique index must hash it.
		token := "header." + randomText(8000) + ".sig"
		l := store.License{UploadedAt: store.Now(), JWT: token, Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
		require.NoError(t, s.InsertLicense(ctx, &l))
		assert.NotZero(t, l.ID)
		again := l
		again.ID = 0
		assert.ErrorIs(t, s.InsertLicense(ctx, &again), store.ErrConflict)
		assert.ErrorIs(t, s.DeleteLicense(ctx, l.ID+1000), store.ErrNotFound)
		require.NoError(t, s.DeleteLicense(ctx, l.ID))
	})
}

func TestUnreadableLicenseRowsAreListedWithAProblem(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		good := store.License{UploadedAt: store.Now(), JWT: "good.token.sig", Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
		require.NoError(t, s.InsertLicense(ctx, &good))

		// Values an older version or a hand could leave, which the models cannot read.
		type row struct {
			uploadedAt, exp, uuid any
			wantProblem           []string
		}
		var bad []row
		if s.Dialect() == store.DialectSQLite {
			bad = []row{
				{"2026-11-27 10:00:00+00:00", "10000-02-06 00:00:00+00:00", uuid.NewString(), []string{`exp holds "10000-02-06 00:00:00+00:00", not a time`}},
				{"yesterday", store.Now(), "not-a-uuid", []string{`uploaded_at holds "yesterday", not a time`, `uuid holds "not-a-uuid", not a UUID`}},
				{[]byte{1, 2, 3}, 42, uuid.NewString(), []string{"uploaded_at holds 3 bytes, not a time", "exp holds 42, not a time"}},
			}
		} else {
			bad = []row{
				{"infinity", "-infinity", uuid.NewString(), []string{`uploaded_at holds "infinity"`, `exp holds "-infinity"`}},
				{"200000-01-01T00:00:00Z", store.Now(), uuid.NewString(), []string{"uploaded_at holds 200000-01-01T00:00:00Z, outside the years 1..9999"}},
			}
		}
		sqlDB, err := s.SQLDB()
		require.NoError(t, err)
		insert := "INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES (?, ?, ?, ?)"
		if s.Dialect() == store.DialectPostgres {
			insert = "INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES ($1, $2, $3, $4)"
		}
		for i, r := range bad {
			_, err := sqlDB.ExecContext(ctx, insert, r.uploadedAt, fmt.Sprintf("bad.token.%d", i), r.exp, r.uuid)
			require.NoError(t, err)
		}

		rows, err := s.Licenses(ctx)
		require.NoError(t, err, "one bad row must not fail the list")
		require.Len(t, rows, 1+len(bad))
		assert.NoError(t, rows[0].Problem)
		assert.Equal(t, good, rows[0].License)
		for i, r := range rows[1:] {
			require.Error(t, r.Problem, "row %d", r.ID)
			assert.Equal(t, fmt.Sprintf("bad.token.%d", i), r.JWT, "the token is still read")
			assert.NotZero(t, r.ID)
			for _, want := range bad[i].wantProblem {
				assert.Contains(t, r.Problem.Error(), want)
			}
		}
	})
}

func randomText(n int) string {
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, uuid.NewString()...)
	}
	return string(b[:n])
}

func TestEveryWriteToTheLicensesRaisesTheirGeneration(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		generation := func() int64 {
			t.Helper()
			g, err := s.LicensesGeneration(ctx)
			require.NoError(t, err)
			return g
		}
		raised := func(t *testing.T, what string, write func()) {
			t.Helper()
			before := generation()
			write()
			assert.Greater(t, generation(), before, what)
		}
		sqlDB, err := s.SQLDB()
		require.NoError(t, err)
		bind := func(q string) string {
			if s.Dialect() == store.DialectPostgres {
				return strings.NewReplacer("?1", "$1", "?2", "$2").Replace(q)
			}
			return q
		}

		l := store.License{UploadedAt: store.Now(), JWT: "a.token.sig", Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
		raised(t, "an upload", func() { require.NoError(t, s.InsertLicense(ctx, &l)) })
		raised(t, "a delete", func() { require.NoError(t, s.DeleteLicense(ctx, l.ID)) })
		raised(t, "a row written by hand", func() {
			_, err := sqlDB.ExecContext(ctx, bind("INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES (?1, 'by.hand.sig', ?1, ?2)"), store.Now(), uuid.NewString())
			require.NoError(t, err)
		})
		raised(t, "a row changed by hand", func() {
			_, err := sqlDB.ExecContext(ctx, "UPDATE licenses SET jwt = 'changed.by.hand' WHERE jwt = 'by.hand.sig'")
			require.NoError(t, err)
		})
		raised(t, "a row deleted by hand", func() {
			_, err := sqlDB.ExecContext(ctx, "DELETE FROM licenses WHERE jwt = 'changed.by.hand'")
			require.NoError(t, err)
		})

		t.Run("other writes leave it", func(t *testing.T) {
			before := generation()
			_, _, err := s.ClaimRefresh(ctx, store.Now(), time.Minute)
			require.NoError(t, err)
			require.NoError(t, s.Heartbeat(ctx, store.Replica{ID: uuid.New(), Hostname: "h", StartedAt: store.Now(), LastSeenAt: store.Now()}))
			assert.Equal(t, before, generation())
		})

		t.Run("a rolled back upload leaves it", func(t *testing.T) {
			before := generation()
			rollback := errors.New("roll back")
			err := s.InTx(ctx, func(tx *store.Store) error {
				other := store.License{UploadedAt: store.Now(), JWT: "rolled.back.sig", Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
				require.NoError(t, tx.InsertLicense(ctx, &other))
				return rollback
			})
			require.ErrorIs(t, err, rollback)
			assert.Equal(t, before, generation())
		})
	})
}

func TestLicensesByIDReadsTheRowsStillStored(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		var ids []int64
		for i := range 3 {
			l := store.License{UploadedAt: store.Now(), JWT: fmt.Sprintf("token.%d.sig", i), Exp: store.Now().Add(time.Hour), UUID: uuid.New()}
			require.NoError(t, s.InsertLicense(ctx, &l))
			ids = append(ids, int64(l.ID))
		}
		require.NoError(t, s.DeleteLicense(ctx, int32(ids[1])))

		listed, err := s.LicenseIDs(ctx)
		require.NoError(t, err)
		assert.Equal(t, []int64{ids[0], ids[2]}, listed)

		rows, err := s.LicensesByID(ctx, []int64{ids[2], ids[1], ids[0]})
		require.NoError(t, err)
		require.Len(t, rows, 2, "the deleted one is left out")
		assert.Equal(t, ids[0], rows[0].StoredID(), "by id")
		assert.Equal(t, "token.0.sig", rows[0].JWT)
		assert.Equal(t, ids[2], rows[1].StoredID())
	})
}
