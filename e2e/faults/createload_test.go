//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// createOutcome is one POST /organizations and how it ended.
type createOutcome struct {
	name string
	// at is when the answer (or the error) came.
	at time.Time
	// status is 0 when no answer came (err says why).
	status     int
	message    string
	retryAfter string
	err        error
}

// createLoad is a set of clients creating organizations, each with a name of its own, in a
// loop until stop; every outcome is kept.
type createLoad struct {
	url, token string
	client     *http.Client
	stopped    chan struct{}
	wg         sync.WaitGroup

	mu       sync.Mutex
	outcomes []createOutcome
}

// startCreateLoad starts clients clients creating organizations on url as the owner (token);
// prefix keeps the names of one load apart from another's.
func startCreateLoad(url, token, prefix string, clients int) *createLoad {
	l := &createLoad{
		url:     url,
		token:   token,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 15 * time.Second},
		stopped: make(chan struct{}),
	}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stopped:
					return
				default:
				}
				o := l.create(fmt.Sprintf("%s-%d-%d", prefix, c, n))
				l.mu.Lock()
				l.outcomes = append(l.outcomes, o)
				l.mu.Unlock()
				if o.status != http.StatusCreated {
					// While the database or the server is away, do not spin.
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

func (l *createLoad) create(name string) createOutcome {
	body, _ := json.Marshal(gen.CreateOrganizationRequest{Name: name})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, l.url+server.APIPrefix+"/organizations", bytes.NewReader(body))
	if err != nil {
		return createOutcome{name: name, at: time.Now(), err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(server.SessionHeader, l.token)
	resp, err := l.client.Do(req)
	if err != nil {
		return createOutcome{name: name, at: time.Now(), err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	o := createOutcome{name: name, at: time.Now(), status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), err: err}
	var envelope gen.Response
	if json.Unmarshal(raw, &envelope) == nil {
		o.message = envelope.Message
	}
	return o
}

// stop ends the load and returns every outcome.
func (l *createLoad) stop() []createOutcome {
	close(l.stopped)
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcomes
}

// count is how many outcomes so far have the given status.
func (l *createLoad) count(status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.outcomes {
		if o.status == status {
			n++
		}
	}
	return n
}

// waitCreated waits until the load has created n more organizations than it had, or fails.
func (l *createLoad) waitCreated(t *testing.T, n int, within time.Duration) {
	t.Helper()
	want := l.count(http.StatusCreated) + n
	deadline := time.Now().Add(within)
	for l.count(http.StatusCreated) < want {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d organizations created within %v", n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// organizationNames lists every organization p shows the owner (GET /organizations without
// a limit returns them all).
func organizationNames(t *testing.T, p *testenv.Process, token string) map[string]bool {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, p.URL+server.APIPrefix+"/organizations", nil)
	require.NoError(t, err)
	req.Header.Set(server.SessionHeader, token)
	resp, err := testenv.NewValidatingDoer(t, p.HTTPClient).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var organizations []gen.Organization
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&organizations))
	names := make(map[string]bool, len(organizations))
	for _, o := range organizations {
		names[o.Name] = true
	}
	return names
}

// missingCreated lists the organizations acknowledged with 201 that names lacks.
func missingCreated(outcomes []createOutcome, names map[string]bool) []string {
	var missing []string
	for _, o := range outcomes {
		if o.status == http.StatusCreated && !names[o.name] {
			missing = append(missing, o.name)
		}
	}
	return missing
}
