// Package benchhttp runs the small HTTP servers `make bench` measures entitle against.
package benchhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve answers on addr with h until ctx ends (the caller ties it to SIGINT and SIGTERM), then
// shuts down, letting requests in flight finish for up to five seconds. It logs the URL it
// listens on, with attrs, so a script can tell it is up.
func Serve(ctx context.Context, addr string, h http.Handler, name string, attrs ...any) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	slog.Info(name+" serving", append([]any{"url", "http://" + ln.Addr().String()}, attrs...)...)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
