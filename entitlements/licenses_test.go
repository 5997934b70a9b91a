package entitlements_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/entitlements"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/store"
)

// licensesSetup is a service over a fresh database whose keys directory trusts issuer, and a
// second handle on the same database: another replica, whose writes this service hears of
// only through its next recompute.
type licensesSetup struct {
	svc    *entitlements.Service
	other  *store.Store
	issuer *testenv.Issuer
}

func newLicensesSetup(t *testing.T, db testenv.Database, c *clock) licensesSetup {
	t.Helper()
	ctx := context.Background()
	cfg := db.NewConfig(t)
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	keysDir := t.TempDir()
	issuer := testenv.NewIssuer(t, keysDir, "test")
	svc, err := entitlements.New(ctx, entitlements.Config{
		Store: open(), KeysDir: keysDir, Interval: time.Hour, Logger: slog.New(slog.DiscardHandler), Now: c.Now,
	})
	require.NoError(t, err)
	return licensesSetup{svc: svc, other: open(), issuer: issuer}
}

// store signs a license granting feature from nbf to exp (paid until exp) and stores it
// through the other handle; it returns the stored row's id.
func (s licensesSetup) store(t *testing.T, feature string, nbf, exp time.Time) int32 {
	t.Helper()
	id := uuid.New()
	token := s.issuer.Sign(t, license.Claims{
		ID: id.String(), Version: license.SupportedVersion,
		IssuedAt: jwt.NewNumericDate(nbf), NotBefore: jwt.NewNumericDate(nbf),
		LicenseExpires: jwt.NewNumericDate(exp), ExpiresAt: jwt.NewNumericDate(exp),
		Features: map[string]int64{feature: 1},
	})
	row := store.License{UploadedAt: store.Now(), JWT: token, Exp: exp, UUID: id}
	require.NoError(t, s.other.InsertLicense(context.Background(), &row))
	return row.ID
}

// insertRow writes a licenses row straight through SQL, as an operator's hand could, with the
// id given or, when it is 0, the next one.
func insertRow(t *testing.T, st *store.Store, id int64, token string, licenseUUID uuid.UUID) {
	t.Helper()
	sqlDB, err := st.SQLDB()
	require.NoError(t, err)
	columns, args := "uploaded_at, jwt, exp, uuid", []any{store.Now(), token, store.Now().Add(time.Hour), licenseUUID.String()}
	if id != 0 {
		columns, args = "id, "+columns, append([]any{id}, args...)
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	if st.Dialect() == store.DialectPostgres {
		var numbered []string
		for i := range args {
			numbered = append(numbered, fmt.Sprintf("$%d", i+1))
		}
		placeholders = strings.Join(numbered, ", ")
	}
	_, err = sqlDB.ExecContext(context.Background(), "INSERT INTO licenses ("+columns+") VALUES ("+placeholders+")", args...)
	require.NoError(t, err)
}

func enabled(svc *entitlements.Service, feature string) bool {
	return svc.Current().Features[feature].Enabled
}

// A recompute keeps what it verified by license id, since a stored license never changes, and
// reads only the rows it does not hold yet. These are the changes it must still see.
func TestARecomputeSeesEveryChangeToTheStoredLicenses(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Second)
		c := &clock{now: t0}
		s := newLicensesSetup(t, db, c)

		audit := s.store(t, "audit_log", t0.Add(-time.Hour), t0.Add(time.Hour))
		require.NoError(t, s.svc.Reload(ctx))
		require.True(t, enabled(s.svc, "audit_log"))

		t.Run("a license stored by another replica counts from the next recompute", func(t *testing.T) {
			s.store(t, "scim", t0.Add(-time.Hour), t0.Add(2*time.Hour))
			require.NoError(t, s.svc.Reload(ctx))
			assert.True(t, enabled(s.svc, "scim"))
			assert.True(t, enabled(s.svc, "audit_log"))
		})

		t.Run("a license deleted by another replica stops counting at the next recompute", func(t *testing.T) {
			require.NoError(t, s.other.DeleteLicense(ctx, audit))
			require.NoError(t, s.svc.Reload(ctx))
			assert.False(t, enabled(s.svc, "audit_log"))
			assert.True(t, enabled(s.svc, "scim"))
		})

		t.Run("a license already held flips at its moment", func(t *testing.T) {
			c.Set(t0.Add(2*time.Hour - time.Microsecond))
			require.NoError(t, s.svc.Reload(ctx))
			assert.True(t, enabled(s.svc, "scim"))
			c.Set(t0.Add(2 * time.Hour))
			require.NoError(t, s.svc.Reload(ctx))
			assert.False(t, enabled(s.svc, "scim"), "expired at exp")
			assert.False(t, s.svc.Current().HasLicense)
		})

		t.Run("bad rows stay invalid, each under its own uuid, recompute after recompute", func(t *testing.T) {
			bad := []uuid.UUID{uuid.New()}
			insertRow(t, s.other, 0, "not-a-license", bad[0])
			if db.Name == "sqlite" {
				// Ids no license id can hold (License.ID is 32-bit; PostgreSQL's column is too):
				// the rows are errors still, told apart by their stored ids.
				bad = append(bad, uuid.New(), uuid.New())
				insertRow(t, s.other, 1<<31, "not-a-license-either", bad[1])
				insertRow(t, s.other, 1<<31+5, "nor-this", bad[2])
			}
			for range 3 {
				require.NoError(t, s.svc.Reload(ctx))
				var naming []uuid.UUID
				for _, e := range s.svc.Current().Errors {
					for _, id := range bad {
						if strings.HasPrefix(e, "Invalid license ("+id.String()+")") {
							naming = append(naming, id)
						}
					}
				}
				assert.ElementsMatch(t, bad, naming, "errors: %q", s.svc.Current().Errors)
			}
		})
	})
}
