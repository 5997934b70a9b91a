package e2e

import (
	"context"
	"database/sql"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// A replica reads its own writes at once, even when another replica's change that made the
// write possible has not been announced to it yet. Here the other replica's change is made
// in the database directly, so its announcement never comes: what the replica answers after
// its own write is its own doing alone.
func TestAReplicaReadsItsOwnCreateOfANameAnotherReplicaFreed(t *testing.T) {
	t.Parallel()
	cfg := postgresConfig(t)
	d := watch(t, testenv.Start(t, cfg))
	owner := d.setupOwner()
	db, err := sql.Open("pgx", cfg.PostgresURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	for _, freed := range []struct{ how, sql string }{
		{"deleted", `DELETE FROM organizations WHERE id = $1`},
		{"renamed", `UPDATE organizations SET name = 'elsewhere-' || substr(md5(random()::text), 1, 8) WHERE id = $1`},
	} {
		t.Run("the name's old organization "+freed.how+" elsewhere", func(t *testing.T) {
			d := d.in(t)
			old := d.createOrganization(owner, "reused")
			for range 2 { // kept in memory
				got := d.send(http.MethodGet, "/organizations/reused", nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
			}
			_, err := db.ExecContext(context.Background(), freed.sql, old.Id)
			require.NoError(t, err)

			created := d.createOrganization(owner, "reused")
			got := d.send(http.MethodGet, "/organizations/reused", nil, withSessionHeader(owner))
			require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
			assert.Equal(t, created.Id.String(), rawString(t, got.Body, "id"), "the name is the organization just created, not the one it had before")
			if freed.how == "deleted" {
				_, err = db.ExecContext(context.Background(), `DELETE FROM organizations WHERE id = $1`, created.Id)
			} else {
				_, err = db.ExecContext(context.Background(), freed.sql, created.Id)
			}
			require.NoError(t, err)
		})
	}
}
