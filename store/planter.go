package store

import (
	"context"
	"log/slog"
	"time"
)

// Marks learnt only from the pages asked for (offsets.go) left the first page at a new depth as
// slow as no marks at all: on a server just started with a million organizations, the page in
// the middle stepped over half a million index entries first (56 ms on SQLite, 116 ms on
// PostgreSQL), and so did the next one at any depth nobody had paged near. KeepOffsetMarks
// plants them ahead of any page: it walks the list a stride at a time, from the start or from
// the last mark still kept, and keeps each mark it finds, so that a page at any depth starts
// within a stride of its first row.
//
// It looks every plantInterval for marks missing (a write dropped them, the caches were
// emptied, the list grew past the last one) or due for renewal, and walks from the first of
// those. Renewing each mark at half its maximum age keeps the marks of a list nobody pages
// through from expiring all at once; it also makes the walk the marks' safety net, as the age
// is for the other caches: a change nobody was told about (rows written behind the store's
// back) moves the pages for at most that long.
//
// The cost is one query per mark, each stepping over a stride of entries of the index alone: at
// a million organizations, a walk of a thousand queries at start and every 2.5 minutes after
// (bench/scale.md has its time). A list shorter than a stride has no mark, and costs one query
// each time the marks' generation moves.

const (
	// plantInterval is how often the planter looks for marks missing or due for renewal.
	plantInterval = time.Second
	// markRenewalAge is the age at which a mark is found again, before it expires.
	markRenewalAge = offsetMarksMaxAge / 2
	// plantRestFactor bounds the planter's share of the time: after a walk that took d, it
	// rests at least this many times d, so that writes that keep dropping the marks of a long
	// list do not keep it walking.
	plantRestFactor = 9
)

// KeepOffsetMarks plants the offset marks of the list of every organization until ctx ends
// (see above). Only pages read outside a transaction use them.
func (s *Store) KeepOffsetMarks(ctx context.Context, logger *slog.Logger) {
	p := &marksPlanter{store: s, logger: logger, renewalAge: markRenewalAge}
	timer := time.NewTimer(0)
	defer timer.Stop()
	started := time.Now()
	reported := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		complete := p.walk(ctx)
		timer.Reset(max(plantInterval, plantRestFactor*time.Since(start)))
		// Once, so an operator sees what the walk costs at this size: from the start to the
		// first time every mark the list has room for is kept.
		if marks := s.OffsetMarks(); complete && marks > 0 && !reported {
			reported = true
			logger.Info("offset marks planted", "marks", marks, "took_ms", time.Since(started).Milliseconds())
		}
	}
}

// OffsetMarks counts the offset marks usable now, for the metrics.
func (s *Store) OffsetMarks() int {
	m := s.organizationMarks()
	if m == nil {
		return 0
	}
	n := 0
	for at := range m.offsets() {
		if _, ok := m.cache.Lookup(at); ok {
			n++
		}
	}
	return n
}

// marksPlanter is the state KeepOffsetMarks keeps from one walk to the next.
type marksPlanter struct {
	store      *Store
	logger     *slog.Logger
	renewalAge time.Duration

	// end is where the list was last found to end: no row at this offset, in this generation
	// of the marks, at this time. While the generation stays, the list has not changed.
	end struct {
		offset     int
		generation uint64
		at         time.Time
	}
	// failing says the last walk failed, so the next failure is not logged again.
	failing bool
}

// walk plants the marks missing or due for renewal, in order, up to the end of the list or as
// many as the marks' cache holds, and says whether it got there. It stops early when a write
// moves the marks' generation: the next walk starts again from what is left.
func (p *marksPlanter) walk(ctx context.Context) (complete bool) {
	m := p.store.organizationMarks()
	if m == nil {
		return false // the caches keep nothing now (PostgreSQL, while no listener hears)
	}
	fromOffset := 0
	for at := range m.offsets() {
		if ctx.Err() != nil {
			return false
		}
		// Recorded before any mark is read, as firstChunk does.
		generation := m.cache.Generation()
		if _, ok := m.cache.LookupWithin(at, p.renewalAge); ok {
			fromOffset = at
			continue
		}
		if p.end.offset == at && p.end.generation == generation && time.Since(p.end.at) < p.renewalAge {
			return true // the list ended here, and nothing changed since
		}
		// The mark walked from, as kept in this generation: one dropped since it was passed
		// may have moved.
		var from *keyset
		if fromOffset > 0 {
			place, ok := m.cache.Lookup(fromOffset)
			if !ok {
				return false
			}
			from = &place
		}
		place, found, err := placeAfter(p.store.everyOrganization(ctx), organizationsCreatedAt, organizationsKey, organizationPlace, from, at-fromOffset)
		if err != nil {
			p.failed(ctx, at, err)
			return false
		}
		p.failing = false
		if !found {
			p.end.offset, p.end.generation, p.end.at = at, generation, time.Now()
			return true
		}
		m.cache.StoreIfCurrent(generation, at, place)
		if m.cache.Generation() != generation {
			return false
		}
		fromOffset = at
	}
	return true
}

// failed logs why a walk stopped, once until a walk succeeds: with the database unavailable,
// every walk fails alike, and the requests report it.
func (p *marksPlanter) failed(ctx context.Context, at int, err error) {
	if ctx.Err() != nil || p.failing {
		return
	}
	p.failing = true
	p.logger.Warn("plant the offset marks of the organizations", "offset", at, "error", err)
}
