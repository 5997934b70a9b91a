package testenv

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/server"
)

// Instance is one running server, built exactly as `entitle server` builds it.
type Instance struct {
	Config server.Config
	// URL is the server's root, e.g. http://127.0.0.1:41234.
	URL string
	// Client is unauthenticated; see ClientWithToken.
	Client *gen.ClientWithResponses
	// HTTP sends raw requests and validates each response against the spec, like Client.
	HTTP *ValidatingDoer

	server *server.Server
	stop   context.CancelFunc
	done   chan error
}

// Start runs a server on cfg until the test ends (or Stop); warnings and errors it logs go to
// the test's log.
func Start(t testing.TB, cfg server.Config) *Instance {
	t.Helper()
	return StartWithLogger(t, cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// StartWithLogger is Start with the server logging to logger.
func StartWithLogger(t testing.TB, cfg server.Config, logger *slog.Logger) *Instance {
	t.Helper()
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, logger)
	require.NoError(t, err, "start server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveCtx, stop := context.WithCancel(ctx)
	inst := &Instance{
		Config: cfg,
		URL:    "http://" + ln.Addr().String(),
		server: srv,
		stop:   stop,
		done:   make(chan error, 1),
	}
	go func() { inst.done <- srv.Serve(serveCtx, ln) }()
	inst.HTTP = NewValidatingDoer(t, http.DefaultClient)
	inst.Client = inst.newClient(t)
	t.Cleanup(func() { inst.Stop(t) })
	return inst
}

// StartOn starts a server on a fresh database of the given kind.
func StartOn(t testing.TB, db Database) *Instance {
	t.Helper()
	return Start(t, db.NewConfig(t))
}

// Server is the running server.
func (i *Instance) Server() *server.Server { return i.server }

// Stop drains and stops the server and closes its database; stopping twice is harmless.
func (i *Instance) Stop(t testing.TB) {
	t.Helper()
	if i.stop == nil {
		return
	}
	i.stop()
	i.stop = nil
	require.NoError(t, <-i.done, "serve")
	require.NoError(t, i.server.Close(), "close server")
}

// APIURL is the base URL of the API, the generated client's server.
func (i *Instance) APIURL() string { return i.URL + server.APIPrefix }

func (i *Instance) newClient(t testing.TB, editors ...gen.ClientOption) *gen.ClientWithResponses {
	opts := append([]gen.ClientOption{gen.WithHTTPClient(i.HTTP)}, editors...)
	c, err := gen.NewClientWithResponses(i.APIURL(), opts...)
	require.NoError(t, err)
	return c
}

// ClientWithToken is a client that sends token in the Coder-Session-Token header.
func (i *Instance) ClientWithToken(t testing.TB, token string) *gen.ClientWithResponses {
	return i.newClient(t, gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set(server.SessionHeader, token)
		return nil
	}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("server: %s", p)
	return len(p), nil
}
