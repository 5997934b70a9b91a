package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOneOfManyConcurrentRequestsWritesADueTouch(t *testing.T) {
	tt := newTouches[string](time.Minute)
	stored := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	now := stored.Add(61 * time.Second)
	var writes atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			// Every request read the same cached key, with the old last use.
			if tt.claim("key", stored, now) {
				writes.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), writes.Load(), "requests in flight when the touch fell due each wrote it")

	assert.False(t, tt.claim("key", stored, now.Add(59*time.Second)), "touched again within the interval")
	assert.True(t, tt.claim("key", stored, now.Add(time.Minute)), "not touched once the interval after the claim passed")
	assert.False(t, tt.claim("other", now, now.Add(time.Second)), "a fresh stored value needs no touch")
}

func TestAFailedTouchIsTriedAgain(t *testing.T) {
	tt := newTouches[string](time.Minute)
	stored := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	now := stored.Add(2 * time.Minute)
	assert.True(t, tt.claim("key", stored, now))
	tt.release("key", now)
	assert.True(t, tt.claim("key", stored, now.Add(time.Millisecond)), "a failed write left the touch claimed")
}

func TestTouchesForgetOldClaims(t *testing.T) {
	tt := newTouches[string](time.Minute)
	start := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for i := range touchesPruneAt {
		tt.claim(fmt.Sprint(i), time.Time{}, start)
	}
	tt.claim("late", time.Time{}, start.Add(2*time.Minute))
	assert.Len(t, tt.last, 1, "claims older than the interval were kept")
}
