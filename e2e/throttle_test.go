package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// The contract's login limits: failures per email and per client address within the window.
const (
	failuresPerEmail   = 10
	failuresPerAddress = 50
	throttleWindow     = 15 * time.Minute
)

// msgThrottledPattern is the 429's message; the seconds vary with the window's start.
var msgThrottledPattern = regexp.MustCompile(`^Too many failed login attempts\. Try again in (1 second|\d+ seconds)\.$`)

// attemptLogin signs in through client and returns whatever the server answered.
func attemptLogin(t *testing.T, client *gen.ClientWithResponses, email, password string) *gen.LoginWithPasswordResult {
	t.Helper()
	resp, err := client.LoginWithPasswordWithResponse(context.Background(),
		gen.LoginWithPasswordRequest{Email: gen.Email(email), Password: password})
	require.NoError(t, err)
	return resp
}

// failLogins makes n sign-ins with a wrong password and requires each to be an ordinary 401.
func failLogins(t *testing.T, client *gen.ClientWithResponses, email string, n int) {
	t.Helper()
	for i := range n {
		resp := attemptLogin(t, client, email, "wrong-password")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode(), "failure %d of %s: %s", i+1, email, resp.Body)
	}
}

// requireThrottled checks a 429 in the error envelope whose Retry-After is a whole number of
// seconds within the window, and returns that number.
func requireThrottled(t *testing.T, resp *gen.LoginWithPasswordResult, window time.Duration) int {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode(), "body: %s", resp.Body)
	env := envelope(t, resp.Body)
	assert.Regexp(t, msgThrottledPattern, env.Message)
	retry, err := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be whole seconds: %q", resp.HTTPResponse.Header.Get("Retry-After"))
	assert.GreaterOrEqual(t, retry, 1)
	assert.LessOrEqual(t, retry, int(window/time.Second))
	assert.Contains(t, env.Message, fmt.Sprintf(" %d second", retry), "the message and Retry-After agree")
	assert.Empty(t, resp.HTTPResponse.Cookies(), "a throttled sign-in sets no cookie")
	return retry
}

// clientFrom is an unauthenticated client whose connections leave from localIP, another
// loopback address, so that the server sees a different client address.
func clientFrom(t *testing.T, inst *testenv.Instance, localIP string) *gen.ClientWithResponses {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	transport := &http.Transport{DialContext: dialer.DialContext}
	// Registered after the server started, so it runs before the server's drain.
	t.Cleanup(transport.CloseIdleConnections)
	client, err := gen.NewClientWithResponses(inst.APIURL(),
		gen.WithHTTPClient(testenv.NewValidatingDoer(t, &http.Client{Transport: transport})))
	require.NoError(t, err)
	return client
}

func TestTenFailedLoginsForOneEmailThrottleIt(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		d.createMember(ownerToken, "alice")
		client := d.anon()

		failLogins(t, client, testenv.OwnerEmail, failuresPerEmail)
		right := attemptLogin(t, client, testenv.OwnerEmail, testenv.OwnerPassword)
		requireThrottled(t, right, throttleWindow)
		wrong := attemptLogin(t, client, testenv.OwnerEmail, "wrong-password")
		requireThrottled(t, wrong, throttleWindow)
		shouted := attemptLogin(t, client, strings.ToUpper(testenv.OwnerEmail), testenv.OwnerPassword)
		requireThrottled(t, shouted, throttleWindow)

		// Refused attempts check no password, so they are no failures: enough of them to
		// reach the address's limit if they counted leave the address free.
		for range failuresPerAddress - failuresPerEmail {
			requireThrottled(t, attemptLogin(t, client, testenv.OwnerEmail, "wrong-password"), throttleWindow)
		}
		d.login("alice@example.com", memberPassword) // another email from the same address
	})
}

func TestASuccessfulLoginResetsTheEmailsCount(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.setupOwner()
		client := d.anon()

		failLogins(t, client, testenv.OwnerEmail, failuresPerEmail-1)
		d.login(testenv.OwnerEmail, testenv.OwnerPassword)
		failLogins(t, client, testenv.OwnerEmail, failuresPerEmail-1)
		d.login(testenv.OwnerEmail, testenv.OwnerPassword)
	})
}

func TestUnknownEmailsAreThrottledLikeKnownOnes(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.setupOwner()
		client := d.anon()

		failLogins(t, client, testenv.OwnerEmail, failuresPerEmail)
		failLogins(t, client, "nobody@example.com", failuresPerEmail)
		known := attemptLogin(t, client, testenv.OwnerEmail, "wrong-password")
		unknown := attemptLogin(t, client, "nobody@example.com", "wrong-password")
		requireThrottled(t, known, throttleWindow)
		requireThrottled(t, unknown, throttleWindow)

		withoutSeconds := func(body []byte) string { return regexp.MustCompile(`\d+`).ReplaceAllString(string(body), "N") }
		assert.Equal(t, withoutSeconds(known.Body), withoutSeconds(unknown.Body), "the two refusals must be indistinguishable")
		assert.ElementsMatch(t, headerNames(known.HTTPResponse.Header), headerNames(unknown.HTTPResponse.Header))
	})
}

func headerNames(h http.Header) []string {
	var names []string
	for name := range h {
		names = append(names, name)
	}
	return names
}

func TestFiftyFailedLoginsFromOneAddressThrottleIt(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.setupOwner()

		// Each attempt claims another origin in the headers a proxy would set: a client must
		// not escape the limit by forging them.
		forging := func(i int) *gen.ClientWithResponses {
			c, err := gen.NewClientWithResponses(d.inst.APIURL(), gen.WithHTTPClient(d),
				gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
					req.Header.Set("X-Real-IP", fmt.Sprintf("198.51.100.%d", i))
					return nil
				}))
			require.NoError(t, err)
			return c
		}
		for i := range failuresPerAddress - 1 {
			failLogins(t, forging(i), fmt.Sprintf("user%d@example.com", i), 1)
		}
		// A success from the address neither counts as a failure nor clears the address's
		// count: one account's owner cannot reset the limit on guesses against the others.
		d.login(testenv.OwnerEmail, testenv.OwnerPassword)
		failLogins(t, forging(failuresPerAddress), "last@example.com", 1)
		requireThrottled(t, attemptLogin(t, forging(99), testenv.OwnerEmail, testenv.OwnerPassword), throttleWindow)
		requireThrottled(t, attemptLogin(t, d.anon(), "someone-new@example.com", "wrong-password"), throttleWindow)

		// The owner's email has no failures of its own: from another address it signs in.
		ok := attemptLogin(t, clientFrom(t, d.inst, "127.0.0.2"), testenv.OwnerEmail, testenv.OwnerPassword)
		require.Equal(t, http.StatusCreated, ok.StatusCode(), string(ok.Body))
		d.remember(ok.JSON201.SessionToken)
	})
}

func TestConcurrentFailuresNeverGetMoreThanTenGuesses(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		closeSpareConnectionsAtEnd(t)
		d.setupOwner()
		client := d.anon()

		const attempts = 3 * failuresPerEmail
		outcomes := race(attempts, func(int) outcome {
			resp, err := client.LoginWithPasswordWithResponse(context.Background(),
				gen.LoginWithPasswordRequest{Email: testenv.OwnerEmail, Password: "wrong-password"})
			if err != nil {
				return outcome{err: err}
			}
			return outcome{status: resp.StatusCode(), body: string(resp.Body)}
		})
		counts := map[int]int{}
		for i, o := range outcomes {
			require.NoError(t, o.err, "request %d", i)
			counts[o.status]++
		}
		assert.Equal(t, map[int]int{http.StatusUnauthorized: failuresPerEmail, http.StatusTooManyRequests: attempts - failuresPerEmail}, counts,
			"exactly ten passwords are tried; every other attempt is refused unchecked")
	})
}

// Replicas run on PostgreSQL: a server holds its SQLite data directory alone.
func TestReplicasCountFailedLoginsTogether(t *testing.T) {
	t.Parallel()
	cfg := testenv.Databases()[1].NewConfig(t)
	require.NotEmpty(t, cfg.PostgresURL, "testenv.Databases()[1] must be PostgreSQL")
	first := watch(t, testenv.Start(t, cfg))
	second := watch(t, testenv.Start(t, cfg))
	first.setupOwner()

	failLogins(t, first.anon(), testenv.OwnerEmail, failuresPerEmail/2)
	failLogins(t, second.anon(), testenv.OwnerEmail, failuresPerEmail/2)
	requireThrottled(t, attemptLogin(t, first.anon(), testenv.OwnerEmail, testenv.OwnerPassword), throttleWindow)
	requireThrottled(t, attemptLogin(t, second.anon(), testenv.OwnerEmail, testenv.OwnerPassword), throttleWindow)
}

func TestTheThrottleLiftsWhenTheWindowHasPassed(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		const window = 2 * time.Second
		cfg := db.NewConfig(t)
		cfg.LoginThrottleWindow = window
		d := watch(t, testenv.Start(t, cfg))
		d.setupOwner()
		client := d.anon()

		failLogins(t, client, testenv.OwnerEmail, failuresPerEmail)
		retry := requireThrottled(t, attemptLogin(t, client, testenv.OwnerEmail, testenv.OwnerPassword), window)
		time.Sleep(time.Duration(retry) * time.Second)
		d.login(testenv.OwnerEmail, testenv.OwnerPassword)

		// Counters of windows that have passed are deleted, not kept for ever: after the
		// window, one more failure leaves only its own email's row and the address's row.
		failLogins(t, client, "a@example.com", 1)
		failLogins(t, client, "b@example.com", 1)
		time.Sleep(window + 100*time.Millisecond)
		failLogins(t, client, "c@example.com", 1)
		sqlDB, err := d.inst.Server().Store().SQLDB()
		require.NoError(t, err)
		var rows int
		require.NoError(t, sqlDB.QueryRowContext(context.Background(), "SELECT count(*) FROM login_throttles").Scan(&rows))
		assert.Equal(t, 2, rows, "expired counters are deleted")
	})
}

func TestFailedAndThrottledLoginsAreLoggedWithoutSecrets(t *testing.T) {
	cfg := testenv.Databases()[0].NewConfig(t)
	var logs testenv.LockedBuffer
	inst := testenv.StartWithLogger(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	d := watch(t, inst)
	d.setupOwner()
	client := d.anon()
	const secret = "wrong-password-do-not-log"

	for range failuresPerEmail {
		require.Equal(t, http.StatusUnauthorized, attemptLogin(t, client, testenv.OwnerEmail, secret).StatusCode())
	}
	requireThrottled(t, attemptLogin(t, client, testenv.OwnerEmail, secret), throttleWindow)

	var failed, throttled []string
	for _, line := range strings.Split(logs.String(), "\n") {
		assert.NotContains(t, line, secret, "a password is never logged")
		assert.NotContains(t, line, testenv.OwnerEmail, "an email is logged only as its digest")
		switch {
		case strings.Contains(line, `msg="login failed"`):
			failed = append(failed, line)
		case strings.Contains(line, `msg="login throttled"`):
			throttled = append(throttled, line)
		}
	}
	require.Len(t, failed, failuresPerEmail, logs.String())
	require.Len(t, throttled, 1, logs.String())
	for _, line := range append(failed, throttled...) {
		assert.Contains(t, line, "level=WARN")
		assert.Contains(t, line, "client_address=127.0.0.1 ")
		assert.Regexp(t, `email_sha256=[0-9a-f]{64} `, line)
	}
	assert.Contains(t, failed[0], "email_failures=1 address_failures=1")
	assert.Contains(t, failed[9], "email_failures=10 address_failures=10")
	assert.Contains(t, throttled[0], "email_failures=10 address_failures=10")
	assert.Contains(t, throttled[0], "throttled_by=email")
}
