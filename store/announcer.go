package store

import (
	"sync"
)

// announcer tells the other replicas of inserts after their transactions have ended, from one
// goroutine that merges whatever is waiting into one announcement. An insert can make nothing
// kept stale (only a list of a user's organizations lacks the new one), so it need not be
// announced from inside its transaction, and must not be: a NOTIFY inside a transaction holds
// PostgreSQL's one notification lock from its COMMIT until the commit is flushed, so every
// notifying transaction commits alone, one fsync each (see
// TestInsertsAreAnnouncedAfterTheirTransactionAndChangesFromWithinIt). Sent from here, a burst
// of inserts costs one announcement for what piled up while the last was sent.
//
// What a crash between an insert's COMMIT and its announcement loses: the other replicas list
// the new row only when their kept list ages out (cacheMaxAge). Nothing revoked is ever
// served: changes and deletes are announced from inside their transactions.
type announcer struct {
	// send announces names now, and reports a failure itself (readCaches.announce).
	send func(names []cacheName)

	mu      sync.Mutex
	pending []cacheName
	running bool
	stopped bool
	// wake has room for one signal: pending has something to send.
	wake chan struct{}
	done chan struct{}
}

func newAnnouncer(send func([]cacheName)) *announcer {
	return &announcer{send: send, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// add queues names for the next announcement, starting the sender on first use. After stop,
// it sends them itself: a write must never go unannounced.
func (a *announcer) add(names []cacheName) {
	if len(names) == 0 {
		return
	}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		a.send(names)
		return
	}
	a.pending = mergeCacheNames(a.pending, names)
	if !a.running {
		a.running = true
		go a.run()
	}
	// Under the lock, so that stop cannot close wake in between.
	select {
	case a.wake <- struct{}{}:
	default: // a wake-up is already waiting; it will take these names too
	}
	a.mu.Unlock()
}

func (a *announcer) run() {
	defer close(a.done)
	for range a.wake {
		for {
			a.mu.Lock()
			names := a.pending
			a.pending = nil
			a.mu.Unlock()
			if len(names) == 0 {
				break
			}
			a.send(names)
		}
	}
}

// stop sends what is waiting and ends the sender; later adds send at once. It returns once
// everything added before it was sent.
func (a *announcer) stop() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	running := a.running
	close(a.wake)
	a.mu.Unlock()
	if running {
		<-a.done
	}
}
