package license

import (
	"container/heap"
	"slices"
	"time"
)

// featureSweep walks the future moments of a set of licenses in order, keeping the features
// they give as evaluate would compute them at each moment, at the cost of the licenses whose
// standing changes at that moment rather than of every license. Explain's timeline needs the
// features just before and at each moment; evaluating every license twice per moment took
// 400 ms for 10,000 licenses ending on 730 days, and grew with licenses times moments.
//
// Only the features are kept (each one's level, and the user limit chosen): warnings,
// errors and the rest of evaluate's result are not what a timeline entry shows.
type featureSweep struct {
	p     Prepared
	usage Usage
	// standing is each verified license's level at the moment reached, by index in
	// p.verified: EntitlementNotEntitled while it does not count.
	standing []Entitlement
	// version counts each license's changes of standing, so an offer in the heap made under
	// an earlier standing is known to be stale.
	version []int
	// entitled and grace count, per feature, the counting licenses that give it at that level.
	entitled, grace []int
	// offers holds the user-limit offers of counting licenses, the best on top; stale ones are
	// dropped when they reach the top.
	offers offerHeap
}

// newFeatureSweep starts a sweep with the licenses as they stand at now.
func newFeatureSweep(p Prepared, now time.Time, usage Usage) *featureSweep {
	n := len(p.features.names)
	s := &featureSweep{
		p:        p,
		usage:    usage,
		standing: make([]Entitlement, len(p.verified)),
		version:  make([]int, len(p.verified)),
		entitled: make([]int, n),
		grace:    make([]int, n),
		offers:   offerHeap{choice: userLimitChoice{actual: usage.ActiveUsers}},
	}
	for i := range p.verified {
		s.standing[i] = EntitlementNotEntitled
		s.update(i, now)
	}
	return s
}

// standingAt is the level license l gives at t, or EntitlementNotEntitled when it does not
// count: what evaluate reads of it.
func standingAt(l *preparedLicense, t time.Time) Entitlement {
	if !l.countsAt(t) {
		return EntitlementNotEntitled
	}
	return l.levelAt(t)
}

// update brings license i to its standing at t.
func (s *featureSweep) update(i int, t time.Time) {
	l := &s.p.verified[i]
	before, after := s.standing[i], standingAt(l, t)
	if before == after {
		return
	}
	s.count(l, before, -1)
	s.count(l, after, +1)
	s.standing[i] = after
	s.version[i]++
	if after != EntitlementNotEntitled && l.userLimit > 0 {
		heap.Push(&s.offers, heldOffer{userLimitOffer: userLimitOffer{limit: l.userLimit, level: after, license: l},
			index: i, version: s.version[i]})
	}
}

// count adds delta to the features license l gives at level.
func (s *featureSweep) count(l *preparedLicense, level Entitlement, delta int) {
	var counts []int
	switch level {
	case EntitlementEntitled:
		counts = s.entitled
	case EntitlementGracePeriod:
		counts = s.grace
	default:
		return
	}
	for f := range counts {
		if l.granted.has(f) {
			counts[f] += delta
		}
	}
}

// features are the features as evaluate gives them at the moment reached: each feature's
// level and the user limit, which is all FeatureChanges compares.
func (s *featureSweep) features() Entitlements {
	names := s.p.features.names
	ent := Entitlements{Features: make(map[string]Feature, len(names))}
	for f, name := range names {
		feature := Feature{Entitlement: EntitlementNotEntitled}
		switch {
		case s.entitled[f] > 0:
			feature.Entitlement, feature.Enabled = EntitlementEntitled, true
		case s.grace[f] > 0:
			feature.Entitlement, feature.Enabled = EntitlementGracePeriod, true
		}
		ent.Features[name] = feature
	}
	for len(s.offers.held) > 0 {
		top := s.offers.held[0]
		if s.version[top.index] == top.version {
			users := ent.Features[featureUserLimit]
			limit := top.limit
			users.Entitlement, users.Enabled, users.Limit = top.level, true, &limit
			ent.Features[featureUserLimit] = users
			break
		}
		heap.Pop(&s.offers)
	}
	return ent
}

// heldOffer is a user-limit offer in the sweep's heap: index is the license's place in
// p.verified (on a tie the first offer wins, as evaluate considers them in that order), and
// version its standing when the offer was made.
type heldOffer struct {
	userLimitOffer
	index, version int
}

// offerHeap orders offers as choice does, the best first.
type offerHeap struct {
	choice userLimitChoice
	held   []heldOffer
}

func (h *offerHeap) Len() int { return len(h.held) }

func (h *offerHeap) Less(i, j int) bool {
	a, b := h.held[i], h.held[j]
	if h.choice.better(a.userLimitOffer, b.userLimitOffer) {
		return true
	}
	if h.choice.better(b.userLimitOffer, a.userLimitOffer) {
		return false
	}
	return a.index < b.index
}

func (h *offerHeap) Swap(i, j int) { h.held[i], h.held[j] = h.held[j], h.held[i] }

func (h *offerHeap) Push(x any) { h.held = append(h.held, x.(heldOffer)) }

func (h *offerHeap) Pop() any {
	last := h.held[len(h.held)-1]
	h.held = h.held[:len(h.held)-1]
	return last
}

// changesAtMoments sweeps the licenses' moments after now and returns, for each, the features
// that change at it: the features just before the moment against those at it. The features
// only change at the licenses' moments, so "just before" one is where the previous left them.
func changesAtMoments(p Prepared, now time.Time, usage Usage, events []licenseEvent) map[time.Time]map[string]FeatureChange {
	byMoment := map[time.Time][]int{}
	index := make(map[int64]int, len(p.verified))
	for i := range p.verified {
		index[p.verified[i].id] = i
	}
	for _, e := range events {
		if e.at.After(now) {
			byMoment[e.at] = append(byMoment[e.at], index[e.license])
		}
	}
	moments := make([]time.Time, 0, len(byMoment))
	for at := range byMoment {
		moments = append(moments, at)
	}
	slices.SortFunc(moments, func(a, b time.Time) int { return a.Compare(b) })

	sweep := newFeatureSweep(p, now, usage)
	before := sweep.features()
	changes := make(map[time.Time]map[string]FeatureChange, len(moments))
	for _, at := range moments {
		for _, i := range byMoment[at] {
			sweep.update(i, at)
		}
		after := sweep.features()
		changes[at] = FeatureChanges(before, after)
		before = after
	}
	return changes
}
