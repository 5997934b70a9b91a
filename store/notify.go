package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// announcementsChannel is the PostgreSQL channel replicas announce changes on. Its name is
// older than the kinds below, when licenses were the only thing announced; it is kept so that
// replicas of both ages hear each other during a rolling upgrade.
const announcementsChannel = "entitle_licenses"

// ListenerApplicationName names the listener's PostgreSQL session, so operators (and tests)
// can find it in pg_stat_activity.
const ListenerApplicationName = "entitle-listener"

// AnnouncementKind says what changed.
type AnnouncementKind string

// The kinds of announcement. On the wire a payload is "<kind> <sender>": the kind, one space,
// and the announcing replica's id. A payload without a space is a bare sender id from a replica
// older than kinds, and means AnnounceLicenses. New kinds must keep the kind first and the
// sender second; a kind that needs more may append it after a further space.
const (
	// AnnounceLicenses: licenses were added or deleted, or a refresh was asked for.
	AnnounceLicenses AnnouncementKind = "licenses"
	// AnnounceUsage: what entitlements count changed, such as the active users.
	AnnounceUsage AnnouncementKind = "usage"
	// AnnounceReplicas: a replica joined or left the deployment.
	AnnounceReplicas AnnouncementKind = "replicas"
	// AnnounceInvalidate: rows the replicas keep in memory were written; the detail lists the
	// caches to empty, comma-separated ("invalidate <sender> organizations,memberships"). The
	// store sends and applies these itself: ListenAnnouncements never passes them on.
	AnnounceInvalidate AnnouncementKind = "invalidate"
	// AnnouncementsMissed is never sent: the listener delivers it after each (re)connect, because
	// announcements made while it was not listening were not heard.
	AnnouncementsMissed AnnouncementKind = "missed"
)

// probesChannel is where each listener's probes go (see probeInterval): a channel of their own,
// so that replicas too old to know them never hear them.
const probesChannel = "entitle_listener_probes"

// A listener's connection can stall without failing: a backend stopped, a half-open TCP
// connection, a proxy that hangs. It then delivers nothing and reports nothing, and the
// caches, kept on the promise that every change is heard, would serve what was revoked until
// they age out. So every probeInterval each listener announces a probe through the pool, and a
// listener that has heard nothing at all, not even its own probes, for listenerSilenceLimit
// gives its connection up as failed: the caches are emptied and keep nothing until a new
// connection listens. A change announced into a stall is so acted on within the limit. Each
// probe is a NOTIFY, a commit without rows: four a second per replica.
const (
	probeInterval        = 250 * time.Millisecond
	listenerSilenceLimit = 750 * time.Millisecond
)

// Announcement is one message between replicas.
type Announcement struct {
	Kind AnnouncementKind
	// From is the sender's replica id, so it can ignore its own; empty for AnnouncementsMissed.
	From string
	// Detail is what follows the sender on the wire, for the kinds that need more; no spaces.
	Detail string
}

// payload is the announcement as it travels on the channel.
func (a Announcement) payload() string {
	p := string(a.Kind) + " " + a.From
	if a.Detail != "" {
		p += " " + a.Detail
	}
	return p
}

// parseAnnouncement reads a payload; see the kinds above for the format.
func parseAnnouncement(payload string) Announcement {
	kind, from, found := strings.Cut(payload, " ")
	if !found {
		return Announcement{Kind: AnnounceLicenses, From: payload}
	}
	from, detail, _ := strings.Cut(from, " ")
	return Announcement{Kind: AnnouncementKind(kind), From: from, Detail: detail}
}

// Announce tells every replica (the sender included) what changed. With SQLite there are no
// other replicas, and it does nothing.
func (s *Store) Announce(ctx context.Context, a Announcement) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	if err := s.with(ctx).Exec("SELECT pg_notify(?, ?)", announcementsChannel, a.payload()).Error; err != nil {
		return fmt.Errorf("announce %s to replicas: %w", a.Kind, err)
	}
	return nil
}

// ListenAnnouncements calls onAnnouncement with every announcement, until ctx ends. It keeps its
// own connection and reconnects by itself when the connection drops. After every connect, the
// first included, it delivers AnnouncementsMissed, because whatever was announced before it
// listened was not heard. With SQLite it returns at once.
//
// It is also what lets this Store keep rows in memory with PostgreSQL: it applies the other
// replicas' cache invalidations (and does not pass them on), and while no listener is
// connected the Store keeps nothing, since it would not hear of the other replicas' writes.
func (s *Store) ListenAnnouncements(ctx context.Context, logger *slog.Logger, onAnnouncement func(Announcement)) {
	if s.dialect != DialectPostgres {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected := false
		err := s.listen(ctx, func() {
			connected = true
			s.caches.listenerConnected()
			onAnnouncement(Announcement{Kind: AnnouncementsMissed})
			backoff = 100 * time.Millisecond
		}, func(a Announcement) {
			if a.Kind == AnnounceInvalidate {
				s.caches.heard(a)
				return
			}
			onAnnouncement(a)
		})
		if connected {
			s.caches.listenerLost()
		}
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
func (s *Store) listen(ctx context.Context, connected func(), onAnnouncement func(Announcement)) error {
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
	if _, err := conn.Exec(ctx, "LISTEN "+announcementsChannel+"; LISTEN "+probesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	probeCtx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	probes.Go(func() { s.probeListeners(probeCtx) })
	defer func() {
		stopProbes()
		probes.Wait()
	}()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenerSilenceLimit)
		n, err := conn.WaitForNotification(waitCtx)
		silent := waitCtx.Err() == context.DeadlineExceeded
		cancel()
		if err != nil {
			if silent && ctx.Err() == nil {
				return fmt.Errorf("heard nothing for %s, not even its own probes: the connection has stalled", listenerSilenceLimit)
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		if n.Channel == announcementsChannel {
			onAnnouncement(parseAnnouncement(n.Payload))
		}
	}
}

// probeListeners sends a probe every probeInterval until ctx ends; every replica's listener
// hears it. A probe that fails needs no report of its own: the silence it leaves gives the
// listener up.
//
// Probes go to the pool directly, not through GORM: they write no rows, so they need none of
// its callbacks (invalidation, deadlines), and they run at any moment, beside whatever else
// the process does with GORM. Each is bounded by the interval, so a stalled connection holds
// up no more than one.
func (s *Store) probeListeners(ctx context.Context) {
	pool, err := s.db.DB()
	if err != nil {
		return // no pool, no probes: the listener's silence gives it up
	}
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		probeCtx, cancel := context.WithTimeout(ctx, probeInterval)
		_, _ = pool.ExecContext(probeCtx, "SELECT pg_notify($1, '')", probesChannel)
		cancel()
	}
}
