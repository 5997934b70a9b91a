package e2e

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/store"
)

// stallBackends stops (SIGSTOP) the PostgreSQL backends of database's sessions that the
// condition on pg_stat_activity selects (args from $2): their connections stay open and
// deliver nothing, with no error, as a half-open TCP connection or a hung proxy would. They go
// on (SIGCONT) when the test ends, before its database is dropped (a stopped backend holds
// DROP DATABASE up). It returns how many it stopped.
func stallBackends(t *testing.T, admin *sql.DB, database, condition string, args ...any) int {
	rows, err := admin.QueryContext(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND `+condition,
		append([]any{database}, args...)...)
	require.NoError(t, err)
	var pids []int
	for rows.Next() {
		var pid int
		require.NoError(t, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP), "stop backend %d (the tests run as root, or as PostgreSQL's user)", pid)
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
	return len(pids)
}

func TestAReplicaWhoseListenerStallsStillSeesChangesWithinASecond(t *testing.T) {
	t.Parallel()
	a, b, admin, database := twoReplicas(t)
	owner := a.setupOwner()
	a.createMember(owner, "stalled")
	session := a.login("stalled@example.com", memberPassword)
	org := a.createOrganization(owner, "before-stall")
	warm(t, http.StatusOK,
		func() (int, string) { return b.meStatus(session) },
		func() (int, string) { return b.organizationStatus(owner, "before-stall") })

	require.Equal(t, 2, stallBackends(t, admin, database, "application_name = $2", store.ListenerApplicationName),
		"both replicas' listeners should have been stalled")

	resp, err := a.as(session).LogoutWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	pollUntil(t, propagation, "B refusing the session logged out on A while B's listener is stalled",
		statusIs(http.StatusUnauthorized, func() (int, string) { return b.meStatus(session) }))

	// The replicas give the stalled connections up and listen on new ones.
	pollUntil(t, 10*time.Second, "new listeners beside the stalled ones", func() (bool, string) {
		n := listenerSessions(t, admin, database)
		return n >= 4, "listener sessions: " + strconv.Itoa(n)
	})
	warm(t, http.StatusOK, func() (int, string) { return b.organizationStatus(owner, "before-stall") })
	renamed := "after-stall"
	renameResp, err := a.as(owner).UpdateOrganizationWithResponse(context.Background(), org.Id.String(), gen.UpdateOrganizationRequest{Name: &renamed})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, renameResp.StatusCode(), string(renameResp.Body))
	pollUntil(t, propagation, "B answering 404 for the old name, heard through its new listener",
		statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(owner, "before-stall") }))
}

// A database connection of the pool that stalls without failing (its backend stopped, a
// half-open connection) is a database that does not answer: once the statement's deadline
// passes, the request gets 503, or is done on a fresh connection; never a wait without end.
func TestARequestOnAStalledDatabaseConnectionIsUnavailableNotStuck(t *testing.T) {
	t.Parallel()
	cfg := postgresConfig(t)
	cfg.DatabaseTimeout = time.Second
	d := watch(t, testenv.Start(t, cfg))
	owner := d.setupOwner()
	admin := postgresAdmin(t)
	database := testDatabaseName(t, cfg.PostgresURL)

	require.NotZero(t, stallBackends(t, admin, database, "application_name <> $2", store.ListenerApplicationName),
		"the server's pool has connections")

	done := make(chan reply, 1)
	go func() {
		done <- d.send(http.MethodPost, "/organizations", []byte(`{"name":"stalled"}`), withSessionHeader(owner))
	}()
	select {
	case got := <-done:
		if got.Status == http.StatusCreated {
			break // the pool gave up the stalled connections and made new ones in time
		}
		requireError(t, got.Status, got.Body, http.StatusServiceUnavailable, "The database is unavailable.")
		_, err := strconv.Atoi(got.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After is whole seconds: %q", got.Header.Get("Retry-After"))
	case <-time.After(10 * time.Second):
		t.Fatal("POST /organizations was still waiting 10 s after its connection stalled (deadline 1 s)")
	}
}
