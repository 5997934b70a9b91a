package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/server"
)

// ProcessOptions says how to run `entitle server` as a process.
type ProcessOptions struct {
	// PostgresURL selects PostgreSQL; empty runs on the embedded SQLite database in DataDir.
	PostgresURL string
	// DataDir is --data-dir; empty makes a fresh one that the test removes.
	DataDir string
	// KeysDir is --license-keys-dir; empty keeps the server's default, <data-dir>/license-keys.
	KeysDir string
	// Args are further flags, e.g. "--session-duration", "1h".
	Args []string
}

// Process is one `entitle server` process, run from the binary `go build ./cmd/entitle` makes,
// exactly as an operator runs it. It keeps its address and data directory across Restart.
type Process struct {
	Name string
	// URL is the server's root, e.g. http://127.0.0.1:41234.
	URL string
	// DataDir is the process's data directory (the SQLite database lives there).
	DataDir string
	// Output is everything the process wrote to stdout and stderr, over every start.
	Output *LockedBuffer
	// Transport is the process's own, so that a test can close its idle connections before a
	// stop (a parked keep-alive connection holds up the graceful drain for a moment).
	Transport *http.Transport
	// HTTPClient uses Transport, with a 10s timeout.
	HTTPClient *http.Client
	// Client is unauthenticated and checks every response against openapi.yaml.
	Client *gen.ClientWithResponses

	t    testing.TB
	opts ProcessOptions
	addr string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
}

// listeningLine is what `entitle server` prints once it listens; it names the address the
// kernel picked for port 0.
var listeningLine = regexp.MustCompile(`entitle is listening on http://(\S+) `)

// StartProcess runs `entitle server` until the test ends, then stops it with SIGTERM and
// requires a clean exit 0 (unless the test already stopped or killed it). It returns once
// GET /healthz answers 200.
func StartProcess(t testing.TB, name string, opts ProcessOptions) *Process {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	p := &Process{
		Name:      name,
		DataDir:   opts.DataDir,
		Output:    &LockedBuffer{},
		Transport: &http.Transport{},
		t:         t,
		opts:      opts,
		// Port 0: the kernel picks a free port, which the process then keeps across restarts.
		addr: "127.0.0.1:0",
	}
	p.HTTPClient = &http.Client{Transport: p.Transport, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		p.Transport.CloseIdleConnections()
		if p.Running() {
			p.Stop(t)
		}
	})
	p.start(t)
	p.Client = NewClient(t, p.URL, p.HTTPClient, "")
	return p
}

// ClientWithToken is a validating client of p that sends token in the Coder-Session-Token header.
func (p *Process) ClientWithToken(t testing.TB, token string) *gen.ClientWithResponses {
	t.Helper()
	return NewClient(t, p.URL, p.HTTPClient, token)
}

// NewClient is a generated client of the server at rootURL (e.g. http://127.0.0.1:41234)
// that sends its requests through httpClient, checks every response against openapi.yaml,
// and, unless token is empty, signs in with token in the Coder-Session-Token header.
func NewClient(t testing.TB, rootURL string, httpClient *http.Client, token string) *gen.ClientWithResponses {
	t.Helper()
	opts := []gen.ClientOption{gen.WithHTTPClient(NewValidatingDoer(t, httpClient))}
	if token != "" {
		opts = append(opts, gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set(server.SessionHeader, token)
			return nil
		}))
	}
	client, err := gen.NewClientWithResponses(rootURL+server.APIPrefix, opts...)
	require.NoError(t, err)
	return client
}

// SetupOwner creates the first user through p and signs in as them, returning the session token.
func (p *Process) SetupOwner(t testing.TB) string {
	t.Helper()
	return SetupOwnerThrough(t, p.Client)
}

// Addr is host:port the process listens on.
func (p *Process) Addr() string { return p.addr }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// OS is the operating-system process of the current run.
func (p *Process) OS() *os.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process
}

// Exited is closed when the current run has exited; ExitErr then says how.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// ExitErr is how the last run exited (nil: exit 0, or still running).
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Signal sends sig to the running process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	require.NoError(t, cmd.Process.Signal(sig), "signal %s to %s", sig, p.Name)
}

// Wait waits up to within for the process to exit and returns how it exited (nil: exit 0).
// It fails the test, and kills the process, when it does not exit in time.
func (p *Process) Wait(t testing.TB, within time.Duration) error {
	t.Helper()
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("%s did not exit within %v\noutput:\n%s", p.Name, within, p.Output.String())
	}
	return p.ExitErr()
}

// Stop sends SIGTERM and requires exit 0 within 30s.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Errorf("%s did not exit 0 after SIGTERM: %v\noutput:\n%s", p.Name, err, p.Output.String())
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would, and waits for it.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	_ = p.Wait(t, 10*time.Second) // killed: its exit error says only that
}

// Restart starts the process again, on the same address, data directory and flags, once the
// previous run has exited. It returns once GET /healthz answers 200.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	require.False(t, p.Running(), "%s must have exited before it restarts", p.Name)
	p.Transport.CloseIdleConnections()
	_, _ = fmt.Fprintf(p.Output, "--- restart of %s ---\n", p.Name)
	p.start(t)
}

// start runs the binary and waits until it serves.
func (p *Process) start(t testing.TB) {
	t.Helper()
	args := []string{"server", "--http-address", p.addr, "--data-dir", p.opts.DataDir}
	if p.opts.PostgresURL != "" {
		args = append(args, "--postgres-url", p.opts.PostgresURL)
	}
	if p.opts.KeysDir != "" {
		args = append(args, "--license-keys-dir", p.opts.KeysDir)
	}
	args = append(args, p.opts.Args...)
	cmd := exec.Command(EntitleBinary(t), args...)
	// The flags say everything; a stray ENTITLE_* variable from the environment must not.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENTITLE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	mark := len(p.Output.String())
	cmd.Stdout = p.Output
	cmd.Stderr = p.Output
	require.NoError(t, cmd.Start(), "start %s", p.Name)
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.exitErr = cmd, exited, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if !p.Running() {
			t.Fatalf("%s exited before serving: %v\noutput:\n%s", p.Name, p.ExitErr(), p.Output.String())
		}
		if p.URL == "" {
			if m := listeningLine.FindStringSubmatch(p.Output.String()[mark:]); m != nil {
				p.addr = m[1]
				p.URL = "http://" + m[1]
			}
		}
		if p.URL != "" && p.healthy() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: GET /healthz was not 200 within 30s\noutput:\n%s", p.Name, p.Output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Process) healthy() bool {
	resp, err := p.HTTPClient.Get(p.URL + "/healthz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// EntitleBinary builds ./cmd/entitle once per test run, as an operator would run it. Call
// RemoveEntitleBinary from TestMain when the tests are done.
func EntitleBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "entitle-bin-"); err != nil {
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

// RemoveEntitleBinary removes what EntitleBinary built, if anything.
func RemoveEntitleBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// ModuleRoot walks up from the working directory (a package directory under go test) to go.mod.
func ModuleRoot() (string, error) {
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
