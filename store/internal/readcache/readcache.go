// Package readcache keeps rows read from the database in memory, bounded in count and in age,
// for a store that empties it whenever the rows may have changed. It is the store's alone: the
// store decides what to cache and when to invalidate; this package makes sure that a value read
// before an invalidation is never kept after it.
package readcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache maps keys to values read from the database. At most size values are kept (those not
// read lately go first), none for longer than maxAge, and none while the cache is disabled.
//
// Invalidate drops every value and starts a new generation. A load records the generation
// before it reads and keeps its result only if the generation has not moved since: a reader
// that read the old row before a write committed, and finishes after the write's invalidation,
// cannot put the old row back.
//
// Every signed-in request reads three or four of these caches, so a read takes the lock only
// shared: with an exclusive lock per read (as an LRU list needs, to move what was read to its
// front), the requests on every core queued for it, and one whose thread the kernel took off
// its core while it held the lock stopped them all (a mutex profile of GET
// /organizations/{id} under wrk at 64 connections on two cores: 1.3 s of waiting every 5 s).
// Which value goes when the cache is full is therefore CLOCK, the usual stand-in for
// least-recently-used: a read marks its value used (an atomic flag), and a store that needs
// room moves a hand round the values, clearing marks, to the first one not used since the hand
// last passed it.
type Cache[K comparable, V any] struct {
	size   int
	maxAge time.Duration
	now    func() time.Time

	mu         sync.RWMutex
	slots      map[K]*slot[K, V]
	ring       []*slot[K, V] // the clock: at most size slots, nil where one was removed
	free       []int         // indexes of ring that are nil
	hand       int
	generation uint64
	enabled    bool

	loads singleflight.Group
}

// slot is one kept value. Only used changes once a slot is in the cache (Update puts a new
// slot in its place), so a reader may read the rest after letting go of the lock.
type slot[K comparable, V any] struct {
	key      K
	value    V
	storedAt time.Time
	used     atomic.Bool
	index    int // in ring; read and written under the exclusive lock only
}

// Option changes how New builds a Cache.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes the cache read the time from now, for tests of the maximum age.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New makes an enabled, empty cache of at most size values (size > 0), each kept at most maxAge.
func New[K comparable, V any](size int, maxAge time.Duration, opts ...Option) *Cache[K, V] {
	if size < 1 {
		// A programming error in the caller.
		panic(fmt.Sprintf("readcache: size %d, want at least 1", size))
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Cache[K, V]{size: size, maxAge: maxAge, now: o.now, enabled: true}
	c.clearLocked()
	return c
}

// Lookup returns the value kept for key, if there is one younger than the maximum age.
func (c *Cache[K, V]) Lookup(key K) (V, bool) {
	return c.LookupWithin(key, c.maxAge)
}

// LookupWithin returns the value kept for key, if there is one stored less than age ago (and
// younger than the maximum age): for a caller that renews values before they expire.
func (c *Cache[K, V]) LookupWithin(key K, age time.Duration) (V, bool) {
	c.mu.RLock()
	s := c.slots[key]
	c.mu.RUnlock()
	if s == nil || c.now().Sub(s.storedAt) >= min(age, c.maxAge) {
		// An expired value stays until a store replaces it or the hand drops it.
		var zero V
		return zero, false
	}
	if !s.used.Load() {
		// Written only when it changes: a write per read would bounce the flag's cache line
		// between cores.
		s.used.Store(true)
	}
	return s.value, true
}

// Generation identifies the current generation, for StoreIfCurrent: record it before reading
// from the database.
func (c *Cache[K, V]) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.generation
}

// StoreIfCurrent keeps value for key if no invalidation happened since generation was recorded
// and the cache is enabled; otherwise the value may be stale, and is dropped.
func (c *Cache[K, V]) StoreIfCurrent(generation uint64, key K, value V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.generation != generation {
		return
	}
	now := c.now()
	if old := c.slots[key]; old != nil {
		c.replaceLocked(old, value, now)
	} else {
		s := &slot[K, V]{key: key, value: value, storedAt: now, index: c.placeLocked()}
		c.slots[key] = s
		c.ring[s.index] = s
	}
	c.dropExpiredLocked(now)
}

// placeLocked returns the index of ring where a new slot goes: a free one, a new one while the
// ring is below the size, or else the first one the hand finds unused since it last passed,
// whose value is dropped. The hand clears each used mark it passes, so it stops within one
// turn and a bit.
func (c *Cache[K, V]) placeLocked() int {
	if n := len(c.free); n > 0 {
		i := c.free[n-1]
		c.free = c.free[:n-1]
		return i
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, nil)
		return len(c.ring) - 1
	}
	for {
		i := c.hand
		c.hand = (c.hand + 1) % len(c.ring)
		if s := c.ring[i]; s.used.Load() {
			s.used.Store(false)
			continue
		}
		delete(c.slots, c.ring[i].key)
		return i
	}
}

// dropExpiredLocked looks at a couple of the values under the hand and drops those past their
// maximum age, so that a cache holds about what was used within the maximum age rather than
// filling up to its size with values nobody will be given again. A couple per store keeps
// pace with the stores, at a constant cost each.
func (c *Cache[K, V]) dropExpiredLocked(now time.Time) {
	for range 2 {
		if len(c.ring) == 0 {
			return
		}
		i := c.hand
		c.hand = (c.hand + 1) % len(c.ring)
		if s := c.ring[i]; s != nil && now.Sub(s.storedAt) >= c.maxAge {
			c.removeLocked(s)
		}
	}
}

func (c *Cache[K, V]) removeLocked(s *slot[K, V]) {
	delete(c.slots, s.key)
	c.ring[s.index] = nil
	c.free = append(c.free, s.index)
}

// Get returns the value kept for key, or loads it. Concurrent Gets of one key in one generation
// share a single load; a Get that starts after an invalidation never shares a load that started
// before it, so it sees what the invalidating write wrote. Errors (not found included) are
// returned and never kept.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load func(context.Context) (V, error)) (V, error) {
	if v, ok := c.Lookup(key); ok {
		return v, nil
	}
	generation := c.Generation()
	flight := fmt.Sprint(generation, "/", key)
	shared, err, _ := c.loads.Do(flight, func() (any, error) {
		v, err := load(ctx)
		if err != nil {
			return v, err
		}
		c.StoreIfCurrent(generation, key, v)
		return v, nil
	})
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The load was another caller's, and its context ended; this caller's has not.
		v, err := load(ctx)
		if err == nil {
			c.StoreIfCurrent(generation, key, v)
		}
		return v, err
	}
	v, _ := shared.(V)
	return v, err
}

// Update changes the value kept for key in place, if there is one, without touching its age or
// the generation: for writes that the store knows change only what update changes.
func (c *Cache[K, V]) Update(key K, update func(V) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.slots[key]
	if old == nil {
		return
	}
	c.replaceLocked(old, update(old.value), old.storedAt)
}

// replaceLocked puts a new slot holding value, stored at storedAt, in old's place: readers
// that already hold old keep reading what it held.
func (c *Cache[K, V]) replaceLocked(old *slot[K, V], value V, storedAt time.Time) {
	s := &slot[K, V]{key: old.key, value: value, storedAt: storedAt, index: old.index}
	s.used.Store(old.used.Load())
	c.slots[s.key] = s
	c.ring[s.index] = s
}

// Remove drops the value kept for key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.slots[key]; s != nil {
		c.removeLocked(s)
	}
}

// Invalidate drops every value and starts a new generation, so loads already under way keep
// nothing.
func (c *Cache[K, V]) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidateLocked()
}

func (c *Cache[K, V]) invalidateLocked() {
	c.generation++
	if len(c.slots) > 0 {
		c.clearLocked()
	}
}

func (c *Cache[K, V]) clearLocked() {
	c.slots = make(map[K]*slot[K, V])
	c.ring, c.free, c.hand = nil, nil, 0
}

// SetEnabled turns keeping values on or off; while off, Lookup finds nothing and Get always
// loads. Either way it invalidates: what was kept before turning off may have gone stale while
// nobody was told, and a load that started while off must not keep its result once on.
func (c *Cache[K, V]) SetEnabled(enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidateLocked()
	c.enabled = enabled
}

// Len is the number of values kept, expired ones not yet dropped included.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.slots)
}

// InvalidateWhere drops the values for which drop says so and starts a new generation, so loads
// already under way keep nothing: for a write the store knows can have made only those stale.
func (c *Cache[K, V]) InvalidateWhere(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	for key, s := range c.slots {
		if drop(key, s.value) {
			c.removeLocked(s)
		}
	}
}
