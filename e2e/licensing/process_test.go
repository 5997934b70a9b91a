package licensing

import (
	"net/http"
	"os"
	"testing"
	"time"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveEntitleBinary()
	os.Exit(code)
}

// replica is one `entitle server` process on a shared PostgreSQL database.
type replica struct {
	name   string
	url    string
	output *testenv.LockedBuffer
	// transport is the replica's own, so its idle connections can be closed before SIGTERM
	// (a parked connection would hold up the graceful drain).
	transport *http.Transport
	// client is unauthenticated and checks every response against openapi.yaml.
	client *gen.ClientWithResponses
	t      *testing.T
	// process and exited let a test stop the replica early (replica_lifecycle_test.go); exited
	// holds the exit error for whoever reads it next, so it is put back after reading.
	process *os.Process
	exited  chan error
}

// startReplica runs `entitle server` on postgresURL until the test ends, then stops it with
// SIGTERM and requires a clean exit 0.
func startReplica(t *testing.T, name, postgresURL, keysDir string) *replica {
	t.Helper()
	return replicaOf(t, testenv.StartProcess(t, name, testenv.ProcessOptions{PostgresURL: postgresURL, KeysDir: keysDir}))
}

// replicaOf wraps a started process as a replica.
func replicaOf(t *testing.T, p *testenv.Process) *replica {
	exited := make(chan error, 1)
	go func() {
		// Ends when the process exits, which the cleanup StartProcess registered makes sure of.
		<-p.Exited()
		exited <- p.ExitErr()
	}()
	return &replica{
		name: p.Name, url: p.URL, output: p.Output, transport: p.Transport, client: p.Client, t: t,
		process: p.OS(), exited: exited,
	}
}

// withToken is a client of r that signs in with token.
func (r *replica) withToken(t *testing.T, token string) *gen.ClientWithResponses {
	t.Helper()
	return testenv.NewClient(t, r.url, &http.Client{Transport: r.transport, Timeout: 10 * time.Second}, token)
}

// setupOwner creates the first user through r and signs in.
func (r *replica) setupOwner(t *testing.T) string {
	t.Helper()
	return testenv.SetupOwnerThrough(t, r.client)
}
