package server

import (
	"sync"
	"time"
)

// touches decides which request writes a session's last use (or a user's last_seen_at) once
// it is due. The key read from the cache keeps its old last use until the write invalidates
// it, so without this every request in flight at the moment a touch fell due wrote it: 64
// concurrent requests of one session made 64 serialized UPDATEs, each with its commit's fsync,
// and stalled that session for a hundred milliseconds once a minute. Now the first request
// claims the touch and the others see it done. Across replicas each may still write once.
type touches[ID comparable] struct {
	interval time.Duration

	mu   sync.Mutex
	last map[ID]time.Time // id → when this replica last claimed its touch
}

// touchesPruneAt is how many ids touches keeps before it forgets the ones whose claim is older
// than the interval (the stored value then says as much as the memory did).
const touchesPruneAt = 10_000

func newTouches[ID comparable](interval time.Duration) *touches[ID] {
	return &touches[ID]{interval: interval, last: map[ID]time.Time{}}
}

// claim says whether the caller should write the touch of id, whose stored last use is stored,
// at now: when neither the stored value nor a claim of this replica is within the interval.
func (t *touches[ID]) claim(id ID, stored, now time.Time) bool {
	if now.Sub(stored) < t.interval {
		// Nearly every request: the stored value is recent, and a claim only ever makes it
		// later, so there is nothing to decide and no lock to take.
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if claimed, ok := t.last[id]; ok && claimed.After(stored) {
		stored = claimed
	}
	if now.Sub(stored) < t.interval {
		return false
	}
	if len(t.last) >= touchesPruneAt {
		for other, at := range t.last {
			if now.Sub(at) >= t.interval {
				delete(t.last, other)
			}
		}
	}
	t.last[id] = now
	return true
}

// release forgets a claim whose write failed, so that the next request tries again.
func (t *touches[ID]) release(id ID, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[id].Equal(at) {
		delete(t.last, id)
	}
}
