// Package entitlements keeps the deployment's entitlements in memory and recomputes them when
// licenses change here or on another replica, on a periodic tick, and at the next moment a
// license starts, enters grace or expires. Requests read the last computed value; nothing is
// recomputed per request, and a stored license's signature is verified once when it is loaded.
package entitlements

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"entitle/license"
	"entitle/store"
)

// Heartbeats: a replica writes one every heartbeatInterval and counts as running while its
// last one is younger than replicaTTL, which forgives four missed heartbeats. Replicas that
// start or stop cleanly announce it; one that vanishes is noticed by the others when they
// re-count on their first heartbeat after its last one expires, so within replicaTTL +
// heartbeatInterval (30 s; the contract allows 40 s).
const (
	heartbeatInterval = 5 * time.Second
	replicaTTL        = 25 * time.Second
)

// Config is what the service needs.
type Config struct {
	Store        *store.Store
	KeysDir      string
	DeploymentID string
	// Interval is the periodic recompute.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service holds the current entitlements.
type Service struct {
	cfg     Config
	replica store.Replica

	// reloadMu serializes reloads; the fields below it are guarded by it.
	reloadMu sync.Mutex
	keys     license.Keys
	verified map[int32]license.Stored

	current atomic.Pointer[license.Entitlements]
	// encoded is current as GET /entitlements sends it (see Encoded).
	encoded atomic.Pointer[Encoded]
	// replicas is the replica count the current entitlements were computed with.
	replicas atomic.Int64
	// latestPaidEnd is the latest license_expires of any verified license not yet past exp.
	latestPaidEnd atomic.Pointer[time.Time]
	// wake asks the Run loop for a reload; rescheduled tells it the next change moment moved.
	wake        chan struct{}
	rescheduled chan time.Time
}

// New loads the trusted keys and the stored licenses and computes the first entitlements.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	host, _ := os.Hostname()
	now := cfg.Now().UTC().Truncate(time.Microsecond)
	s := &Service{
		cfg:         cfg,
		replica:     store.Replica{ID: uuid.New(), Hostname: host, StartedAt: now, LastSeenAt: now},
		verified:    map[int32]license.Stored{},
		wake:        make(chan struct{}, 1),
		rescheduled: make(chan time.Time, 1),
	}
	if err := cfg.Store.Heartbeat(ctx, s.replica); err != nil {
		return nil, err
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the entitlements last computed.
func (s *Service) Current() license.Entitlements {
	return *s.current.Load()
}

// LatestLicenseExpires is the latest end of a paid term among the licenses still in force;
// zero when there is none.
func (s *Service) LatestLicenseExpires() time.Time {
	return *s.latestPaidEnd.Load()
}

// Keys re-reads the trusted keys, so a key added to the directory is trusted for uploads at
// once, without a restart.
func (s *Service) Keys() (license.Keys, error) {
	return loadKeys(s.cfg.KeysDir)
}

// Changed recomputes after a change made through this replica and tells the others.
func (s *Service) Changed(ctx context.Context) error {
	if err := s.Reload(ctx); err != nil {
		return err
	}
	return s.announce(ctx, store.AnnounceLicenses)
}

// UsageChanged asks every replica to recompute soon, this one included, after a change that
// affects usage, such as a new user. It does not wait for the recompute; a failure to tell the
// others is logged, since the change itself has been made.
func (s *Service) UsageChanged(ctx context.Context) {
	s.Poke()
	if err := s.announce(ctx, store.AnnounceUsage); err != nil {
		s.cfg.Logger.Warn("announce a usage change to the other replicas", "error", err)
	}
}

// announce tells the other replicas what changed here.
func (s *Service) announce(ctx context.Context, kind store.AnnouncementKind) error {
	return s.cfg.Store.Announce(ctx, store.Announcement{Kind: kind, From: s.replica.ID.String()})
}

// Poke asks the Run loop for a reload soon, without waiting for it. Only this replica hears it:
// for a change the others must see too, use UsageChanged.
func (s *Service) Poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Reload reads the keys, the licenses and the usage and recomputes. Licenses already verified
// under the same keys are not verified again.
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()

	keys, err := s.Keys()
	if err != nil {
		return err
	}
	if !sameKeys(keys, s.keys) {
		s.keys = keys
		s.verified = map[int32]license.Stored{}
	}
	rows, err := s.cfg.Store.Licenses(ctx)
	if err != nil {
		return err
	}
	stored := make([]license.Stored, 0, len(rows))
	seen := make(map[int32]license.Stored, len(rows))
	for _, row := range rows {
		st, ok := s.verified[row.ID]
		if !ok {
			st = s.verifyStored(row)
		}
		seen[row.ID] = st
		stored = append(stored, st)
	}
	s.verified = seen // forgets deleted licenses

	users, err := s.cfg.Store.CountUsers(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	replicas, err := s.liveReplicas(ctx, now)
	if err != nil {
		return err
	}
	var latest time.Time
	for _, st := range stored {
		if st.License == nil {
			continue
		}
		c := st.License.Claims
		if c.LicenseExpires != nil && c.ExpiresAt != nil && now.Before(c.ExpiresAt.Time) && c.LicenseExpires.After(latest) {
			latest = c.LicenseExpires.UTC()
		}
	}
	s.latestPaidEnd.Store(&latest)
	ent, next := license.Compute(stored, now.Truncate(time.Microsecond), license.Usage{ActiveUsers: users, Replicas: int(replicas)})
	encoded, err := encode(ent)
	if err != nil {
		return err
	}
	s.current.Store(&ent)
	s.encoded.Store(encoded)
	s.replicas.Store(replicas)
	select {
	case <-s.rescheduled:
	default:
	}
	s.rescheduled <- next
	return nil
}

// liveReplicas counts the replicas whose last heartbeat is younger than replicaTTL at now,
// this one always included.
func (s *Service) liveReplicas(ctx context.Context, now time.Time) (int64, error) {
	if s.cfg.Store.Dialect() != store.DialectPostgres {
		// SQLite serves one replica by design; only PostgreSQL deployments can have more.
		return 1, nil
	}
	n, err := s.cfg.Store.CountReplicas(ctx, now.Add(-replicaTTL))
	if err != nil {
		return 0, err
	}
	return max(n, 1), nil
}

// verifyStored verifies one stored license. One that no longer reads, parses or verifies
// becomes an entitlements error naming it, never a failed reload (which would stop the server
// from starting), and is logged once, when it is first found so.
func (s *Service) verifyStored(row store.LicenseRow) license.Stored {
	lic, err := license.VerifyStored(row.JWT, s.keys)
	if err == nil && row.Problem != nil {
		// The token's own fault, if any, says more; a bad column alone still makes the row untrusted.
		lic, err = nil, row.Problem
	}
	if err != nil {
		s.cfg.Logger.Warn("stored license is invalid", "license_id", row.ID, "uuid", row.UUID, "error", err)
	}
	return license.Stored{ID: int64(row.ID), UUID: row.UUID, License: lic, Err: err}
}

// Run recomputes on every trigger until ctx ends: another replica's announcement, a poke, the
// periodic tick, a change in the replica count, and the next change moment. It keeps this
// replica's heartbeat, announces it to the others on start, and removes it and announces that
// when stopping. The listener goroutine it starts ends before Run returns.
func (s *Service) Run(ctx context.Context) {
	var listener sync.WaitGroup
	listener.Add(1)
	go func() {
		defer listener.Done()
		s.cfg.Store.ListenAnnouncements(ctx, s.cfg.Logger, func(a store.Announcement) {
			// This replica recomputed (or was poked) when it made the change. Every other
			// announcement, and the listener (re)connecting, may change the entitlements.
			if a.From != s.replica.ID.String() {
				s.Poke()
			}
		})
	}()
	defer listener.Wait()

	// New counted this replica already; the others learn of it now.
	if err := s.announce(ctx, store.AnnounceReplicas); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("announce this replica to the others", "error", err)
	}

	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()
	changeTimer := time.NewTimer(time.Hour)
	changeTimer.Stop()
	defer changeTimer.Stop()

	reload := func(why string) {
		if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("recompute entitlements", "trigger", why, "error", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			s.leave()
			return
		case next := <-s.rescheduled:
			changeTimer.Stop()
			if !next.IsZero() {
				// A moment late rather than early, so the recompute sees the new state.
				changeTimer.Reset(time.Until(next) + time.Millisecond)
			}
		case <-changeTimer.C:
			reload("license state change")
		case <-s.wake:
			reload("change announced")
		case <-tick.C:
			reload("periodic")
		case <-heartbeat.C:
			s.beat(ctx)
		}
	}
}

// beat writes this replica's heartbeat and re-counts the live replicas, recomputing when the
// count differs from the one the current entitlements hold: that is how a replica that vanished
// without leaving (killed, or cut off from the database) stops being counted.
func (s *Service) beat(ctx context.Context) {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	s.replica.LastSeenAt = now
	if err := s.cfg.Store.Heartbeat(ctx, s.replica); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("replica heartbeat", "error", err)
	}
	live, err := s.liveReplicas(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("count replicas", "error", err)
		}
		return
	}
	if live == s.replicas.Load() {
		return
	}
	if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Error("recompute entitlements", "trigger", "replica count changed", "error", err)
	}
}

// leave removes this replica and tells the others, so they stop counting it at once.
func (s *Service) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.RemoveReplica(ctx, s.replica, s.cfg.Now().Add(-24*time.Hour)); err != nil {
		s.cfg.Logger.Warn("remove replica", "error", err)
		return
	}
	if err := s.announce(ctx, store.AnnounceReplicas); err != nil {
		s.cfg.Logger.Warn("announce this replica's leaving to the others", "error", err)
	}
}

// loadKeys reads the keys directory; a missing directory trusts no key.
func loadKeys(dir string) (license.Keys, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return license.Keys{}, nil
	}
	keys, err := license.LoadKeys(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load license keys from %s: %w", dir, err)
	}
	return keys, nil
}

func sameKeys(a, b license.Keys) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, key := range a {
		if other, ok := b[kid]; !ok || !key.Equal(other) {
			return false
		}
	}
	return true
}

// KeyIDs lists the trusted key ids, for the start-up log.
func KeyIDs(keys license.Keys) string {
	ids := make([]string, 0, len(keys))
	for kid := range keys {
		ids = append(ids, kid)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}
