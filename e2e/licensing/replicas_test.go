package licensing

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to cut the listeners' connections
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/store"
)

// postgresAdminURL is the server the harness makes test databases on.
func postgresAdminURL() string {
	if u := os.Getenv("TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return testenv.DefaultPostgresURL
}

// featureIs reports whether name has the given entitlement in ent.
func featureIs(ent gen.Entitlements, name string, want gen.Entitlement) bool {
	return ent.Features[name].Entitlement == want
}

func TestTwoReplicaProcessesShareOneDatabase(t *testing.T) {
	t.Parallel()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name, "testenv.Databases()[1] must be PostgreSQL")
	postgresURL := db.NewConfig(t).PostgresURL
	is := testenv.NewIssuer(t, t.TempDir(), "test-key")

	a := startReplica(t, "A", postgresURL, is.KeysDir)
	b := startReplica(t, "B", postgresURL, is.KeysDir)
	ownerToken := a.setupOwner(t)
	ownerA := a.withToken(t, ownerToken)
	ownerB := b.withToken(t, ownerToken)
	ctx := context.Background()
	require.Equal(t, deploymentID(t, a.client), deploymentID(t, b.client), "both replicas serve one deployment")

	// seenOnB waits up to within for B to show feature name at level want, counting from now.
	seenOnB := func(t *testing.T, within time.Duration, name string, want gen.Entitlement) {
		t.Helper()
		took := waitFor(t, within, 25*time.Millisecond, "B showing "+name+" "+string(want), func() (bool, string) {
			ent := entitlementsOf(t, b.client)
			return featureIs(ent, name, want), describeFeature(ent, name)
		})
		t.Logf("B showed %s %s after %v", name, want, took)
	}

	var first gen.License
	t.Run("a license uploaded on A shows on B within a second", func(t *testing.T) {
		resp, err := ownerA.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: is.Sign(t, claims(withFeatures("audit_log")))})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		first = *resp.JSON201
		seenOnB(t, time.Second, "audit_log", "entitled")
	})

	t.Run("B reports several replicas without high_availability as an error", func(t *testing.T) {
		ent := entitlementsOf(t, b.client)
		assert.True(t, func() bool {
			for _, e := range ent.Errors {
				if strings.Contains(e, "high availability") {
					return true
				}
			}
			return false
		}(), "errors: %q", ent.Errors)
	})

	t.Run("a license deleted on A is gone from B within a second", func(t *testing.T) {
		require.NotZero(t, first.Id, "the upload subtest failed")
		resp, err := ownerA.DeleteLicenseWithResponse(ctx, strconv.Itoa(int(first.Id)))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		seenOnB(t, time.Second, "audit_log", "not_entitled")
	})

	t.Run("sixteen concurrent refreshes split across A and B give exactly one 201", func(t *testing.T) {
		clients := make([]*gen.ClientWithResponses, 16)
		for i := range clients {
			clients[i] = ownerA
			if i%2 == 1 {
				clients[i] = ownerB
			}
		}
		requireOneRefreshWins(t, refreshAtOnce(clients), 60*time.Second)
	})

	t.Run("after the listeners' connections are cut, a license uploaded on A shows on B within 3 seconds", func(t *testing.T) {
		u, err := url.Parse(postgresURL)
		require.NoError(t, err)
		dbName := strings.TrimPrefix(u.Path, "/")
		admin, err := sql.Open("pgx", postgresAdminURL())
		require.NoError(t, err)
		defer admin.Close()

		// Only this test's database: other tests' servers share the PostgreSQL server.
		listeners := func() int {
			var n int
			require.NoError(t, admin.QueryRowContext(ctx,
				`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
				store.ListenerApplicationName, dbName).Scan(&n))
			return n
		}
		waitFor(t, 10*time.Second, 50*time.Millisecond, "both replicas listening", func() (bool, string) {
			n := listeners()
			return n == 2, strconv.Itoa(n) + " listener sessions"
		})
		rows, err := admin.QueryContext(ctx,
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
			store.ListenerApplicationName, dbName)
		require.NoError(t, err)
		terminated := 0
		for rows.Next() {
			var ok bool
			require.NoError(t, rows.Scan(&ok))
			if ok {
				terminated++
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.Equal(t, 2, terminated, "both replicas' listener connections should have been cut")

		resp, err := ownerA.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: is.Sign(t, claims(withFeatures("scim")))})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		seenOnB(t, 3*time.Second, "scim", "entitled")
	})

}
