package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"entitle/store/internal/readcache"
)

// What the store keeps in memory, so that a signed-in request does not query the database when
// nothing changed: sessions and their users, organizations, memberships, and which
// organizations a user belongs to. Each is bounded in count (never a copy of a table: a
// deployment with a million organizations keeps the 10,000 used last) and in age (a second
// safety net: a change nobody was told about still shows within cacheMaxAge).
//
// Every write to their tables empties them, here at once and on every other replica through
// an announcement (see invalidate.go); the caller of a Store never knows they exist. Reads
// inside a transaction never use them.
const (
	cachedAPIKeysMax           = 10_000
	cachedUsersMax             = 10_000
	cachedOrganizationsMax     = 10_000
	cachedMembershipsMax       = 20_000
	cachedUserOrganizationsMax = 10_000
	cachedOffsetMarksMax       = 2_000
	cacheMaxAge                = 30 * time.Second
	// offsetMarksMaxAge is the offset marks' own: they hold no row, only where rows fall in the
	// list, so nothing revoked can be served from one; the planter renews each at half this
	// age (planter.go), and walking a million rows that often costs a second of queries.
	offsetMarksMaxAge = 5 * time.Minute
)

// cacheName names one of the caches in invalidations, here and on the wire.
type cacheName string

const (
	cacheAPIKeys           cacheName = "api_keys"
	cacheUsers             cacheName = "users"
	cacheOrganizations     cacheName = "organizations"
	cacheMemberships       cacheName = "memberships"
	cacheUserOrganizations cacheName = "user_organizations"
	cacheOrganizationMarks cacheName = "organization_marks"
)

// organizationKey finds an organization by id, by name (lower-cased), or as the default one.
type organizationKey struct {
	id        uuid.UUID
	name      string
	isDefault bool
}

type membershipKey struct {
	organizationID, userID uuid.UUID
}

// invalidatable is what readCaches needs of every cache, whatever it holds.
type invalidatable interface {
	Invalidate()
	SetEnabled(bool)
}

// readCaches holds the caches of one Store and of every transaction made from it.
type readCaches struct {
	apiKeys           *readcache.Cache[string, APIKey]
	users             *readcache.Cache[uuid.UUID, User]
	organizations     *readcache.Cache[organizationKey, Organization]
	memberships       *readcache.Cache[membershipKey, OrganizationMember]
	userOrganizations *readcache.Cache[uuid.UUID, []uuid.UUID]
	// organizationMarks are places in the list of every organization, by offset (offsets.go).
	organizationMarks *readcache.Cache[int, keyset]
	byName            map[cacheName]invalidatable
	// markStride is how many rows apart the offset marks are (offsets.go).
	markStride int

	// sender identifies this Store in its announcements, so it ignores its own.
	sender string
	// db is the Store's root handle, for announcing outside any transaction.
	db      *gorm.DB
	dialect Dialect
	logger  *slog.Logger

	// active says whether the caches keep anything; it only lets reads skip them cheaply,
	// each cache's own flag is what counts. With PostgreSQL they keep nothing until a listener
	// hears the other replicas' invalidations, and nothing while none does.
	active atomic.Bool

	mu sync.Mutex
	// listeners counts the announcement listeners connected now.
	listeners int
	// transactions maps each open transaction's connection to the caches its writes invalidate.
	transactions map[gorm.ConnPool]*transactionWrites

	// later announces inserts after their transactions, merged (see announcer).
	later *announcer
}

func newReadCaches(db *gorm.DB, dialect Dialect, logger *slog.Logger) *readCaches {
	c := &readCaches{
		apiKeys:           readcache.New[string, APIKey](cachedAPIKeysMax, cacheMaxAge),
		users:             readcache.New[uuid.UUID, User](cachedUsersMax, cacheMaxAge),
		organizations:     readcache.New[organizationKey, Organization](cachedOrganizationsMax, cacheMaxAge),
		memberships:       readcache.New[membershipKey, OrganizationMember](cachedMembershipsMax, cacheMaxAge),
		userOrganizations: readcache.New[uuid.UUID, []uuid.UUID](cachedUserOrganizationsMax, cacheMaxAge),
		organizationMarks: readcache.New[int, keyset](cachedOffsetMarksMax, offsetMarksMaxAge),
		markStride:        defaultMarkStride,
		sender:            uuid.NewString(),
		db:                db,
		dialect:           dialect,
		logger:            logger,
		transactions:      map[gorm.ConnPool]*transactionWrites{},
	}
	c.later = newAnnouncer(func(names []cacheName) { c.announce(context.Background(), names) })
	c.byName = map[cacheName]invalidatable{
		cacheAPIKeys:           c.apiKeys,
		cacheUsers:             c.users,
		cacheOrganizations:     c.organizations,
		cacheMemberships:       c.memberships,
		cacheUserOrganizations: c.userOrganizations,
		cacheOrganizationMarks: c.organizationMarks,
	}
	// SQLite serves one replica: every write goes through this Store, so nothing can be missed
	// (a server holds its data directory alone: server/datadir.go).
	c.setEnabled(dialect == DialectSQLite)
	return c
}

func (c *readCaches) setEnabled(enabled bool) {
	for _, cache := range c.byName {
		cache.SetEnabled(enabled)
	}
	c.active.Store(enabled)
}

// drop empties the named caches; a name it does not know (from a newer replica) empties all.
func (c *readCaches) drop(names []cacheName) {
	for _, name := range names {
		if at, partial, err := marksFromTime(name); partial {
			if err != nil {
				c.logger.Warn("an invalidation this replica cannot read: dropping every cache", "error", err)
				c.dropAll()
				return
			}
			c.dropMarksFrom(at)
			continue
		}
		cache, ok := c.byName[name]
		if !ok {
			c.dropAll()
			return
		}
		cache.Invalidate()
	}
}

// ForgetCachedReads drops every read kept in memory on this replica, for writes made behind the
// store's back (a tool or a test writing rows in bulk with plain SQL), which it cannot see.
func (s *Store) ForgetCachedReads() {
	s.caches.dropAll()
}

func (c *readCaches) dropAll() {
	for _, cache := range c.byName {
		cache.Invalidate()
	}
}

// listenerConnected is told when a listener starts hearing announcements: what was announced
// before was not heard, so everything kept is dropped, and keeping starts (again).
func (c *readCaches) listenerConnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners++
	c.setEnabled(true)
}

// listenerLost is told when a connected listener stops hearing: until one hears again,
// nothing is kept, because nothing would tell this replica of another's writes.
func (c *readCaches) listenerLost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners--
	if c.listeners > 0 {
		c.dropAll()
		return
	}
	c.setEnabled(false)
}

// heard applies another replica's invalidation.
func (c *readCaches) heard(a Announcement) {
	if a.From == c.sender {
		return // dropped here already, when the write was made
	}
	c.drop(parseCacheNames(a.Detail))
}

func formatCacheNames(names []cacheName) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ",")
}

// parseCacheNames reads formatCacheNames; an empty list means every cache.
func parseCacheNames(s string) []cacheName {
	if s == "" {
		return []cacheName{"*"}
	}
	var names []cacheName
	for part := range strings.SplitSeq(s, ",") {
		names = append(names, cacheName(part))
	}
	return names
}

// announce tells the other replicas to drop the named caches. The write is made already, so
// the request's own end (a client gone) must not stop the announcement.
func (c *readCaches) announce(ctx context.Context, names []cacheName) {
	if c.dialect != DialectPostgres || len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.notify(c.db.WithContext(ctx), names); err != nil {
		// The other replicas keep what they have until cacheMaxAge, unless their listener is
		// cut too (then they keep nothing).
		c.logger.Error("announce a cache invalidation to the other replicas", "caches", formatCacheNames(names), "error", err)
	}
}

// announceLater tells the other replicas to drop the named caches soon, after a write that only
// inserted rows (see announcer).
func (c *readCaches) announceLater(names []cacheName) {
	if c.dialect != DialectPostgres {
		return
	}
	c.later.add(names)
}

// announceWithin tells the other replicas, from inside the transaction tx, to drop the caches
// its writes invalidated, when any of them changed or deleted rows. PostgreSQL delivers a
// notification when, and only when, its transaction commits: the other replicas hear of the
// writes exactly when they stand, and no crash between the COMMIT and a later statement can
// keep a revoked session or a removed member alive on another replica. A failure fails the
// transaction, so no such write stands unannounced. A transaction that only inserted rows is
// announced after it ends (afterTransaction, announcer).
func (c *readCaches) announceWithin(tx *gorm.DB, w *transactionWrites) error {
	if c.dialect != DialectPostgres || w == nil {
		return nil
	}
	names, changed := w.written()
	if len(names) == 0 || !changed {
		return nil
	}
	if err := c.notify(tx, names); err != nil {
		return fmt.Errorf("announce a cache invalidation to the other replicas: %w", err)
	}
	return nil
}

// notify sends the invalidation of names on db, a connection or a transaction.
func (c *readCaches) notify(db *gorm.DB, names []cacheName) error {
	a := Announcement{Kind: AnnounceInvalidate, From: c.sender, Detail: formatCacheNames(names)}
	return db.Exec("SELECT pg_notify(?, ?)", announcementsChannel, a.payload()).Error
}

// cachedRead reads through cache, unless this Store runs in a transaction (whose reads must see
// its own writes, and must not keep what may never commit) or the caches keep nothing now.
func cachedRead[K comparable, V any](ctx context.Context, s *Store, cache *readcache.Cache[K, V], key K, load func(context.Context) (V, error)) (V, error) {
	if s.inTx || !s.caches.active.Load() {
		return load(ctx)
	}
	return cache.Get(ctx, key, load)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
