package e2e

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

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
	"entitle/store"
)

// The store keeps sessions, users, organizations and memberships in memory. These tests warm
// that memory on every replica, change the row on one, and require the change to show on the
// same replica at the very next request and on every other replica within a second: a cache
// that serves a revoked session or a deleted organization is a security bug.

// propagation is how soon a change on one replica must show on another.
const propagation = time.Second

// pollUntil polls cond until it holds, failing the test when it does not within limit.
func pollUntil(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	for {
		ok, seen := cond()
		if ok {
			t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s did not happen within %v; last seen: %s", what, limit, seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// statusIs is a condition that holds when get answers want.
func statusIs(want int, get func() (int, string)) func() (bool, string) {
	return func() (bool, string) {
		status, body := get()
		return status == want, strconv.Itoa(status) + " " + body
	}
}

func (d *deployment) meStatus(token string) (int, string) {
	d.t.Helper()
	resp, err := d.as(token).GetCurrentUserWithResponse(context.Background())
	require.NoError(d.t, err)
	return resp.StatusCode(), string(resp.Body)
}

func (d *deployment) organizationStatus(token, ref string) (int, string) {
	d.t.Helper()
	resp, err := d.as(token).GetOrganizationWithResponse(context.Background(), ref)
	require.NoError(d.t, err)
	return resp.StatusCode(), string(resp.Body)
}

// addMemberStatus is what token's user gets adding user to org: 403 when they may not manage
// its members, 409 when they may and user is already a member (a probe that changes nothing).
func (d *deployment) addMemberStatus(token, org, user string) (int, string) {
	d.t.Helper()
	resp, err := d.as(token).AddOrganizationMemberWithResponse(context.Background(), org, user)
	require.NoError(d.t, err)
	return resp.StatusCode(), string(resp.Body)
}

// requireStatus checks that get answers want now: the writer's own replica reads its writes.
func requireStatus(t *testing.T, want int, what string, get func() (int, string)) {
	t.Helper()
	status, body := get()
	require.Equal(t, want, status, "%s: %s", what, body)
}

// warm makes every replica read what get reads, twice, so it is in their memory.
func warm(t *testing.T, want int, gets ...func() (int, string)) {
	t.Helper()
	for range 2 {
		for _, get := range gets {
			requireStatus(t, want, "warming the cache", get)
		}
	}
}

// testDatabaseName is the PostgreSQL database a config's URL names.
func testDatabaseName(t *testing.T, cfg string) string {
	u, err := url.Parse(cfg)
	require.NoError(t, err)
	return strings.TrimPrefix(u.Path, "/")
}

// postgresAdmin connects to the PostgreSQL server the harness makes test databases on.
func postgresAdmin(t *testing.T) *sql.DB {
	adminURL := os.Getenv("TEST_POSTGRES_URL")
	if adminURL == "" {
		adminURL = testenv.DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", adminURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	return admin
}

// listenerSessions counts the replicas' announcement listeners connected to database.
func listenerSessions(t *testing.T, admin *sql.DB, database string) int {
	var n int
	require.NoError(t, admin.QueryRowContext(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
		store.ListenerApplicationName, database).Scan(&n))
	return n
}

// waitForListeners waits until n listeners are connected: until then a replica keeps nothing
// in memory, and the tests below would pass without testing anything.
func waitForListeners(t *testing.T, admin *sql.DB, database string, n int) {
	pollUntil(t, 10*time.Second, strconv.Itoa(n)+" listeners connected", func() (bool, string) {
		got := listenerSessions(t, admin, database)
		return got == n, strconv.Itoa(got) + " listeners"
	})
}

// cutListeners ends every listener connection to database, as a network failure would.
func cutListeners(t *testing.T, admin *sql.DB, database string) int {
	rows, err := admin.QueryContext(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
		store.ListenerApplicationName, database)
	require.NoError(t, err)
	defer rows.Close()
	cut := 0
	for rows.Next() {
		var ok bool
		require.NoError(t, rows.Scan(&ok))
		if ok {
			cut++
		}
	}
	require.NoError(t, rows.Err())
	return cut
}

// postgresConfig is a server configuration on a fresh PostgreSQL database of its own.
func postgresConfig(t *testing.T) server.Config {
	cfg := testenv.Databases()[1].NewConfig(t)
	require.NotEmpty(t, cfg.PostgresURL, "testenv.Databases()[1] must be PostgreSQL")
	return cfg
}

// twoReplicas starts replicas A and B on one PostgreSQL database and waits until both listen.
func twoReplicas(t *testing.T) (a, b *deployment, admin *sql.DB, database string) {
	cfg := postgresConfig(t)
	a = watch(t, testenv.Start(t, cfg))
	b = &deployment{t: t, inst: testenv.Start(t, cfg), secrets: a.secrets}
	admin = postgresAdmin(t)
	database = testDatabaseName(t, cfg.PostgresURL)
	waitForListeners(t, admin, database, 2)
	return a, b, admin, database
}

func TestChangesOnOneReplicaTakeEffectOnTheOtherWithinASecond(t *testing.T) {
	t.Parallel()
	a, b, _, _ := twoReplicas(t)
	owner := a.setupOwner()

	t.Run("logout", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		a.createMember(owner, "leaver")
		session := a.login("leaver@example.com", memberPassword)
		warm(t, http.StatusOK, func() (int, string) { return a.meStatus(session) }, func() (int, string) { return b.meStatus(session) })

		resp, err := a.as(session).LogoutWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))

		requireStatus(t, http.StatusUnauthorized, "A after logging out on A", func() (int, string) { return a.meStatus(session) })
		pollUntil(t, propagation, "B refusing the session logged out on A", statusIs(http.StatusUnauthorized, func() (int, string) { return b.meStatus(session) }))
	})

	t.Run("API token deleted", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		user, session := a.createMember(owner, "tokenholder")
		key := a.createToken(session, "me", gen.CreateTokenRequest{})
		keyID, _, _ := strings.Cut(key, "-")
		warm(t, http.StatusOK, func() (int, string) { return a.meStatus(key) }, func() (int, string) { return b.meStatus(key) })

		resp, err := a.as(owner).DeleteAPIKeyWithResponse(context.Background(), user.Id.String(), keyID)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.StatusCode(), string(resp.Body))

		requireStatus(t, http.StatusUnauthorized, "A after deleting the token on A", func() (int, string) { return a.meStatus(key) })
		pollUntil(t, propagation, "B refusing the token deleted on A", statusIs(http.StatusUnauthorized, func() (int, string) { return b.meStatus(key) }))
		requireStatus(t, http.StatusOK, "the user's session, which was not deleted", func() (int, string) { return b.meStatus(session) })
	})

	t.Run("organization renamed", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		org := a.createOrganization(owner, "before-rename")
		id := org.Id.String()
		warm(t, http.StatusOK,
			func() (int, string) { return a.organizationStatus(owner, "before-rename") },
			func() (int, string) { return b.organizationStatus(owner, "before-rename") },
			func() (int, string) { return a.organizationStatus(owner, id) },
			func() (int, string) { return b.organizationStatus(owner, id) })

		name := "after-rename"
		resp, err := a.as(owner).UpdateOrganizationWithResponse(context.Background(), id, gen.UpdateOrganizationRequest{Name: &name})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))

		requireStatus(t, http.StatusNotFound, "the old name on A", func() (int, string) { return a.organizationStatus(owner, "before-rename") })
		requireStatus(t, http.StatusOK, "the new name on A", func() (int, string) { return a.organizationStatus(owner, name) })
		nameByID := func(d *deployment) func() (bool, string) {
			return func() (bool, string) {
				resp, err := d.as(owner).GetOrganizationWithResponse(context.Background(), id)
				require.NoError(t, err)
				return resp.JSON200 != nil && resp.JSON200.Name == name, string(resp.Body)
			}
		}
		ok, body := nameByID(a)()
		require.True(t, ok, "A by id after the rename on A: %s", body)
		pollUntil(t, propagation, "the old name 404 on B", statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(owner, "before-rename") }))
		pollUntil(t, propagation, "the new name found on B", statusIs(http.StatusOK, func() (int, string) { return b.organizationStatus(owner, name) }))
		pollUntil(t, propagation, "the new name by id on B", nameByID(b))
	})

	t.Run("organization deleted", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		org := a.createOrganization(owner, "doomed")
		id := org.Id.String()
		gets := func(d *deployment) []func() (int, string) {
			return []func() (int, string){
				func() (int, string) { return d.organizationStatus(owner, "doomed") },
				func() (int, string) { return d.organizationStatus(owner, id) },
			}
		}
		warm(t, http.StatusOK, append(gets(a), gets(b)...)...)

		resp, err := a.as(owner).DeleteOrganizationWithResponse(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))

		for _, get := range gets(a) {
			requireStatus(t, http.StatusNotFound, "A after deleting on A", get)
		}
		for _, get := range gets(b) {
			pollUntil(t, propagation, "B answering 404 for the organization deleted on A", statusIs(http.StatusNotFound, get))
		}
	})

	t.Run("member removed", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		org := a.createOrganization(owner, "club")
		user, session := a.createMember(owner, "removed", org.Id)
		warm(t, http.StatusOK,
			func() (int, string) { return a.organizationStatus(session, "club") },
			func() (int, string) { return b.organizationStatus(session, "club") })

		resp, err := a.as(owner).RemoveOrganizationMemberWithResponse(context.Background(), "club", user.Id.String())
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.StatusCode(), string(resp.Body))

		requireStatus(t, http.StatusNotFound, "the removed member on A", func() (int, string) { return a.organizationStatus(session, "club") })
		pollUntil(t, propagation, "B hiding the organization from the member removed on A",
			statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(session, "club") }))
	})

	t.Run("organization admin demoted", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		org := a.createOrganization(owner, "guild")
		admin, adminSession := a.createMember(owner, "guildadmin", org.Id)
		a.createMember(owner, "guildmember", org.Id)
		a.setRoles(owner, "guild", admin.Id.String(), gen.OrganizationRoleAdmin)
		// An admin adding someone already a member gets 409; anyone else 403. Nothing changes.
		warm(t, http.StatusConflict,
			func() (int, string) { return a.addMemberStatus(adminSession, "guild", "guildmember") },
			func() (int, string) { return b.addMemberStatus(adminSession, "guild", "guildmember") })

		a.setRoles(owner, "guild", admin.Id.String())

		requireStatus(t, http.StatusForbidden, "the demoted admin on A", func() (int, string) { return a.addMemberStatus(adminSession, "guild", "guildmember") })
		pollUntil(t, propagation, "B refusing the admin demoted on A",
			statusIs(http.StatusForbidden, func() (int, string) { return b.addMemberStatus(adminSession, "guild", "guildmember") }))
	})

	t.Run("user created", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		a.createMember(owner, "newcomer")
		session := b.login("newcomer@example.com", memberPassword)
		requireStatus(t, http.StatusOK, "the new user on B", func() (int, string) { return b.meStatus(session) })
	})
}

func TestAReplicaWhoseListenerIsCutStillSeesChangesWithinASecond(t *testing.T) {
	t.Parallel()
	a, b, admin, database := twoReplicas(t)
	owner := a.setupOwner()
	ctx := context.Background()
	rename := func(t *testing.T, id uuid.UUID, to string) {
		resp, err := a.as(owner).UpdateOrganizationWithResponse(ctx, id.String(), gen.UpdateOrganizationRequest{Name: &to})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	}

	t.Run("cut and back at once", func(t *testing.T) {
		for round := range 3 {
			a, b := a.in(t), b.in(t)
			name := "cut-" + strconv.Itoa(round)
			org := a.createOrganization(owner, name)
			warm(t, http.StatusOK, func() (int, string) { return b.organizationStatus(owner, name) })

			require.Equal(t, 2, cutListeners(t, admin, database), "both replicas' listeners should have been cut")
			// At once, before B's listener is back: B cannot hear of this write.
			rename(t, org.Id, name+"-renamed")

			pollUntil(t, propagation, "B answering 404 for the old name after its listener was cut",
				statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(owner, name) }))
			waitForListeners(t, admin, database, 2)
		}
	})

	t.Run("kept out for longer than the propagation limit", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		org := a.createOrganization(owner, "outage-0")
		warm(t, http.StatusOK, func() (int, string) { return b.organizationStatus(owner, "outage-0") })

		// New connections to the database are refused, so the cut listeners stay cut; the
		// replicas' pools keep the connections they have, and go on serving.
		_, err := admin.ExecContext(ctx, "ALTER DATABASE "+database+" ALLOW_CONNECTIONS false")
		require.NoError(t, err)
		reopened := false
		reopen := func() {
			if !reopened {
				reopened = true
				_, err := admin.ExecContext(ctx, "ALTER DATABASE "+database+" ALLOW_CONNECTIONS true")
				require.NoError(t, err)
			}
		}
		defer reopen()
		require.Equal(t, 2, cutListeners(t, admin, database), "both replicas' listeners should have been cut")
		time.Sleep(200 * time.Millisecond) // the replicas notice their listener is gone

		for i := 1; i <= 3; i++ {
			from, to := "outage-"+strconv.Itoa(i-1), "outage-"+strconv.Itoa(i)
			rename(t, org.Id, to)
			pollUntil(t, propagation, "B answering 404 for "+from+" while its listener is down",
				statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(owner, from) }))
			// B reads the new name now, more than once: while it cannot hear, it must keep nothing.
			warm(t, http.StatusOK, func() (int, string) { return b.organizationStatus(owner, to) })
			time.Sleep(propagation / 2)
		}
		require.Zero(t, listenerSessions(t, admin, database), "a listener came back while connections were refused")

		reopen()
		waitForListeners(t, admin, database, 2)
		warm(t, http.StatusOK, func() (int, string) { return b.organizationStatus(owner, "outage-3") })
		rename(t, org.Id, "outage-4")
		pollUntil(t, propagation, "B answering 404 for the old name once its listener is back",
			statusIs(http.StatusNotFound, func() (int, string) { return b.organizationStatus(owner, "outage-3") }))
	})
}

func TestTheNextRequestAfterAWriteSeesIt(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		cfg := db.NewConfig(t)
		d := watch(t, testenv.Start(t, cfg))
		if cfg.PostgresURL != "" {
			waitForListeners(t, postgresAdmin(t), testDatabaseName(t, cfg.PostgresURL), 1)
		}
		owner := d.setupOwner()

		// Each write is made and then read back at once, many times over, with the cache warm
		// before each write.
		org := d.createOrganization(owner, "rw-0")
		user, session := d.createMember(owner, "rwmember", org.Id)
		for i := 1; i <= 5; i++ {
			from, to := "rw-"+strconv.Itoa(i-1), "rw-"+strconv.Itoa(i)
			warm(t, http.StatusOK, func() (int, string) { return d.organizationStatus(session, from) })
			resp, err := d.as(owner).UpdateOrganizationWithResponse(context.Background(), org.Id.String(), gen.UpdateOrganizationRequest{Name: &to})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			requireStatus(t, http.StatusNotFound, "the old name", func() (int, string) { return d.organizationStatus(session, from) })
			requireStatus(t, http.StatusOK, "the new name", func() (int, string) { return d.organizationStatus(session, to) })
		}
		last := "rw-5"

		d.setRoles(owner, last, user.Id.String(), gen.OrganizationRoleAdmin)
		requireStatus(t, http.StatusConflict, "the new admin", func() (int, string) { return d.addMemberStatus(session, last, "rwmember") })
		d.setRoles(owner, last, user.Id.String())
		requireStatus(t, http.StatusForbidden, "the demoted admin", func() (int, string) { return d.addMemberStatus(session, last, "rwmember") })

		resp, err := d.as(owner).RemoveOrganizationMemberWithResponse(context.Background(), last, user.Id.String())
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, resp.StatusCode(), string(resp.Body))
		requireStatus(t, http.StatusNotFound, "the removed member", func() (int, string) { return d.organizationStatus(session, last) })

		warm(t, http.StatusOK, func() (int, string) { return d.organizationStatus(owner, last) })
		del, err := d.as(owner).DeleteOrganizationWithResponse(context.Background(), last)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, del.StatusCode(), string(del.Body))
		requireStatus(t, http.StatusNotFound, "the deleted organization", func() (int, string) { return d.organizationStatus(owner, last) })

		key := d.createToken(session, "me", gen.CreateTokenRequest{})
		keyID, _, _ := strings.Cut(key, "-")
		warm(t, http.StatusOK, func() (int, string) { return d.meStatus(key) })
		delKey, err := d.as(session).DeleteAPIKeyWithResponse(context.Background(), "me", keyID)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, delKey.StatusCode(), string(delKey.Body))
		requireStatus(t, http.StatusUnauthorized, "the deleted token", func() (int, string) { return d.meStatus(key) })

		warm(t, http.StatusOK, func() (int, string) { return d.meStatus(session) })
		out, err := d.as(session).LogoutWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, out.StatusCode(), string(out.Body))
		requireStatus(t, http.StatusUnauthorized, "the session logged out", func() (int, string) { return d.meStatus(session) })
	})
}
