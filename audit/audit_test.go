package audit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/audit"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/store"
)

func TestTheWriterTellsOfAnEntryOnlyOnceItsChangeIsCommitted(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		cfg := db.NewConfig(t)
		st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		var committed []audit.Entry
		enabled := license.Entitlements{Features: map[string]license.Feature{"audit_log": {Enabled: true}}}
		recorder := audit.For(enabled, audit.Writer{Committed: func(e audit.Entry) { committed = append(committed, e) }})
		entry := audit.Entry{Action: audit.ActionCreate, ResourceType: audit.ResourceOrganization, ResourceID: uuid.New(), ResourceTarget: "kept"}
		count := func() int64 {
			_, n, err := st.AuditLogs(ctx, store.AuditFilter{}, 0, 0)
			require.NoError(t, err)
			return n
		}

		t.Run("an entry whose transaction commits is told of after the commit", func(t *testing.T) {
			err := st.InTx(ctx, func(tx *store.Store) error {
				require.NoError(t, recorder.Record(ctx, tx, entry))
				assert.Empty(t, committed, "not before the commit")
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, []audit.Entry{entry}, committed)
			assert.EqualValues(t, 1, count())
		})

		t.Run("an entry whose transaction rolls back is never told of", func(t *testing.T) {
			committed = nil
			errLater := errors.New("a later statement failed")
			err := st.InTx(ctx, func(tx *store.Store) error {
				require.NoError(t, recorder.Record(ctx, tx, entry))
				return errLater
			})
			require.ErrorIs(t, err, errLater)
			assert.Empty(t, committed)
			assert.EqualValues(t, 1, count(), "the entry went with its change")
		})

		t.Run("an entry written on its own is told of at once", func(t *testing.T) {
			committed = nil
			require.NoError(t, recorder.Record(ctx, st, entry))
			assert.Equal(t, []audit.Entry{entry}, committed)
		})

		t.Run("without audit_log nothing is written or told of", func(t *testing.T) {
			committed = nil
			off := audit.For(license.Entitlements{Features: map[string]license.Feature{"audit_log": {}}},
				audit.Writer{Committed: func(e audit.Entry) { committed = append(committed, e) }})
			require.NoError(t, off.Record(ctx, st, entry))
			assert.Empty(t, committed)
			assert.EqualValues(t, 2, count())
		})
	})
}
