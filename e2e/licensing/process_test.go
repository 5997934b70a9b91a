package licensing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// binDir holds the entitle binary built for this test run; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// entitleBinary builds ./cmd/entitle once per test run, exactly as an operator would run it.
func entitleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "entitle-licensing-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "entitle")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/entitle")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/entitle: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// moduleRoot walks up from the working directory (the package's directory under go test) to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// replica is one `entitle server` process.
type replica struct {
	name   string
	url    string
	output *testenv.LockedBuffer
	// transport is the replica's own, so its idle connections can be closed before SIGTERM
	// (a parked connection would hold up the graceful drain).
	transport *http.Transport
	// Client is unauthenticated and checks every response against openapi.yaml.
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
	bin := entitleBinary(t)
	addr := testenv.FreeAddress(t)
	r := &replica{name: name, url: "http://" + addr, output: &testenv.LockedBuffer{}, transport: &http.Transport{}, t: t}
	cmd := exec.Command(bin, "server",
		"--postgres-url", postgresURL,
		"--data-dir", t.TempDir(),
		"--license-keys-dir", keysDir,
		"--http-address", addr,
	)
	// The flags say everything; a stray ENTITLE_* variable from the environment must not.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENTITLE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout = r.output
	cmd.Stderr = r.output
	require.NoError(t, cmd.Start(), "start %s", name)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r.process, r.exited = cmd.Process, exited

	t.Cleanup(func() {
		r.transport.CloseIdleConnections()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("replica %s did not exit 0 after SIGTERM: %v\noutput:\n%s", name, err, r.output.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed: its exit error says only that
			t.Errorf("replica %s did not exit within 30s of SIGTERM\noutput:\n%s", name, r.output.String())
		}
	})

	httpClient := &http.Client{Transport: r.transport, Timeout: 10 * time.Second}
	client, err := gen.NewClientWithResponses(r.url+server.APIPrefix,
		gen.WithHTTPClient(testenv.NewValidatingDoer(t, httpClient)))
	require.NoError(t, err)
	r.client = client

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("replica %s exited before serving: %v\noutput:\n%s", name, err, r.output.String())
		default:
		}
		resp, err := httpClient.Get(r.url + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s: GET /healthz was not 200 within 30s (last error %v)\noutput:\n%s", name, err, r.output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withToken is a client of r that signs in with token.
func (r *replica) withToken(t *testing.T, token string) *gen.ClientWithResponses {
	t.Helper()
	httpClient := &http.Client{Transport: r.transport, Timeout: 10 * time.Second}
	client, err := gen.NewClientWithResponses(r.url+server.APIPrefix,
		gen.WithHTTPClient(testenv.NewValidatingDoer(t, httpClient)),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set(server.SessionHeader, token)
			return nil
		}))
	require.NoError(t, err)
	return client
}

// setupOwner creates the first user through r and signs in.
func (r *replica) setupOwner(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	created, err := r.client.CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
		Email: testenv.OwnerEmail, Username: testenv.OwnerUsername, Password: testenv.OwnerPassword,
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	login, err := r.client.LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
		Email: testenv.OwnerEmail, Password: testenv.OwnerPassword,
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, login.StatusCode(), string(login.Body))
	return login.JSON201.SessionToken
}
