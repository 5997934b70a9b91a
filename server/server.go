package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"entitle/api"
	"entitle/dormancy"
	"entitle/entitlements"
	"entitle/gen"
	"entitle/proxyaddr"
	"entitle/store"
)

// Server is entitle's HTTP server over one store.
type Server struct {
	cfg    Config
	logger *slog.Logger
	store  *store.Store
	// dataDirLock holds the SQLite data directory for this server alone (nil on PostgreSQL).
	dataDirLock  *os.File
	entitlements *entitlements.Service
	api          *api.API
	spec         *Spec
	metrics      *metrics
	echo         *echo.Echo
	// handler is echo behind headAsGet: what net/http serves.
	handler http.Handler
	// registered holds the method and template of every route, for routeName.
	registered map[routeKey]bool
	// versionHeader is the X-Coder-Build-Version header's value, made once: every response
	// carries it, and net/http only reads it.
	versionHeader []string
	// listenURL is where Serve listens, for the access URL's default.
	listenURL atomic.Pointer[string]
	// draining is set once Serve begins to stop: responses then say Connection: close.
	draining atomic.Bool
	// watchersReleased is closed when the drain starts (releaseWatchers): requests waiting for
	// an entitlements change answer at once rather than hold the drain up.
	watchersReleased     chan struct{}
	watchersReleasedOnce sync.Once
	// clients finds a request's client address, through the proxies the configuration trusts.
	clients *proxyaddr.Resolver
	// keyTouches and userTouches pick the one request that writes a session's last use and a
	// user's last_seen_at once they are due (touches.go).
	keyTouches  *touches[string]
	userTouches *touches[uuid.UUID]
}

// releaseWatchers answers every request waiting for an entitlements change; it may be called
// more than once.
func (s *Server) releaseWatchers() {
	s.watchersReleasedOnce.Do(func() { close(s.watchersReleased) })
}

// AccessURL is the URL people and clients reach the server at: --access-url, else the URL
// the server listens on.
func (s *Server) AccessURL() string {
	if s.cfg.AccessURL != "" {
		return s.cfg.AccessURL
	}
	if u := s.listenURL.Load(); u != nil {
		return *u
	}
	return "http://" + s.cfg.HTTPAddress
}

// New opens the database (applying migrations) and builds the HTTP handler. Close releases it.
// On SQLite the data directory is the server's alone while it runs (see lockDataDir).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clients, err := cfg.clientAddresses()
	if err != nil {
		return nil, err
	}
	var dataDirLock *os.File
	if cfg.PostgresURL == "" {
		if dataDirLock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = dataDirLock.Close()
			}
		}()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Parsing the spec (about 30 ms of CPU) and opening the database (round trips, and the
	// first entitlements) take most of the start; they overlap. Every path waits for the spec.
	var (
		spec       *Spec
		specErr    error
		specLoaded sync.WaitGroup
	)
	specLoaded.Go(func() { spec, specErr = LoadSpec() })
	defer specLoaded.Wait()
	st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir, Logger: logger, Timeout: cfg.DatabaseTimeout})
	if err != nil {
		return nil, err
	}
	deploymentID, err := st.DeploymentID(ctx)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	audited := newAuditEntries()
	ent, err := entitlements.New(ctx, entitlements.Config{
		Store:          st,
		KeysDir:        cfg.KeysDir(),
		DeploymentID:   deploymentID.String(),
		Interval:       cfg.EntitlementsRefreshInterval,
		Logger:         logger,
		AuditCommitted: audited.count,
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	specLoaded.Wait()
	if specErr != nil {
		_ = st.Close()
		return nil, specErr
	}
	s := &Server{cfg: cfg, logger: logger, clients: clients, store: st, dataDirLock: dataDirLock, entitlements: ent, spec: spec, watchersReleased: make(chan struct{}),
		keyTouches: newTouches[string](sessionTouchInterval(cfg.SessionDuration)), userTouches: newTouches[uuid.UUID](touchInterval), versionHeader: []string{cfg.Version}}
	handlers, err := api.New(api.Config{
		Store:            st,
		DeploymentID:     deploymentID,
		Entitlements:     ent,
		Logger:           logger,
		Version:          cfg.Version,
		SessionDuration:  cfg.SessionDuration,
		PasswordHashCost: cfg.PasswordHashCost,
		RefreshCooldown:  cfg.EntitlementsRefreshCooldown,
		AccessURL:        s.AccessURL,
		ThrottleWindow:   cfg.LoginThrottleWindow,
		MaxTokenLifetime: cfg.maxTokenLifetime(),
		Draining:         s.watchersReleased,
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if keys, err := ent.Keys(); err == nil && len(keys) > 0 {
		logger.Info("trusted license keys", "dir", cfg.KeysDir(), "kids", entitlements.KeyIDs(keys))
	} else if err == nil {
		logger.Warn("no trusted license keys: every license upload will be refused until a <kid>.pem is added", "dir", cfg.KeysDir())
	}
	m, err := newMetrics(st, ent, audited, logger)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	s.metrics = m
	s.api = handlers
	s.echo = s.routes(handlers)
	s.handler = headAsGet(withoutTrailingSlash(s.echo))
	return s, nil
}

func (s *Server) routes(handlers *api.API) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.writeError
	e.Use(s.pipeline())

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	s.registerSwagger(e)

	gen.RegisterHandlersWithBaseURL(e, gen.NewStrictHandler(handlers, nil), APIPrefix)
	s.registered = map[routeKey]bool{}
	for _, r := range e.Routes() {
		s.registered[routeKey{method: r.Method, template: r.Path}] = true
	}
	return e
}

// Handler is the whole HTTP surface, for tests and for Serve.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// Store is the server's database handle.
func (s *Server) Store() *store.Store { return s.store }

// Entitlements is the server's entitlements service.
func (s *Server) Entitlements() *entitlements.Service { return s.entitlements }

// Serve answers requests on ln until ctx ends, then stops accepting, answers every request
// already written, including those on kept-alive connections, and returns; the whole stop is
// bounded by the shutdown timeout (see drain.go). The entitlements loop runs until the
// requests have drained.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	listenURL := "http://" + ln.Addr().String()
	s.listenURL.Store(&listenURL)
	conns := newConnections()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnState:         conns.track,
	}
	// The entitlements loop, the dormancy pass and the offset marks' planter live exactly as
	// long as serving does: requests still draining after ctx ends may need them (replica
	// membership, license change notices), so they stop only once those are done.
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	loops.Go(func() { s.entitlements.Run(loopCtx) })
	loops.Go(func() { s.store.KeepOffsetMarks(loopCtx, s.logger) })
	loops.Go(func() {
		dormancy.Run(loopCtx, dormancy.Config{
			Store:        s.store,
			After:        s.cfg.DormancyAfter,
			Interval:     s.cfg.DormancyCheckInterval,
			Recorder:     s.entitlements.Recorder,
			UsageChanged: s.entitlements.UsageChanged,
			Logger:       s.logger,
		})
	})
	defer func() {
		stopLoops()
		loops.Wait()
	}()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(conns.listen(ln)) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	deadline := time.Now().Add(s.cfg.shutdownTimeout())
	s.logger.Info("stopping: answering the requests already made", "timeout_ms", s.cfg.shutdownTimeout().Milliseconds())

	// Stop accepting before anything else, so that a client told Connection: close below
	// finds the door shut when it dials again, rather than a fresh connection to drain.
	_ = ln.Close()
	// At once, not after Serve has returned: a request on a kept-alive connection may be
	// answered in between, and must already say Connection: close.
	s.draining.Store(true)
	serveErr := <-served
	// Requests waiting for an entitlements change answer now (304, Connection: close), so they
	// never hold the drain up.
	s.releaseWatchers()
	s.drain(srv, conns, deadline)
	if !errors.Is(serveErr, net.ErrClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// Close releases the database and writes out the access log lines still waiting.
func (s *Server) Close() error {
	defer flushLogs(s.logger)
	err := s.store.Close()
	if s.dataDirLock != nil {
		// After the database is closed: the next server may open it at once.
		_ = s.dataDirLock.Close()
	}
	return err
}

// Run is what `entitle server` does: build the server, listen, serve until ctx ends, close.
// ready, when not nil, receives the URL once the server is listening.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ready func(url string)) error {
	s, err := New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			logger.Warn("close database", "error", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.HTTPAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddress, err)
	}
	url := "http://" + ln.Addr().String()
	logger.Info("serving", "url", url, "database", string(s.store.Dialect()))
	if cfg.PrometheusAddress != "" {
		stopMetrics, err := s.serveMetrics(cfg.PrometheusAddress)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stopMetrics()
	}
	if ready != nil {
		ready(url)
	}
	return s.Serve(ctx, ln)
}

// serveMetrics serves /metrics and the Go profiles (/debug/pprof/) on their own listener,
// apart from the API, until the returned func stops it. The profiles are registered on this
// mux by hand, never through http.DefaultServeMux, so the API port cannot serve them: they
// show goroutine stacks and the command line, which only operators should see.
func (s *Server) serveMetrics(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.MetricsHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs, ...
	// Not /debug/pprof/cmdline: the command line may hold --postgres-url with its password.
	// (pprof.Index answers that path 404, as a profile it does not know.)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No WriteTimeout: a CPU profile or trace streams for as many seconds as it was asked for.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics server", "error", err)
		}
	}()
	s.logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, gen.Response{Message: "OK."})
}

// readyz answers 200 only while the database answers too.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("readiness check failed", "error", err)
		return databaseUnavailable(c)
	}
	return c.JSON(http.StatusOK, gen.Response{Message: "Ready."})
}
