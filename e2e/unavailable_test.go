package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// A PostgreSQL that refuses new connections to the database (ALLOW_CONNECTIONS false, a
// database being dropped or restored) is one that does not answer: 503 with Retry-After, as
// for one that is down, never the 500 of a fault in entitle.
func TestADatabaseThatRefusesConnectionsIsUnavailable(t *testing.T) {
	t.Parallel()
	cfg := postgresConfig(t)
	d := watch(t, testenv.Start(t, cfg))
	owner := d.setupOwner()
	admin := postgresAdmin(t)
	database := testDatabaseName(t, cfg.PostgresURL)
	ctx := context.Background()
	allow := func(yes bool) {
		_, err := admin.ExecContext(ctx, `ALTER DATABASE "`+database+`" ALLOW_CONNECTIONS `+strconv.FormatBool(yes))
		require.NoError(t, err)
	}
	allow(false)
	t.Cleanup(func() { allow(true) })
	_, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, database)
	require.NoError(t, err)

	for i := range 5 {
		got := d.send(http.MethodPost, "/organizations", []byte(`{"name":"refused-`+strconv.Itoa(i)+`"}`), withSessionHeader(owner))
		requireError(t, got.Status, got.Body, http.StatusServiceUnavailable, "The database is unavailable.")
		_, err := strconv.Atoi(got.Header.Get("Retry-After"))
		assert.NoError(t, err, "Retry-After is whole seconds: %q", got.Header.Get("Retry-After"))
	}

	allow(true)
	pollUntil(t, 10*time.Second, "a create once connections are allowed again", func() (bool, string) {
		got := d.send(http.MethodPost, "/organizations", []byte(`{"name":"allowed"}`), withSessionHeader(owner))
		return got.Status == http.StatusCreated, strconv.Itoa(got.Status) + " " + string(got.Body)
	})
}
