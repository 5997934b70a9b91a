// Package entitlements keeps the deployment's entitlements in memory and recomputes them when
// licenses change here or on another replica, on a periodic tick, and at the next moment a
// license starts, enters grace or expires. Requests read the last computed value; nothing is
// recomputed per request, and a stored license's signature is verified once when it is loaded.
package entitlements

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
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
	// AuditCommitted, when set, is told of each audit entry this replica records, once the
	// change it records has committed (see audit.Writer).
	AuditCommitted func(audit.Entry)
}

// Service holds the current entitlements.
type Service struct {
	cfg     Config
	replica store.Replica

	// reloadMu serializes reloads; the fields below it are guarded by it.
	reloadMu sync.Mutex
	keys     license.Keys
	// verified holds every stored license as verified under keys, by its stored id. A stored
	// license never changes, so a reload reads only the rows of ids it does not hold.
	verified map[int64]license.Stored
	// held is every stored license, by id, as read at the licenses generation heldGeneration
	// (when heldValid), and prepared is held made ready to compute from: while the generation
	// stays, a reload reads nothing more of licenses and prepares nothing again.
	held           []license.Stored
	prepared       license.Prepared
	heldGeneration int64
	heldValid      bool

	current atomic.Pointer[snapshot]
	// replicas is the replica count the current entitlements were computed with.
	replicas atomic.Int64
	// latestPaidEnd is the latest license_expires of any verified license not yet past exp.
	latestPaidEnd atomic.Pointer[time.Time]
	// recorder is the audit recorder the current entitlements call for.
	recorder atomic.Pointer[audit.Recorder]
	// highWater is the seat high-water mark this replica last knew of, so that a count at or
	// below it costs no write.
	highWater atomic.Int64
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
		verified:    map[int64]license.Stored{},
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
	return s.current.Load().state.Entitlements
}

// State is the entitlements last computed, their entity tag, and a channel closed when they
// change: a watcher waits on Changed, with no goroutine or database connection of its own.
type State struct {
	Entitlements license.Entitlements
	// ETag is a strong entity tag (quoted) of everything in Entitlements but RefreshedAt, so it
	// changes exactly when the entitlements do, not on a recompute that finds them the same.
	ETag string
	// Changed is closed when entitlements with another ETag replace these, on this replica;
	// a change on another replica reaches here through its announcement.
	Changed <-chan struct{}
	// Encoded is Entitlements as GET /entitlements sends them, encoded once per recompute.
	Encoded *Encoded
	// Licenses is how many stored licenses the recompute read, valid or not.
	Licenses int
	// Took is how long that recompute took: reading the keys, the licenses and the usage,
	// computing and encoding.
	Took time.Duration
}

// State returns the current State.
func (s *Service) State() State {
	return s.current.Load().state
}

// snapshot is one recompute's result, swapped in whole so readers never see half of one.
type snapshot struct {
	state State
	// changed is state.Changed, closable.
	changed chan struct{}
	// stored and usage are the inputs the entitlements were computed from, for Explain.
	stored []license.Stored
	usage  license.Usage
}

// Replicas is the replica count the current entitlements were computed with.
func (s *Service) Replicas() int64 {
	return s.replicas.Load()
}

// Recorder is the audit recorder in force: it writes entries while audit_log is enabled and
// drops them otherwise.
func (s *Service) Recorder() audit.Recorder {
	return *s.recorder.Load()
}

// raiseSeatHighWater records the active user count as the seat high-water mark when it is
// above the mark this replica knows of; the store keeps the highest across replicas.
func (s *Service) raiseSeatHighWater(ctx context.Context, active int64, now time.Time) error {
	if active <= s.highWater.Load() {
		return nil
	}
	if err := s.cfg.Store.RaiseSeatHighWater(ctx, active, now.Truncate(time.Microsecond)); err != nil {
		return err
	}
	s.highWater.Store(active)
	return nil
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
	started := time.Now()

	keys, err := s.Keys()
	if err != nil {
		return err
	}
	if !sameKeys(keys, s.keys) {
		s.keys = keys
		s.verified = map[int64]license.Stored{}
		s.heldValid = false
	}
	if err := s.readLicenses(ctx); err != nil {
		return err
	}
	stored := s.held

	// Only active users take a seat; dormant and suspended ones do not.
	users, err := s.cfg.Store.CountActiveUsers(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if err := s.raiseSeatHighWater(ctx, users, now); err != nil {
		return err
	}
	replicas, err := s.liveReplicas(ctx, now)
	if err != nil {
		return err
	}
	latest := s.prepared.LatestPaidEnd(now)
	s.latestPaidEnd.Store(&latest)
	usage := license.Usage{ActiveUsers: users, Replicas: int(replicas)}
	ent, next := s.prepared.Compute(now.Truncate(time.Microsecond), usage)
	if err := s.publish(ent, stored, usage, started); err != nil {
		return err
	}
	// The audit recorder follows audit_log: chosen here, once per recompute, for every caller.
	recorder := audit.For(ent, audit.Writer{Committed: s.cfg.AuditCommitted})
	s.recorder.Store(&recorder)
	s.replicas.Store(replicas)
	select {
	case <-s.rescheduled:
	default:
	}
	s.rescheduled <- next
	return nil
}

// publish makes ent current. When its tag differs from the current one, the watchers of the
// current one are woken, after the swap, so they read the new state. Reloads are serialized by
// reloadMu, so a channel is closed once.
func (s *Service) publish(ent license.Entitlements, stored []license.Stored, usage license.Usage, started time.Time) error {
	tag, err := entityTag(ent)
	if err != nil {
		return err
	}
	prev := s.current.Load()
	next := &snapshot{stored: stored, usage: usage}
	if prev != nil && prev.state.ETag == tag {
		next.changed = prev.changed
	} else {
		next.changed = make(chan struct{})
	}
	encoded, err := encode(ent, tag)
	if err != nil {
		return err
	}
	next.state = State{
		Entitlements: ent, ETag: tag, Changed: next.changed, Encoded: encoded,
		Licenses: len(stored), Took: time.Since(started),
	}
	s.current.Store(next)
	if prev != nil && prev.changed != next.changed {
		close(prev.changed)
	}
	return nil
}

// entityTag hashes the entitlements without their refresh time.
func entityTag(ent license.Entitlements) (string, error) {
	ent.RefreshedAt = time.Time{}
	b, err := json.Marshal(ent) // map keys are sorted, so equal entitlements give equal bytes
	if err != nil {
		return "", fmt.Errorf("encode entitlements for their entity tag: %w", err)
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`, nil
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

// readLicenses brings held and prepared up to date with the stored licenses, each verified
// under s.keys. When the licenses generation is the one they were read at, that is all it
// reads; otherwise it reads their ids, keeps those it holds as they were, and reads and
// verifies the others. Licenses no longer stored are forgotten. The caller holds reloadMu.
func (s *Service) readLicenses(ctx context.Context) error {
	// The generation is read before the ids: a write after this read raises it past the one
	// kept below, so the next reload reads the ids again, whatever this one saw of the write.
	generation, err := s.cfg.Store.LicensesGeneration(ctx)
	if err != nil {
		return err
	}
	if s.heldValid && generation == s.heldGeneration {
		return nil
	}
	ids, err := s.cfg.Store.LicenseIDs(ctx)
	if err != nil {
		return err
	}
	var unseen []int64
	for _, id := range ids {
		if _, ok := s.verified[id]; !ok {
			unseen = append(unseen, id)
		}
	}
	if len(unseen) > 0 {
		rows, err := s.cfg.Store.LicensesByID(ctx, unseen)
		if err != nil {
			return err
		}
		for i, st := range s.verifyRows(rows) {
			s.verified[rows[i].StoredID()] = st
		}
	}
	// A new slice, never the one held before: the current snapshot may still be read.
	stored := make([]license.Stored, 0, len(ids))
	held := make(map[int64]license.Stored, len(ids))
	for _, id := range ids {
		// An id missing here was deleted between the two reads: it no longer counts.
		if st, ok := s.verified[id]; ok {
			held[id] = st
			stored = append(stored, st)
		}
	}
	s.verified = held
	s.held, s.prepared = stored, license.Prepare(stored)
	s.heldGeneration, s.heldValid = generation, true
	return nil
}

// verifyRows verifies rows on every core, into the same order: verifying a license (Ed25519,
// base64, JSON) costs about 0.2 ms of CPU, so ten thousand of them, read when the server
// starts and before it answers, are seconds on one core.
func (s *Service) verifyRows(rows []store.LicenseRow) []license.Stored {
	verified := make([]license.Stored, len(rows))
	workers := min(runtime.GOMAXPROCS(0), len(rows))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				verified[i] = s.verifyStored(rows[i])
			}
		})
	}
	wg.Wait()
	return verified
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
				changeTimer.Reset(changeWait(time.Until(next)))
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

// maxChangeWait bounds the wait for the next change moment. A license may name one centuries
// ahead (the contract allows times up to the year 9999), past what a time.Duration holds: the
// wait is cut to a day, after which the recompute finds the same moment and waits again.
const maxChangeWait = 24 * time.Hour

// changeWait is how long to wait for a change moment until away: a moment late rather than
// early, so the recompute sees the new state, and never longer than maxChangeWait.
func changeWait(until time.Duration) time.Duration {
	if until >= maxChangeWait {
		return maxChangeWait
	}
	return until + time.Millisecond
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
