package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/store"
)

// SQLite's synchronous=FULL makes every acknowledged commit durable across a power loss; with
// WAL, NORMAL could drop the last ones. Every connection of the pool must have it.
func TestSQLiteCommitsAreDurableByDefault(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := s.SQLDB()
	require.NoError(t, err)
	conns := make([]interface{ Close() error }, 0, 4)
	for range 4 {
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, conn)
		var synchronous, journal string
		require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous))
		require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal))
		assert.Equal(t, "2", synchronous, "synchronous=FULL (2) on every connection")
		assert.Equal(t, "wal", journal)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
