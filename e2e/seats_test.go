package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
	"entitle/store"
)

// Coder's words for seats, word for word.
const (
	msgCannotSuspendYourself = "You cannot suspend yourself."
	msgUserNotActive         = `User is not active (status = "suspended"). Contact an admin to reactivate your account.`
	msgAccountSuspended      = "Your account is suspended. Contact an admin to reactivate your account."
	// dormantAge is older than the 90 days that make a user dormant.
	dormantAge = 91 * 24 * time.Hour
)

// setStatus suspends or activates user as token's user, which must succeed, and returns the user.
func (d *deployment) setStatus(token, user string, status gen.UserStatus) gen.User {
	d.t.Helper()
	ctx := context.Background()
	var (
		code int
		body []byte
		got  *gen.User
	)
	switch status {
	case gen.UserStatusSuspended:
		resp, err := d.as(token).SuspendUserWithResponse(ctx, user)
		require.NoError(d.t, err)
		code, body, got = resp.StatusCode(), resp.Body, resp.JSON200
	case gen.UserStatusActive:
		resp, err := d.as(token).ActivateUserWithResponse(ctx, user)
		require.NoError(d.t, err)
		code, body, got = resp.StatusCode(), resp.Body, resp.JSON200
	default:
		d.t.Fatalf("no route sets status %q", status)
	}
	require.Equal(d.t, http.StatusOK, code, string(body))
	require.Equal(d.t, status, got.Status, string(body))
	return *got
}

// statusCall sends PUT /users/{user}/status/{verb} as token's user.
func (d *deployment) statusCall(token, user, verb string) reply {
	d.t.Helper()
	return d.send(http.MethodPut, "/users/"+user+"/status/"+verb, nil, withSessionHeader(token))
}

// requireSignedIn checks that token signs its user in, and returns the user as /users/me says.
func (d *deployment) requireSignedIn(token string) gen.User {
	d.t.Helper()
	resp, err := d.as(token).GetCurrentUserWithResponse(context.Background())
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

// loginReply signs in with email and password through the generated client's raw path, so a
// refusal can be inspected.
func (d *deployment) loginReply(email, password string) reply {
	d.t.Helper()
	return d.send(http.MethodPost, loginPath, mustJSON(d.t, map[string]string{"email": email, "password": password}))
}

// activeUsers is user_limit.actual as /entitlements reports it now.
func (d *deployment) activeUsers() int64 {
	d.t.Helper()
	resp, err := d.anon().GetEntitlementsWithResponse(context.Background(), nil)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	actual := resp.JSON200.Features["user_limit"].Actual
	require.NotNil(d.t, actual, "user_limit.actual is always present")
	return *actual
}

// waitForActiveUsers waits until /entitlements counts want active users: a change in usage is
// recomputed in the background, on every replica.
func (d *deployment) waitForActiveUsers(want int64, within time.Duration) {
	d.t.Helper()
	eventually(d.t, within, fmt.Sprintf("user_limit.actual = %d", want), func() (bool, string) {
		got := d.activeUsers()
		return got == want, "actual " + strconv.FormatInt(got, 10)
	})
}

// memberStatus is the status of username in the default organization's member list.
func (d *deployment) memberStatus(token, username string) gen.UserStatus {
	d.t.Helper()
	resp, err := d.as(token).ListOrganizationMembersWithResponse(context.Background(), "default", nil)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	for _, m := range *resp.JSON200 {
		if m.Username == username {
			return m.Status
		}
	}
	d.t.Fatalf("%s is not a member of the default organization", username)
	return ""
}

// age makes a user look unauthenticated for longer than the dormancy threshold, as if their
// last sign-in were 91 days ago.
func age(t *testing.T, inst *testenv.Instance, userID uuid.UUID) {
	t.Helper()
	require.NoError(t, inst.Server().Store().TouchUser(context.Background(), userID, store.Now().Add(-dormantAge)))
}

// eventually polls cond every 10ms until it holds, failing with its last description once
// within has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) time.Duration {
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
		time.Sleep(10 * time.Millisecond)
	}
}

// fastDormancy is cfg with a dormancy pass every 20ms.
func fastDormancy(cfg server.Config) server.Config {
	cfg.DormancyCheckInterval = 20 * time.Millisecond
	return cfg
}

// warnings is a logger that writes warnings and errors to w.
func warnings(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestSuspendingAndActivatingUsers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		alice, aliceToken := d.createMember(owner, "alice")
		_, bobToken := d.createMember(owner, "bob")
		d.waitForActiveUsers(3, 5*time.Second)

		t.Run("a suspended user's token is refused from the next request, and they cannot sign in", func(t *testing.T) {
			d := d.in(t)
			suspended := d.setStatus(owner, "alice", gen.UserStatusSuspended)
			assert.Equal(t, alice.Id, suspended.Id)
			assert.Equal(t, "alice", suspended.Username)

			r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(aliceToken))
			env := requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgUserNotActive)
			assert.Nil(t, env.Validations)
			r = d.send(http.MethodGet, "/organizations", nil, withBearer(aliceToken))
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgUserNotActive)

			r = d.loginReply("alice@example.com", memberPassword)
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgAccountSuspended)
			r = d.loginReply("alice@example.com", "wrong-password")
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)

			assert.Equal(t, gen.UserStatusSuspended, d.memberStatus(owner, "alice"))
			d.waitForActiveUsers(2, 5*time.Second)
		})

		t.Run("suspending a suspended user changes nothing", func(t *testing.T) {
			again := d.in(t).setStatus(owner, alice.Id.String(), gen.UserStatusSuspended)
			assert.Equal(t, gen.UserStatusSuspended, again.Status)
		})

		t.Run("activating restores the user's tokens and sign-in", func(t *testing.T) {
			d := d.in(t)
			active := d.setStatus(owner, "ALICE", gen.UserStatusActive)
			assert.Equal(t, alice.Id, active.Id)
			assert.Equal(t, gen.UserStatusActive, d.requireSignedIn(aliceToken).Status)
			d.login("alice@example.com", memberPassword)
			d.waitForActiveUsers(3, 5*time.Second)
		})

		t.Run("the owner cannot suspend themselves", func(t *testing.T) {
			d := d.in(t)
			for _, ref := range []string{"me", testenv.OwnerUsername, d.requireSignedIn(owner).Id.String()} {
				r := d.statusCall(owner, ref, "suspend")
				requireError(t, r.Status, r.Body, http.StatusBadRequest, msgCannotSuspendYourself)
			}
			assert.Equal(t, gen.UserStatusActive, d.requireSignedIn(owner).Status)
		})

		t.Run("members may not change anyone's status", func(t *testing.T) {
			d := d.in(t)
			for _, target := range []string{"alice", "me", testenv.OwnerUsername, "nobody"} {
				for _, verb := range []string{"suspend", "activate"} {
					r := d.statusCall(bobToken, target, verb)
					requireError(t, r.Status, r.Body, http.StatusForbidden, "Forbidden.")
				}
			}
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, "alice"))
		})

		t.Run("an unknown user is not found", func(t *testing.T) {
			d := d.in(t)
			for _, ref := range []string{"nobody", uuid.NewString(), "not%20a%20name"} {
				for _, verb := range []string{"suspend", "activate"} {
					r := d.statusCall(owner, ref, verb)
					requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
				}
			}
		})

		t.Run("without a session the routes are 401", func(t *testing.T) {
			r := d.in(t).send(http.MethodPut, "/users/alice/status/suspend", nil)
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
		})
	})
}

func TestASuspensionIsRefusedOnEveryReplicaWithinASecond(t *testing.T) {
	t.Parallel()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name)
	cfg := db.NewConfig(t)
	a := watch(t, testenv.Start(t, cfg))
	b := watch(t, testenv.Start(t, cfg))
	owner := a.setupOwner()
	_, carolToken := a.createMember(owner, "carol")
	b.requireSignedIn(carolToken)

	a.setStatus(owner, "carol", gen.UserStatusSuspended)
	suspendedAt := time.Now()
	took := eventually(t, time.Second, "B refusing carol's token", func() (bool, string) {
		r := b.send(http.MethodGet, "/users/me", nil, withSessionHeader(carolToken))
		return r.Status == http.StatusUnauthorized && envelope(t, r.Body).Message == msgUserNotActive, string(r.Body)
	})
	t.Logf("B refused the suspended user's token %v after the suspension (%v after the first poll)", time.Since(suspendedAt), took)

	b.setStatus(owner, "carol", gen.UserStatusActive)
	eventually(t, time.Second, "A accepting carol's token again", func() (bool, string) {
		r := a.send(http.MethodGet, "/users/me", nil, withSessionHeader(carolToken))
		return r.Status == http.StatusOK, string(r.Body)
	})
}

func TestDormantUsers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		inst := testenv.Start(t, fastDormancy(db.NewConfig(t)))
		d := watch(t, inst)
		owner := d.setupOwner()
		dora, doraToken := d.createMember(owner, "dora")
		eve, _ := d.createMember(owner, "eve")
		d.waitForActiveUsers(3, 5*time.Second)

		t.Run("a user not authenticated for 90 days turns dormant and takes no seat", func(t *testing.T) {
			d := d.in(t)
			age(t, inst, dora.Id)
			eventually(t, 5*time.Second, "dora turning dormant", func() (bool, string) {
				s := d.memberStatus(owner, "dora")
				return s == gen.UserStatusDormant, string(s)
			})
			d.waitForActiveUsers(2, 5*time.Second)
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, "eve"), "eve was seen lately")
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, testenv.OwnerUsername))
		})

		t.Run("authenticating with a token makes a dormant user active again", func(t *testing.T) {
			d := d.in(t)
			me := d.requireSignedIn(doraToken)
			assert.Equal(t, gen.UserStatusActive, me.Status, "the request that woke her already sees her active")
			assert.WithinDuration(t, time.Now(), me.LastSeenAt, time.Minute)
			d.waitForActiveUsers(3, 5*time.Second)
			// She stays active: her sign-in moved last_seen_at, so later passes leave her be.
			time.Sleep(100 * time.Millisecond)
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, "dora"))
		})

		t.Run("signing in makes a dormant user active again", func(t *testing.T) {
			d := d.in(t)
			age(t, inst, eve.Id)
			eventually(t, 5*time.Second, "eve turning dormant", func() (bool, string) {
				s := d.memberStatus(owner, "eve")
				return s == gen.UserStatusDormant, string(s)
			})
			d.waitForActiveUsers(2, 5*time.Second)
			token := d.login("eve@example.com", memberPassword)
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, "eve"))
			assert.Equal(t, gen.UserStatusActive, d.requireSignedIn(token).Status)
			d.waitForActiveUsers(3, 5*time.Second)
		})

		t.Run("a suspended user is never made dormant, nor woken by the pass", func(t *testing.T) {
			d := d.in(t)
			d.setStatus(owner, "eve", gen.UserStatusSuspended)
			age(t, inst, eve.Id)
			time.Sleep(100 * time.Millisecond) // several passes
			assert.Equal(t, gen.UserStatusSuspended, d.memberStatus(owner, "eve"))
			d.setStatus(owner, "eve", gen.UserStatusActive)
		})
	})
}

func TestTwoReplicasMarkingDormantUsersAtOnceDoNotConflict(t *testing.T) {
	t.Parallel()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name)
	issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := fastDormancy(db.NewConfig(t))
	cfg.DormancyCheckInterval = 5 * time.Millisecond // the two replicas' passes overlap constantly
	cfg.LicenseKeysDir = issuer.KeysDir
	logs := &testenv.LockedBuffer{}
	a := watch(t, testenv.StartWithLogger(t, cfg, warnings(logs)))
	b := watch(t, testenv.StartWithLogger(t, cfg, warnings(logs)))
	owner := a.setupOwner()
	a.addAuditLicense(owner, issuer)
	b.waitForAuditLog(true)

	const n = 8
	var ids []uuid.UUID
	for i := range n {
		u, _ := a.createMember(owner, fmt.Sprintf("sleeper-%d", i))
		ids = append(ids, u.Id)
	}
	a.waitForActiveUsers(n+1, 5*time.Second)
	for _, id := range ids {
		age(t, a.inst, id)
	}
	a.waitForActiveUsers(1, 5*time.Second)
	b.waitForActiveUsers(1, 5*time.Second)

	// Each user turned dormant exactly once, whichever replica marked them.
	page := b.auditLogs(owner, "resource_type:user action:write")
	targets := map[string]int{}
	for _, e := range page.AuditLogs {
		targets[e.ResourceTarget]++
		assert.Nil(t, e.User, "the deployment, not a person, marks users dormant")
		assert.Equal(t, gen.AuditDiffField{Old: "active", New: "dormant"}, e.Diff["status"])
	}
	assert.Len(t, targets, n)
	for target, count := range targets {
		assert.Equal(t, 1, count, "%s recorded as turning dormant %d times", target, count)
	}
	assert.NotContains(t, logs.String(), "dormant", "neither replica logged a failed pass")
}

func TestTheSeatHighWaterMark(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		inst := testenv.Start(t, fastDormancy(db.NewConfig(t)))
		d := watch(t, inst)
		owner := d.setupOwner()
		mark := func() store.SeatCounts {
			c, err := inst.Server().Store().SeatCounts(context.Background())
			require.NoError(t, err)
			return c
		}
		var members []gen.User
		for i := range 3 {
			u, _ := d.createMember(owner, fmt.Sprintf("m%d", i))
			members = append(members, u)
		}
		d.waitForActiveUsers(4, 5*time.Second)
		eventually(t, 5*time.Second, "the mark reaching 4", func() (bool, string) {
			return mark().HighWaterMark == 4, fmt.Sprintf("%+v", mark())
		})
		four := mark()
		assert.WithinDuration(t, time.Now(), four.HighWaterAt, 10*time.Second)
		requireGauges(t, inst, map[string]float64{
			`entitle_users{status="active"}`:    4,
			`entitle_users{status="dormant"}`:   0,
			`entitle_users{status="suspended"}`: 0,
			`entitle_seats_high_water_mark`:     4,
		})

		t.Run("the mark never falls when users are suspended or turn dormant", func(t *testing.T) {
			d := d.in(t)
			d.setStatus(owner, "m0", gen.UserStatusSuspended)
			d.setStatus(owner, "m1", gen.UserStatusSuspended)
			age(t, inst, members[2].Id)
			d.waitForActiveUsers(1, 5*time.Second)
			got := mark()
			assert.Equal(t, store.SeatCounts{Active: 1, Dormant: 1, Suspended: 2, HighWaterMark: 4, HighWaterAt: four.HighWaterAt}, got)
			requireGauges(t, inst, map[string]float64{
				`entitle_users{status="active"}`:    1,
				`entitle_users{status="dormant"}`:   1,
				`entitle_users{status="suspended"}`: 2,
				`entitle_seats_high_water_mark`:     4,
			})
		})

		t.Run("reaching the mark again does not move it; passing it does", func(t *testing.T) {
			d := d.in(t)
			d.setStatus(owner, "m0", gen.UserStatusActive)
			d.setStatus(owner, "m1", gen.UserStatusActive)
			d.createMember(owner, "m3")
			d.waitForActiveUsers(4, 5*time.Second)
			assert.Equal(t, four.HighWaterAt, mark().HighWaterAt, "four at once is no new record")

			before := time.Now()
			d.createMember(owner, "m4")
			d.waitForActiveUsers(5, 5*time.Second)
			eventually(t, 5*time.Second, "the mark reaching 5", func() (bool, string) {
				return mark().HighWaterMark == 5, fmt.Sprintf("%+v", mark())
			})
			assert.True(t, mark().HighWaterAt.After(before.Add(-time.Millisecond)), "the new mark is dated when it was reached")
			requireGauges(t, inst, map[string]float64{`entitle_seats_high_water_mark`: 5})
		})
	})
}

// requireGauges scrapes the server's metrics and checks the named series' values.
func requireGauges(t *testing.T, inst *testenv.Instance, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for series, v := range scrapeMetrics(t, inst) {
		if _, wanted := want[series]; wanted {
			got[series] = v
		}
	}
	assert.Equal(t, want, got)
}

// scrapeMetrics returns every series of the server's metrics, by name and labels as written.
func scrapeMetrics(t *testing.T, inst *testenv.Instance) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	inst.Server().MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	got := map[string]float64{}
	scanner := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, line)
		got[series] = v
	}
	return got
}
