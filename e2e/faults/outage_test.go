//go:build faults

package faults

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// readyzProbe asks /readyz every 50ms until stopped and keeps what it heard.
type readyzProbe struct {
	stopped chan struct{}
	done    sync.WaitGroup

	mu      sync.Mutex
	answers []probeAnswer
}

type probeAnswer struct {
	at     time.Time
	status int // 0: no answer
}

func startReadyzProbe(url string) *readyzProbe {
	p := &readyzProbe{stopped: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		for {
			select {
			case <-p.stopped:
				return
			case <-time.After(50 * time.Millisecond):
			}
			a := probeAnswer{}
			if resp, err := client.Get(url + "/readyz"); err == nil {
				_ = resp.Body.Close()
				a.status = resp.StatusCode
			}
			a.at = time.Now()
			p.mu.Lock()
			p.answers = append(p.answers, a)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *readyzProbe) stop() []probeAnswer {
	close(p.stopped)
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answers
}

// TestPostgresStoppedAndStartedUnderCreateLoad stops PostgreSQL for about three seconds under
// a load of organization creates, and starts it again, without restarting entitle.
func TestPostgresStoppedAndStartedUnderCreateLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	p := testenv.StartProcess(t, "entitle", testenv.ProcessOptions{PostgresURL: pg.URL()})
	token := p.SetupOwner(t)

	load := startCreateLoad(p.URL, token, "outage", 8)
	probe := startReadyzProbe(p.URL)
	load.waitCreated(t, 40, 20*time.Second)

	stopping := time.Now()
	pg.stop(t)
	down := time.Now() // PostgreSQL has exited: from here on nothing can reach it
	time.Sleep(3 * time.Second)
	starting := time.Now()
	pg.start(t)
	back := time.Now() // PostgreSQL accepts connections again
	t.Logf("PostgreSQL stopping at +0s, down at +%v, starting at +%v, back at +%v",
		down.Sub(stopping).Round(time.Millisecond), starting.Sub(stopping).Round(time.Millisecond), back.Sub(stopping).Round(time.Millisecond))

	// Run on until entitle creates again (or clearly does not), and a little more.
	recoveryLimit := 5 * time.Second
	var recovered time.Time
	for deadline := back.Add(2 * recoveryLimit); time.Now().Before(deadline) && recovered.IsZero(); time.Sleep(10 * time.Millisecond) {
		recovered = firstCreatedAfter(load.snapshot(), back)
	}
	time.Sleep(500 * time.Millisecond)
	outcomes := load.stop()
	readyz := probe.stop()

	var (
		created, unavailable, otherServerErrors, noAnswer int
		whileDown                                         []createOutcome
		badUnavailable, samples                           []string
	)
	for _, o := range outcomes {
		switch {
		case o.status == 0:
			noAnswer++
			samples = append(samples, "no answer: "+o.err.Error())
		case o.status == http.StatusCreated:
			created++
		case o.status == http.StatusServiceUnavailable:
			unavailable++
			if o.message != "The database is unavailable." || !isSeconds(o.retryAfter) {
				badUnavailable = append(badUnavailable, "message "+strconv.Quote(o.message)+", Retry-After "+strconv.Quote(o.retryAfter))
			}
		case o.status >= 500:
			otherServerErrors++
			samples = append(samples, strconv.Itoa(o.status)+" "+strconv.Quote(o.message))
		default:
			samples = append(samples, strconv.Itoa(o.status)+" "+strconv.Quote(o.message))
		}
		if o.at.After(down) && o.at.Before(starting) {
			whileDown = append(whileDown, o)
		}
	}
	names := organizationNames(t, p, token)
	lost := missingCreated(outcomes, names)
	recovery := "never"
	if !recovered.IsZero() {
		recovery = recovered.Sub(back).Round(time.Millisecond).String()
	}
	t.Logf("figures: %d requests, %d created (201), %d lost, %d unavailable (503), %d other 5xx, %d without an answer, %d answered while PostgreSQL was down, recovery %s after PostgreSQL was back",
		len(outcomes), created, len(lost), unavailable, otherServerErrors, noAnswer, len(whileDown), recovery)

	assert.Empty(t, lost, "every organization acknowledged with 201 is in the database")
	assert.Zero(t, otherServerErrors, "never a 5xx other than 503; e.g. %q", firstFew(samples))
	assert.Zero(t, noAnswer, "the server answers every request; e.g. %q", firstFew(samples))
	assert.Empty(t, badUnavailable, `a 503 says "The database is unavailable." with Retry-After in seconds`)
	require.NotEmpty(t, whileDown, "requests were answered while PostgreSQL was down")
	for _, o := range whileDown {
		if !assert.Equal(t, http.StatusServiceUnavailable, o.status, "while PostgreSQL is down, a create is answered 503 (%q)", o.message) {
			break
		}
	}
	readyzDown := 0
	for _, a := range readyz {
		if a.at.After(down.Add(100*time.Millisecond)) && a.at.Before(starting) {
			readyzDown++
			if !assert.Equal(t, http.StatusServiceUnavailable, a.status, "/readyz while PostgreSQL is down") {
				break
			}
		}
	}
	assert.Positive(t, readyzDown, "/readyz was asked while PostgreSQL was down")
	require.False(t, recovered.IsZero(), "entitle created an organization again after PostgreSQL came back")
	assert.LessOrEqual(t, recovered.Sub(back), recoveryLimit, "the first 201 after PostgreSQL is back")
}

// snapshot is a copy of the outcomes so far.
func (l *createLoad) snapshot() []createOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]createOutcome(nil), l.outcomes...)
}

// firstCreatedAfter is when the first 201 after t came, or zero.
func firstCreatedAfter(outcomes []createOutcome, t time.Time) time.Time {
	var first time.Time
	for _, o := range outcomes {
		if o.status == http.StatusCreated && o.at.After(t) && (first.IsZero() || o.at.Before(first)) {
			first = o.at
		}
	}
	return first
}

// isSeconds reports whether a Retry-After value is a whole number of seconds.
func isSeconds(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 0
}
