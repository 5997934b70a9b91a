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
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"
)

// Cache maps keys to values read from the database. At most size values are kept (the least
// recently used go first), none for longer than maxAge, and none while the cache is disabled.
//
// Invalidate drops every value and starts a new generation. A load records the generation
// before it reads and keeps its result only if the generation has not moved since: a reader
// that read the old row before a write committed, and finishes after the write's invalidation,
// cannot put the old row back.
//
// hashicorp/golang-lru's expirable LRU would bound the age by itself, but starts a goroutine
// per cache that nothing can stop (v2.0.7); the plain LRU under this type's own lock, with the
// age checked on each read, bounds both without one.
type Cache[K comparable, V any] struct {
	size   int
	maxAge time.Duration
	now    func() time.Time

	mu         sync.Mutex
	entries    *simplelru.LRU[K, entry[V]]
	generation uint64
	enabled    bool

	loads singleflight.Group
}

type entry[V any] struct {
	value    V
	storedAt time.Time
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
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Cache[K, V]{size: size, maxAge: maxAge, now: o.now, enabled: true}
	c.entries = c.newLRU()
	return c
}

func (c *Cache[K, V]) newLRU() *simplelru.LRU[K, entry[V]] {
	lru, err := simplelru.NewLRU[K, entry[V]](c.size, nil)
	if err != nil {
		// Only a size below 1 fails, which is a programming error in the caller.
		panic(fmt.Sprintf("readcache: %v", err))
	}
	return lru
}

// Lookup returns the value kept for key, if there is one younger than the maximum age.
func (c *Cache[K, V]) Lookup(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries.Get(key)
	if !ok {
		var zero V
		return zero, false
	}
	if c.now().Sub(e.storedAt) >= c.maxAge {
		c.entries.Remove(key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// Generation identifies the current generation, for StoreIfCurrent: record it before reading
// from the database.
func (c *Cache[K, V]) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	c.entries.Add(key, entry[V]{value: value, storedAt: now})
	c.dropExpiredLocked(now)
}

// dropExpiredLocked drops a couple of the least recently used values if they are past their
// maximum age, so that a cache holds about what was used within the maximum age rather than
// filling up to its size with values nobody will be given again. A couple per store keeps
// pace with the stores, at a constant cost each.
func (c *Cache[K, V]) dropExpiredLocked(now time.Time) {
	for range 2 {
		_, oldest, ok := c.entries.GetOldest()
		if !ok || now.Sub(oldest.storedAt) < c.maxAge {
			return
		}
		c.entries.RemoveOldest()
	}
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
	e, ok := c.entries.Peek(key)
	if !ok {
		return
	}
	e.value = update(e.value)
	c.entries.Add(key, e)
}

// Remove drops the value kept for key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Remove(key)
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
	if c.entries.Len() > 0 {
		c.entries = c.newLRU()
	}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.Len()
}
