package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func TestAfterCommitRunsOnlyOnceTheChangeIsCommitted(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, _ := openStore(t, db)
		errRefused := errors.New("refused")

		t.Run("a committed transaction runs its functions after the commit, in order", func(t *testing.T) {
			var ran []string
			err := s.InTx(ctx, func(tx *store.Store) error {
				tx.AfterCommit(func() { ran = append(ran, "first") })
				tx.AfterCommit(func() { ran = append(ran, "second") })
				assert.Empty(t, ran, "nothing runs before the commit")
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, []string{"first", "second"}, ran)
		})

		t.Run("a rolled-back transaction runs none", func(t *testing.T) {
			ran := false
			err := s.InTx(ctx, func(tx *store.Store) error {
				tx.AfterCommit(func() { ran = true })
				return errRefused
			})
			require.ErrorIs(t, err, errRefused)
			assert.False(t, ran)
		})

		t.Run("a nested transaction's functions wait for the outermost commit", func(t *testing.T) {
			var ran []string
			err := s.InTx(ctx, func(tx *store.Store) error {
				require.NoError(t, tx.InTx(ctx, func(inner *store.Store) error {
					inner.AfterCommit(func() { ran = append(ran, "kept") })
					return nil
				}))
				require.ErrorIs(t, tx.InTx(ctx, func(inner *store.Store) error {
					inner.AfterCommit(func() { ran = append(ran, "rolled back") })
					return errRefused
				}), errRefused)
				assert.Empty(t, ran, "the savepoint released is not the commit")
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, []string{"kept"}, ran, "a savepoint rolled back drops its functions")
		})

		t.Run("a nested transaction committed inside one rolled back runs none", func(t *testing.T) {
			ran := false
			err := s.InTx(ctx, func(tx *store.Store) error {
				require.NoError(t, tx.InTx(ctx, func(inner *store.Store) error {
					inner.AfterCommit(func() { ran = true })
					return nil
				}))
				return errRefused
			})
			require.ErrorIs(t, err, errRefused)
			assert.False(t, ran)
		})

		t.Run("outside a transaction it runs at once: each statement commits on its own", func(t *testing.T) {
			ran := false
			s.AfterCommit(func() { ran = true })
			assert.True(t, ran)
		})
	})
}

func TestAfterCommitRunsNoneWhenTheCommitItselfFails(t *testing.T) {
	// PostgreSQL checks a deferred constraint at COMMIT, so the statements inside succeed and
	// the commit fails: the case a hook run at the end of fn, rather than after the commit,
	// would get wrong. (SQLite declares no deferred constraint a test could add to a table.)
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name)
	ctx := context.Background()
	s, cfg := openStore(t, db)
	raw, err := sql.Open("pgx", cfg.PostgresURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	for _, stmt := range []string{
		`CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN RAISE EXCEPTION 'refused at commit'; END $$`,
		`CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_logs
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()`,
	} {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}

	ran := false
	err = s.InTx(ctx, func(tx *store.Store) error {
		entry := store.AuditLog{ID: uuid.New(), Time: store.Now(), ResourceType: "organization", Action: "create", Diff: "{}", StatusCode: 201}
		require.NoError(t, tx.InsertAuditLog(ctx, &entry), "the statement itself succeeds")
		tx.AfterCommit(func() { ran = true })
		return nil
	})
	require.ErrorContains(t, err, "refused at commit")
	assert.False(t, ran, "a commit that failed runs nothing")
	var count int
	require.NoError(t, raw.QueryRowContext(ctx, "SELECT count(*) FROM audit_logs").Scan(&count))
	assert.Zero(t, count, "the entry was rolled back")
}
