package readcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/store/internal/readcache"
)

// fakeTable is a one-column table that counts its reads and can hold a read at a gate.
type fakeTable struct {
	mu    sync.Mutex
	rows  map[string]string
	reads atomic.Int64
}

func newFakeTable() *fakeTable { return &fakeTable{rows: map[string]string{}} }

func (t *fakeTable) set(key, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows[key] = value
}

var errNotFound = errors.New("not found")

// loader reads key; after reading and before returning it waits for gate, when gate is not nil.
func (t *fakeTable) loader(key string, read chan<- struct{}, gate <-chan struct{}) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		t.reads.Add(1)
		t.mu.Lock()
		v, ok := t.rows[key]
		t.mu.Unlock()
		if read != nil {
			read <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
		if !ok {
			return "", errNotFound
		}
		return v, nil
	}
}

func TestAReadThatStartedBeforeAnInvalidationKeepsNothing(t *testing.T) {
	ctx := context.Background()
	table := newFakeTable()
	table.set("org", "old-name")
	c := readcache.New[string, string](10, time.Minute)

	// A reader reads the old row, and is held before it stores it.
	read := make(chan struct{})
	gate := make(chan struct{})
	slow := make(chan string)
	go func() {
		v, err := c.Get(ctx, "org", table.loader("org", read, gate))
		assert.NoError(t, err)
		slow <- v
	}()
	<-read

	// The write commits and invalidates while the reader is held.
	table.set("org", "new-name")
	c.Invalidate()

	// A read that starts now does not join the held one: it sees the write.
	fresh := make(chan string, 1)
	go func() {
		v, err := c.Get(ctx, "org", table.loader("org", nil, nil))
		assert.NoError(t, err)
		fresh <- v
	}()
	select {
	case v := <-fresh:
		assert.Equal(t, "new-name", v, "a read after the invalidation shared a read from before it")
	case <-time.After(5 * time.Second):
		t.Error("a read after the invalidation waited for a read from before it")
	}

	// The held reader finishes with the old row; it answers its own (concurrent) request, but
	// must not be kept.
	close(gate)
	assert.Equal(t, "old-name", <-slow)
	v, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, "new-name", v, "the old row read before the invalidation was kept after it")
}

func TestStoreIfCurrentRefusesAValueFromAnOlderGeneration(t *testing.T) {
	c := readcache.New[string, string](10, time.Minute)
	generation := c.Generation()
	c.Invalidate()
	c.StoreIfCurrent(generation, "org", "old-name")
	_, ok := c.Lookup("org")
	assert.False(t, ok)

	c.StoreIfCurrent(c.Generation(), "org", "new-name")
	v, ok := c.Lookup("org")
	assert.True(t, ok)
	assert.Equal(t, "new-name", v)
}

func TestConcurrentMissesOfOneKeyMakeOneRead(t *testing.T) {
	ctx := context.Background()
	table := newFakeTable()
	table.set("org", "name")
	c := readcache.New[string, string](10, time.Minute)

	gate := make(chan struct{})
	read := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.Get(ctx, "org", table.loader("org", read, gate))
			assert.NoError(t, err)
			assert.Equal(t, "name", v)
		}()
	}
	<-read
	time.Sleep(50 * time.Millisecond) // let the others queue behind the first read
	close(gate)
	wg.Wait()
	assert.Less(t, table.reads.Load(), int64(50), "every miss read the table")
	_, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
}

func TestMissesAreNeverKept(t *testing.T) {
	ctx := context.Background()
	table := newFakeTable()
	c := readcache.New[string, string](10, time.Minute)
	_, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.ErrorIs(t, err, errNotFound)

	table.set("org", "created")
	v, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, "created", v)
}

func TestMoreValuesThanTheSizeEvictTheLeastRecentlyUsed(t *testing.T) {
	const size = 100
	c := readcache.New[string, string](size, time.Minute)
	for i := range 10 * size {
		c.StoreIfCurrent(c.Generation(), fmt.Sprint(i), "v")
		if i == 0 {
			continue
		}
		// Key 0 is used all the time, so it stays.
		_, ok := c.Lookup("0")
		require.True(t, ok, "the value used most recently was evicted after %d stores", i)
	}
	assert.Equal(t, size, c.Len())
	_, ok := c.Lookup("1")
	assert.False(t, ok, "the least recently used value was kept beyond the size")
	_, ok = c.Lookup(fmt.Sprint(10*size - 1))
	assert.True(t, ok)
}

func TestValuesOlderThanTheMaximumAgeAreReadAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := readcache.New[string, string](10, 30*time.Second, readcache.WithClock(func() time.Time { return now }))
	table := newFakeTable()
	table.set("org", "v1")
	_, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)

	table.set("org", "v2") // changed with nobody told
	now = now.Add(29 * time.Second)
	v, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, "v1", v, "a young value is kept")

	now = now.Add(time.Second)
	v, err = c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
	assert.Equal(t, "v2", v, "a value at its maximum age was served")
}

// A caller that renews values before they expire asks for those stored less than an age ago;
// never for one past the maximum age, however long it allows.
func TestLookupWithinFindsOnlyValuesYoungerThanTheAgeAsked(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := readcache.New[string, string](10, 30*time.Second, readcache.WithClock(func() time.Time { return now }))
	c.StoreIfCurrent(c.Generation(), "mark", "v1")

	now = now.Add(14 * time.Second)
	v, ok := c.LookupWithin("mark", 15*time.Second)
	assert.True(t, ok)
	assert.Equal(t, "v1", v)

	now = now.Add(time.Second)
	_, ok = c.LookupWithin("mark", 15*time.Second)
	assert.False(t, ok, "a value as old as the age asked was found")
	_, ok = c.Lookup("mark")
	assert.True(t, ok, "Lookup allows the maximum age")

	now = now.Add(15 * time.Second)
	_, ok = c.LookupWithin("mark", time.Hour)
	assert.False(t, ok, "a value at its maximum age was found")
}

func TestADisabledCacheKeepsNothingAndReEnablingForgetsLoadsFromWhileItWasOff(t *testing.T) {
	ctx := context.Background()
	table := newFakeTable()
	table.set("org", "v1")
	c := readcache.New[string, string](10, time.Minute)
	_, err := c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)

	c.SetEnabled(false)
	_, ok := c.Lookup("org")
	assert.False(t, ok, "turning off kept what was cached")
	_, err = c.Get(ctx, "org", table.loader("org", nil, nil))
	require.NoError(t, err)
	_, ok = c.Lookup("org")
	assert.False(t, ok, "a disabled cache kept a value")

	generation := c.Generation() // a load that started while off...
	c.SetEnabled(true)
	c.StoreIfCurrent(generation, "org", "read-while-off")
	_, ok = c.Lookup("org")
	assert.False(t, ok, "...is not kept once on again")
}

func TestUpdateChangesOnlyAValuePresent(t *testing.T) {
	c := readcache.New[string, string](10, time.Minute)
	c.Update("org", func(string) string { return "invented" })
	_, ok := c.Lookup("org")
	assert.False(t, ok, "Update created a value")

	c.StoreIfCurrent(c.Generation(), "org", "v1")
	c.Update("org", func(v string) string { return v + "+touched" })
	v, _ := c.Lookup("org")
	assert.Equal(t, "v1+touched", v)
}

func TestALoadSharedWithACallerWhoseContextEndedIsRetried(t *testing.T) {
	table := newFakeTable()
	table.set("org", "v")
	c := readcache.New[string, string](10, time.Minute)

	first, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	release := make(chan struct{})
	leader := func(ctx context.Context) (string, error) {
		close(started)
		<-release
		return "", ctx.Err()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := c.Get(first, "org", leader)
		assert.ErrorIs(t, err, context.Canceled)
	}()
	<-started
	result := make(chan string)
	go func() {
		v, err := c.Get(context.Background(), "org", table.loader("org", nil, nil))
		assert.NoError(t, err)
		result <- v
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join the first's load
	cancel()
	close(release)
	assert.Equal(t, "v", <-result)
	<-done
}

func TestStoringDropsValuesPastTheirAgeThatNobodyAskedFor(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := readcache.New[string, string](1000, 30*time.Second, readcache.WithClock(func() time.Time { return now }))
	for i := range 100 {
		c.StoreIfCurrent(c.Generation(), fmt.Sprint("old-", i), "v")
	}
	now = now.Add(time.Minute)
	for i := range 100 {
		c.StoreIfCurrent(c.Generation(), fmt.Sprint("new-", i), "v")
	}
	assert.Equal(t, 100, c.Len(), "values past their age were kept while new ones came in")
}

// Reads take the lock only shared and mark what they read with an atomic flag, while stores,
// updates, removals and invalidations rearrange the clock under the exclusive lock: run all of
// them at once (with -race, as make test does) and the cache stays within its size, and every
// value read is one that was stored for that key.
func TestReadsAndWritesAtOnceKeepTheSizeAndTheKeys(t *testing.T) {
	const size, keys = 64, 256
	c := readcache.New[int, int](size, time.Minute)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// repeat runs step(0), step(1), ... in a goroutine of its own until stop closes or step
	// says false.
	repeat := func(step func(i int) bool) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if !step(i) {
					return
				}
			}
		})
	}
	for w := range 4 {
		repeat(func(i int) bool {
			k := (i*7 + w) % keys
			switch i % 50 {
			case 0:
				c.Invalidate()
			case 1:
				c.Remove(k)
			case 2:
				c.Update(k, func(v int) int { return v })
			default:
				c.StoreIfCurrent(c.Generation(), k, k*10)
			}
			return assert.LessOrEqual(t, c.Len(), size)
		})
	}
	for r := range 4 {
		repeat(func(i int) bool {
			k := (i*13 + r) % keys
			if v, ok := c.Lookup(k); ok && v != k*10 {
				t.Errorf("key %d read %d", k, v)
				return false
			}
			return true
		})
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), size)
}

func TestRemovedValuesFreeTheirPlaceForTheNextOnes(t *testing.T) {
	c := readcache.New[string, string](3, time.Minute)
	for _, k := range []string{"a", "b", "c"} {
		c.StoreIfCurrent(c.Generation(), k, k)
		_, _ = c.Lookup(k) // used: the hand would rather keep them
	}
	c.Remove("b")
	c.StoreIfCurrent(c.Generation(), "d", "d")
	for _, k := range []string{"a", "c", "d"} {
		_, ok := c.Lookup(k)
		assert.True(t, ok, "%s was dropped while a removed value's place was free", k)
	}
	assert.Equal(t, 3, c.Len())
}

// InvalidateWhere drops only the values it is told to, and, like Invalidate, starts a new
// generation: a load under way may have read what the write changed, whichever value it is for.
func TestInvalidateWhereDropsOnlyTheChosenValuesAndStartsAGeneration(t *testing.T) {
	c := readcache.New[int, string](10, time.Minute)
	for i := range 6 {
		c.StoreIfCurrent(c.Generation(), i, fmt.Sprint("v", i))
	}
	generation := c.Generation()
	c.InvalidateWhere(func(key int, _ string) bool { return key >= 3 })
	for i := range 6 {
		_, ok := c.Lookup(i)
		assert.Equal(t, i < 3, ok, "value %d", i)
	}
	assert.Equal(t, 3, c.Len())

	c.StoreIfCurrent(generation, 9, "read before")
	_, ok := c.Lookup(9)
	assert.False(t, ok, "a value read before InvalidateWhere was kept")

	// The places of the dropped values are free for the next ones.
	for i := 10; i < 17; i++ {
		c.StoreIfCurrent(c.Generation(), i, "new")
	}
	assert.Equal(t, 10, c.Len())
	for i := range 3 {
		_, ok := c.Lookup(i)
		assert.True(t, ok, "value %d was evicted though the cache had room", i)
	}
}
