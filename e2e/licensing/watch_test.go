package licensing

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// watchResult is one GET /entitlements answer, gathered so that tests can wait for it on
// another goroutine and assert on their own.
type watchResult struct {
	status int
	etag   string
	// closing is the server's Connection: close (Go's client takes the header out of Header).
	closing bool
	body    []byte
	elapsed time.Duration
	err     error
}

// entitlementsEntity gives the entitlements in a 200 body, and fails on anything else.
func (r watchResult) entitlements(t *testing.T) gen.Entitlements {
	t.Helper()
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var ent gen.Entitlements
	require.NoError(t, json.Unmarshal(r.body, &ent), string(r.body))
	return ent
}

// getEntitlements sends GET /entitlements with If-None-Match (when not empty) and ?wait= (when
// not empty) through doer; it never fails the test itself, so it can run on any goroutine.
func getEntitlements(doer gen.HttpRequestDoer, baseURL, ifNoneMatch, wait string) watchResult {
	u := baseURL + server.APIPrefix + "/entitlements"
	if wait != "" {
		u += "?wait=" + url.QueryEscape(wait)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return watchResult{err: err}
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	start := time.Now()
	resp, err := doer.Do(req)
	if err != nil {
		return watchResult{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return watchResult{status: resp.StatusCode, etag: resp.Header.Get("ETag"), closing: resp.Close, body: body, elapsed: time.Since(start), err: err}
}

// watchInBackground starts a waiting GET and returns where its answer will arrive.
func watchInBackground(doer gen.HttpRequestDoer, baseURL, etag, wait string) <-chan watchResult {
	done := make(chan watchResult, 1)
	go func() { done <- getEntitlements(doer, baseURL, etag, wait) }()
	return done
}

// currentETag is the tag GET /entitlements answers with now.
func currentETag(t *testing.T, inst *testenv.Instance) string {
	t.Helper()
	r := getEntitlements(inst.HTTP, inst.URL, "", "")
	r.entitlements(t)
	require.NotEmpty(t, r.etag, "every 200 carries an ETag")
	return r.etag
}

// awaitAnswer waits for a background watch's answer, at most within.
func awaitAnswer(t *testing.T, answers <-chan watchResult, within time.Duration, what string) watchResult {
	t.Helper()
	select {
	case r := <-answers:
		require.NoError(t, r.err, what)
		return r
	case <-time.After(within):
		t.Fatalf("%s: no answer within %v", what, within)
		return watchResult{}
	}
}

// requireStillWaiting checks that a background watch has not answered yet.
func requireStillWaiting(t *testing.T, answers <-chan watchResult, what string) {
	t.Helper()
	select {
	case r := <-answers:
		t.Fatalf("%s answered early: %d %s", what, r.status, r.body)
	default:
	}
}

func TestEntitlementsCarryAnETag(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()
		// The owner's sign-up is counted by a recompute that runs on its own; the tag is read after it.
		waitForActualUsers(t, d.inst, 1)
		tag := currentETag(t, d.inst)

		t.Run("a tag that still matches answers 304 without a body, in each form If-None-Match takes", func(t *testing.T) {
			for _, header := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
				r := getEntitlements(d.inst.HTTP, d.inst.URL, header, "")
				require.NoError(t, r.err)
				assert.Equal(t, http.StatusNotModified, r.status, header)
				assert.Empty(t, r.body, header)
				assert.Equal(t, tag, r.etag, header)
			}
			r := getEntitlements(d.inst.HTTP, d.inst.URL, `"other"`, "")
			r.entitlements(t)
			assert.Equal(t, tag, r.etag)
		})

		t.Run("a recompute that changes nothing keeps the tag", func(t *testing.T) {
			resp, err := d.owner.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, tag, currentETag(t, d.inst))
		})

		t.Run("a change gives a new tag, and the old one no longer matches", func(t *testing.T) {
			d.upload(t, d.issuer.Sign(t, claims(withFeatures("scim"))))
			changed := currentETag(t, d.inst)
			assert.NotEqual(t, tag, changed)
			r := getEntitlements(d.inst.HTTP, d.inst.URL, tag, "")
			assert.Equal(t, gen.Entitlement("entitled"), r.entitlements(t).Features["scim"].Entitlement)
			tag = changed
		})

		t.Run("a wait with no change ends with 304 once its time is up", func(t *testing.T) {
			r := getEntitlements(d.inst.HTTP, d.inst.URL, tag, "1s")
			require.NoError(t, r.err)
			assert.Equal(t, http.StatusNotModified, r.status, string(r.body))
			assert.Equal(t, tag, r.etag)
			assert.GreaterOrEqual(t, r.elapsed, time.Second)
			assert.Less(t, r.elapsed, 2*time.Second)
		})

		t.Run("a wait takes a number of seconds too, and ends at once when the tag does not match", func(t *testing.T) {
			r := getEntitlements(d.inst.HTTP, d.inst.URL, `"stale"`, "30")
			r.entitlements(t)
			assert.Less(t, r.elapsed, time.Second)
			r = getEntitlements(d.inst.HTTP, d.inst.URL, "", "30s")
			r.entitlements(t)
			assert.Less(t, r.elapsed, time.Second, "without If-None-Match there is nothing to wait for")
		})

		t.Run("a wait wakes within a second of a change on the same server", func(t *testing.T) {
			answers := watchInBackground(d.inst.HTTP, d.inst.URL, tag, "30s")
			time.Sleep(300 * time.Millisecond)
			requireStillWaiting(t, answers, "the watch")
			d.upload(t, d.issuer.Sign(t, claims(withFeatures("appearance"))))
			changedAt := time.Now()
			r := awaitAnswer(t, answers, time.Second, "the watch after the upload")
			t.Logf("woke %v after the upload answered", time.Since(changedAt))
			ent := r.entitlements(t)
			assert.Equal(t, gen.Entitlement("entitled"), ent.Features["appearance"].Entitlement)
			assert.NotEqual(t, tag, r.etag)
			assert.Equal(t, currentETag(t, d.inst), r.etag)
			tag = r.etag
		})

		t.Run("a bad wait is 400 naming the query parameter", func(t *testing.T) {
			for _, wait := range []string{"61s", "2m", "-1s", "soon", "1.5.s", "1e400"} {
				r := getEntitlements(d.inst.HTTP, d.inst.URL, tag, wait)
				require.NoError(t, r.err)
				require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", wait, r.body)
				env := envelope(t, r.body)
				assert.Equal(t, "Query parameters have invalid values.", env.Message)
				require.NotNil(t, env.Validations, string(r.body))
				require.Len(t, *env.Validations, 1)
				assert.Equal(t, "wait", (*env.Validations)[0].Field)
				assert.Contains(t, (*env.Validations)[0].Detail, "60s", wait)
			}
		})

		t.Run("waiters hold no database connection, and the server answers others meanwhile", func(t *testing.T) {
			sqlDB, err := d.inst.Server().Store().SQLDB()
			require.NoError(t, err)
			var waiting []<-chan watchResult
			for range 50 {
				waiting = append(waiting, watchInBackground(d.inst.HTTP, d.inst.URL, tag, "3s"))
			}
			time.Sleep(500 * time.Millisecond)
			inUse := 0
			for range 5 {
				inUse = max(inUse, sqlDB.Stats().InUse)
				resp, err := d.owner.GetLicensesWithResponse(ctx, nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
				time.Sleep(50 * time.Millisecond)
			}
			assert.LessOrEqual(t, inUse, 1, "50 waiters, at most one connection in use at any look (a heartbeat's)")
			for _, answers := range waiting {
				r := awaitAnswer(t, answers, 5*time.Second, "a waiter")
				assert.Equal(t, http.StatusNotModified, r.status)
			}
		})
	})
}

func TestAWatchSeesTheGracePeriodStart(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		// JWT times are whole seconds; this lands 2 to 3 seconds from now.
		paidEnd := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
		d.upload(t, d.issuer.Sign(t, claims(withFeatures("audit_log"), func(c *license.Claims) {
			c.LicenseExpires = jwt.NewNumericDate(paidEnd)
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})))
		first := getEntitlements(d.inst.HTTP, d.inst.URL, "", "")
		require.Equal(t, gen.Entitlement("entitled"), first.entitlements(t).Features["audit_log"].Entitlement)

		r := getEntitlements(d.inst.HTTP, d.inst.URL, first.etag, "10s")
		answered := time.Now()
		ent := r.entitlements(t)
		assert.Equal(t, gen.Entitlement("grace_period"), ent.Features["audit_log"].Entitlement)
		assert.False(t, answered.Before(paidEnd), "answered at %v, before license_expires %v", answered, paidEnd)
		assert.Less(t, answered.Sub(paidEnd), time.Second, "the watch wakes within a second of the flip")
		t.Logf("the watch woke %v after license_expires", answered.Sub(paidEnd))
	})
}

func TestAWatchWakesOnAChangeMadeThroughAnotherReplica(t *testing.T) {
	t.Parallel()
	is := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := testenv.Databases()[1].NewConfig(t) // PostgreSQL: replicas share it
	cfg.LicenseKeysDir = is.KeysDir
	watched := testenv.Start(t, cfg)
	other := testenv.Start(t, cfg)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	token := other.SetupOwner(t)
	tag := currentETag(t, watched)

	answers := watchInBackground(watched.HTTP, watched.URL, tag, "30s")
	time.Sleep(300 * time.Millisecond)
	requireStillWaiting(t, answers, "the watch")
	resp, err := other.ClientWithToken(t, token).AddLicenseWithResponse(context.Background(),
		gen.AddLicenseRequest{License: is.Sign(t, claims(withFeatures("scim")))})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	changedAt := time.Now()

	r := awaitAnswer(t, answers, time.Second, "the watch on the other replica")
	t.Logf("woke %v after the upload on the other replica answered", time.Since(changedAt))
	assert.Equal(t, gen.Entitlement("entitled"), r.entitlements(t).Features["scim"].Entitlement)
}

func TestStoppingReleasesWaitersAtOnce(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		inst := testenv.StartOn(t, db)
		tag := currentETag(t, inst)
		client := &http.Client{Transport: &http.Transport{}}
		var waiting []<-chan watchResult
		for range 3 {
			waiting = append(waiting, watchInBackground(client, inst.URL, tag, "60s"))
		}
		time.Sleep(300 * time.Millisecond)
		for _, answers := range waiting {
			requireStillWaiting(t, answers, "a waiter")
		}

		start := time.Now()
		inst.Stop(t)
		stopped := time.Since(start)
		t.Logf("stopped in %v with 3 waiters", stopped)
		// Well under the drain's bound, which a waiter holding the drain up would reach; the
		// margin is for a loaded machine.
		assert.Less(t, stopped, inst.Config.ShutdownTimeout/2, "the drain does not wait for waiters (its bound is %v)", inst.Config.ShutdownTimeout)
		for _, answers := range waiting {
			r := awaitAnswer(t, answers, time.Second, "a waiter at stop")
			assert.Equal(t, http.StatusNotModified, r.status, "a waiter is answered, not cut: %s", r.body)
			assert.Equal(t, tag, r.etag)
			assert.True(t, r.closing, "answered during the drain, with Connection: close")
		}
	})
}

func TestAWaitOutlastsTheServersWriteTimeout(t *testing.T) {
	t.Parallel()
	inst := testenv.StartOn(t, testenv.Databases()[0])
	tag := currentETag(t, inst)
	// The same handler behind a server whose write timeout is shorter than the wait, as 60 s
	// is to a 60 s wait on the real one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: inst.Server().Handler(), WriteTimeout: 300 * time.Millisecond, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	client := &http.Client{Transport: &http.Transport{}}
	r := getEntitlements(client, "http://"+ln.Addr().String(), tag, "1s")
	require.NoError(t, r.err, "the answer arrives after the write timeout")
	assert.Equal(t, http.StatusNotModified, r.status)
	assert.GreaterOrEqual(t, r.elapsed, time.Second)
}
