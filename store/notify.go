package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// licensesChannel is the PostgreSQL channel replicas announce license changes on.
const licensesChannel = "entitle_licenses"

// ListenerApplicationName names the listener's PostgreSQL session, so operators (and tests)
// can find it in pg_stat_activity.
const ListenerApplicationName = "entitle-listener"

// NotifyLicensesChanged tells every replica that licenses changed or a refresh was asked for;
// from names the sender, so it can ignore its own announcement. With SQLite there are no other
// replicas, and it does nothing.
func (s *Store) NotifyLicensesChanged(ctx context.Context, from string) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	if err := s.with(ctx).Exec("SELECT pg_notify(?, ?)", licensesChannel, from).Error; err != nil {
		return fmt.Errorf("notify replicas: %w", err)
	}
	return nil
}

// ListenLicensesChanged calls onChange with the sender of every announced change, until ctx
// ends. It keeps its own connection and reconnects by itself when the connection drops, calling
// onChange("") after each reconnect because announcements made meanwhile were missed. With
// SQLite it returns at once.
func (s *Store) ListenLicensesChanged(ctx context.Context, logger *slog.Logger, onChange func(from string)) {
	if s.dialect != DialectPostgres {
		return
	}
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listen(ctx, func() {
			if !first {
				onChange("")
			}
			first = false
			backoff = 100 * time.Millisecond
		}, onChange)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("license change listener lost its connection; reconnecting", "error", err, "retry_in_ms", backoff.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, connected func(), onChange func(from string)) error {
	cfg, err := pgx.ParseConfig(s.postgresURL)
	if err != nil {
		return fmt.Errorf("parse postgres url: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect listener: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+licensesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		onChange(n.Payload)
	}
}
