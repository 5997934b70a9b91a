package store

import (
	"context"
	"io/fs"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmailsAreUniqueIgnoringCaseBeyondASCII(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openForTest(t, config(t))
			require.NoError(t, s.CreateUser(ctx, &User{ID: uuid.New(), Username: "eloise", Email: "éloïse@exämple.com", SiteRole: RoleMember, HashedPassword: []byte("x")}))
			err := s.CreateUser(ctx, &User{ID: uuid.New(), Username: "eloise2", Email: "ÉLOÏSE@EXÄMPLE.COM", SiteRole: RoleMember, HashedPassword: []byte("x")})
			require.ErrorIs(t, err, ErrConflict)
			u, err := s.UserByEmail(ctx, "Éloïse@Exämple.com")
			require.NoError(t, err)
			assert.Equal(t, "eloise", u.Username)
		})
	}
}

// A SQLite deployment made before emails were folded beyond ASCII may hold two users whose
// emails differ only so. The migration must not stop it from starting: both keep their
// accounts, and the uniqueness it had (ASCII) stays.
func TestUsersWhoseEmailsDifferOnlyBeyondASCIIKeepTheirAccountsAfterTheMigration(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir()}
	s, err := Open(ctx, cfg)
	require.NoError(t, err)
	sqlDB, err := s.db.DB()
	require.NoError(t, err)
	dir, err := fs.Sub(migrations, "migrations/sqlite")
	require.NoError(t, err)
	provider, err := goose.NewProvider(goose.DialectSQLite3, sqlDB, dir,
		goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(emailIndexMigration))
	require.NoError(t, err)
	_, err = provider.DownTo(ctx, 10)
	require.NoError(t, err)
	require.NoError(t, s.CreateUser(ctx, &User{ID: uuid.New(), Username: "eloise", Email: "éloïse@exämple.com", SiteRole: RoleMember, HashedPassword: []byte("x")}))
	require.NoError(t, s.CreateUser(ctx, &User{ID: uuid.New(), Username: "eloise2", Email: "ÉLOÏSE@exämple.com", SiteRole: RoleMember, HashedPassword: []byte("x")}))
	require.NoError(t, s.Close())

	s = openForTest(t, cfg)
	var n int64
	require.NoError(t, s.db.Model(&User{}).Where("username IN ?", []string{"eloise", "eloise2"}).Count(&n).Error)
	assert.EqualValues(t, 2, n, "both accounts are kept")
	_, err = s.UserByEmail(ctx, "ÉLOÏSE@EXÄMPLE.COM")
	require.NoError(t, err, "either signs in by the folded email")
	err = s.CreateUser(ctx, &User{ID: uuid.New(), Username: "eloise3", Email: "ÉloÏse@EXäMPLE.COM", SiteRole: RoleMember, HashedPassword: []byte("x")})
	require.ErrorIs(t, err, ErrConflict, "the ASCII uniqueness it had stays")
}
