//go:build faults

package faults

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/store"
)

// TestTwoReplicasOnPostgres runs two entitle processes on one PostgreSQL database and checks
// what they must agree on.
func TestTwoReplicasOnPostgres(t *testing.T) {
	ctx := context.Background()
	postgresURL := sharedPostgresDatabase(t)
	is := testenv.NewIssuer(t, t.TempDir(), "faults-key")
	a := testenv.StartProcess(t, "A", testenv.ProcessOptions{PostgresURL: postgresURL, KeysDir: is.KeysDir})
	token := a.SetupOwner(t)
	bStarted := time.Now()
	b := testenv.StartProcess(t, "B", testenv.ProcessOptions{PostgresURL: postgresURL, KeysDir: is.KeysDir})
	ownerA, ownerB := a.ClientWithToken(t, token), b.ClientWithToken(t, token)

	t.Run("within 2 s of B starting, both report the same high-availability error", func(t *testing.T) {
		waitFor(t, 2*time.Second-time.Since(bStarted), "A and B reporting one and the same HA error", func() (bool, string) {
			onA, onB := haErrors(t, a), haErrors(t, b)
			return len(onA) > 0 && strings.Join(onA, "\n") == strings.Join(onB, "\n"), "A: " + strconv.Quote(strings.Join(onA, "; ")) + ", B: " + strconv.Quote(strings.Join(onB, "; "))
		})
		t.Logf("A and B agreed %v after B was started", time.Since(bStarted).Round(time.Millisecond))
	})

	t.Run("concurrent creates of one organization name across both give exactly one 201, the rest 409", func(t *testing.T) {
		const racers = 16
		statuses := make([]int, racers)
		bodies := make([]string, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			client := ownerA
			if i%2 == 1 {
				client = ownerB
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := client.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "Contested"})
				if err != nil {
					bodies[i] = err.Error()
					return
				}
				statuses[i], bodies[i] = resp.StatusCode(), string(resp.Body)
			}()
		}
		close(start)
		wg.Wait()
		created := 0
		for i, status := range statuses {
			switch status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Errorf("request %d: %d %s", i, status, bodies[i])
			}
		}
		assert.Equal(t, 1, created, "exactly one 201")
	})

	t.Run("a license uploaded on A shows on B within a second", func(t *testing.T) {
		upload(t, ownerA, is.SignValid(t, license.Claims{Features: map[string]int64{"audit_log": 1}}))
		took := waitFor(t, time.Second, "B showing audit_log entitled", func() (bool, string) {
			f := entitlementsOf(t, b).Features["audit_log"]
			return f.Entitlement == "entitled", string(f.Entitlement)
		})
		t.Logf("B showed it after %v", took)
	})

	t.Run("a token signed out on A is refused on B at once", func(t *testing.T) {
		login, err := a.Client.LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{Email: testenv.OwnerEmail, Password: testenv.OwnerPassword})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, login.StatusCode(), string(login.Body))
		session := login.JSON201.SessionToken
		me, err := b.ClientWithToken(t, session).GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode(), "B accepts the token before the logout: %s", me.Body)

		out, err := a.ClientWithToken(t, session).LogoutWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, out.StatusCode(), string(out.Body))
		me, err = b.ClientWithToken(t, session).GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, me.StatusCode(), "B refuses the token right after the logout on A: %s", me.Body)
	})

	t.Run("after the listeners' connections are cut, a license uploaded on A shows on B within 3 seconds", func(t *testing.T) {
		cut := terminateListeners(t, postgresURL)
		require.Equal(t, 2, cut, "both replicas' listener connections are cut")
		upload(t, ownerA, is.SignValid(t, license.Claims{Features: map[string]int64{"scim": 1}}))
		took := waitFor(t, 3*time.Second, "B showing scim entitled", func() (bool, string) {
			f := entitlementsOf(t, b).Features["scim"]
			return f.Entitlement == "entitled", string(f.Entitlement)
		})
		t.Logf("B showed it after %v", took)
	})

	t.Run("within 2 s of B stopping cleanly, A no longer reports several replicas", func(t *testing.T) {
		b.Transport.CloseIdleConnections()
		stopping := time.Now()
		b.Stop(t)
		took := waitFor(t, 2*time.Second-time.Since(stopping), "A reporting no HA error", func() (bool, string) {
			onA := haErrors(t, a)
			return len(onA) == 0, strconv.Quote(strings.Join(onA, "; "))
		})
		t.Logf("A agreed %v after B exited", took)
	})
}

// haErrors lists the entitlements errors of p about several replicas.
func haErrors(t *testing.T, p *testenv.Process) []string {
	t.Helper()
	var found []string
	for _, e := range entitlementsOf(t, p).Errors {
		if strings.Contains(e, "multiple replicas") {
			found = append(found, e)
		}
	}
	return found
}

func entitlementsOf(t *testing.T, p *testenv.Process) gen.Entitlements {
	t.Helper()
	resp, err := p.Client.GetEntitlementsWithResponse(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

func upload(t *testing.T, client *gen.ClientWithResponses, token string) {
	t.Helper()
	resp, err := client.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
}

// terminateListeners cuts the listener connections (application_name entitle-listener) to the
// database postgresURL names, once both replicas hold one, and returns how many it cut.
func terminateListeners(t *testing.T, postgresURL string) int {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(postgresURL)
	require.NoError(t, err)
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", postgresURL)
	require.NoError(t, err)
	defer admin.Close()
	waitFor(t, 10*time.Second, "both replicas listening", func() (bool, string) {
		var n int
		require.NoError(t, admin.QueryRowContext(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
			store.ListenerApplicationName, dbName).Scan(&n))
		return n == 2, strconv.Itoa(n) + " listener sessions"
	})
	var cut int
	require.NoError(t, admin.QueryRowContext(ctx,
		`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
		store.ListenerApplicationName, dbName).Scan(&cut))
	return cut
}

// waitFor polls cond every 25ms until it holds, and fails the test when it does not within
// the time given; it returns how long it took.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s did not happen within %v; last seen: %s", what, within, seen)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
