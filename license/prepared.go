package license

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Prepared is a set of stored licenses made ready to compute from again and again: sorted by
// id, the errors of those that no longer verify written once, and what Compute reads of each
// verified license's claims copied into one compact slice. A recompute over ten thousand
// licenses then walks contiguous memory instead of chasing every license's claims, dates and
// feature map across the heap. Prepare when the licenses change; Compute at any moment.
type Prepared struct {
	// sorted is every license, by id.
	sorted []Stored
	// invalid holds an error for each license that no longer verifies, by id.
	invalid []Diagnostic
	// verified are the licenses that verify, by id.
	verified []preparedLicense
	features featureTable
}

// preparedLicense is what Compute and Explain read of one verified license's claims. It is the
// one place they are read, so the rules see each claim the same way.
type preparedLicense struct {
	id int64
	// exp is when the license stops counting, the end of its grace period; without one, it
	// never counts.
	exp    time.Time
	hasExp bool
	// nbf is when it starts counting; without one, it counts from the start.
	nbf    time.Time
	hasNBF bool
	iat    time.Time
	hasIAT bool
	// paidEnd is the end of the paid term: license_expires (hasPaidEnd). Upload guarantees
	// one, but a missing one is read as exp, "no grace period", rather than a crash.
	paidEnd    time.Time
	hasPaidEnd bool
	// granted is what the license turns on, user_limit aside; userLimit is its user_limit.
	granted          featureMask
	userLimit        int64
	trial            bool
	requireTelemetry bool
}

// Prepare makes licenses ready for Compute. It keeps licenses (or a sorted copy when they are
// not by id): nothing may change them afterwards.
func Prepare(licenses []Stored) Prepared {
	p := Prepared{sorted: sortedByID(licenses), features: newFeatureTable()}
	p.verified = make([]preparedLicense, 0, len(p.sorted))
	for _, s := range p.sorted {
		if s.Err != nil || s.License == nil {
			id := s.ID
			p.invalid = append(p.invalid, Diagnostic{
				Code: CodeLicenseInvalid, Severity: SeverityError, LicenseID: &id,
				Message: fmt.Sprintf("Invalid license (%s): %s", s.UUID, cause(s.Err)),
			})
			continue
		}
		p.verified = append(p.verified, p.features.prepare(s.ID, &s.License.Claims))
	}
	return p
}

// prepare reads one verified license's claims.
func (t featureTable) prepare(id int64, c *Claims) preparedLicense {
	l := preparedLicense{
		id:               id,
		granted:          t.granted(c),
		userLimit:        c.Features[featureUserLimit],
		trial:            c.Trial,
		requireTelemetry: c.RequireTelemetry,
	}
	if c.ExpiresAt != nil {
		l.exp, l.hasExp = c.ExpiresAt.Time, true
	}
	if c.NotBefore != nil {
		l.nbf, l.hasNBF = c.NotBefore.Time, true
	}
	if c.IssuedAt != nil {
		l.iat, l.hasIAT = c.IssuedAt.Time, true
	}
	l.paidEnd = l.exp
	if c.LicenseExpires != nil {
		l.paidEnd, l.hasPaidEnd = c.LicenseExpires.Time, true
	}
	return l
}

// LatestPaidEnd is the latest license_expires, in UTC, of the verified licenses not yet
// expired at now (exp); zero when there is none.
func (p Prepared) LatestPaidEnd(now time.Time) time.Time {
	var latest time.Time
	for i := range p.verified {
		l := &p.verified[i]
		if l.hasPaidEnd && l.hasExp && now.Before(l.exp) && l.paidEnd.After(latest) {
			latest = l.paidEnd.UTC()
		}
	}
	return latest
}

// countsAt reports whether the license counts at now: nbf <= now < exp.
func (l *preparedLicense) countsAt(now time.Time) bool {
	if !l.hasExp || !now.Before(l.exp) {
		return false
	}
	return !l.hasNBF || !now.Before(l.nbf)
}

// levelAt is the level a counting license gives at now.
func (l *preparedLicense) levelAt(now time.Time) Entitlement {
	if now.Before(l.paidEnd) {
		return EntitlementEntitled
	}
	return EntitlementGracePeriod
}

// sortedByID orders licenses by id, so warnings and errors come out in the same order whatever
// order the caller used.
func sortedByID(licenses []Stored) []Stored {
	byID := func(a, b Stored) int { return cmp.Compare(a.ID, b.ID) }
	if slices.IsSortedFunc(licenses, byID) {
		return licenses // as the store reads them; callers only read the result
	}
	sorted := slices.Clone(licenses)
	slices.SortStableFunc(sorted, byID)
	return sorted
}

// featureMask is a set of features, bit i standing for names[i] of a featureTable.
type featureMask uint64

func (m featureMask) has(i int) bool { return m&(1<<i) != 0 }

// featureTable numbers the known features, so that what a license grants is a featureMask
// found with a map lookup per feature the license names, not a pass over every known feature.
type featureTable struct {
	names []string
	index map[string]int
	// premium and enterprise are what those feature sets grant; userLimit is user_limit alone,
	// which no set grants: only an explicit limit does, and Compute handles it.
	premium, enterprise, userLimit featureMask
}

func newFeatureTable() featureTable {
	t := featureTable{names: FeatureNames(), index: map[string]int{}}
	for i, name := range t.names {
		t.index[name] = i
		bit := featureMask(1) << i
		switch name {
		case featureUserLimit:
			t.userLimit = bit
		case featureCustomRoles, featureMultipleOrganizations:
			t.premium |= bit
		default:
			t.premium |= bit
			t.enterprise |= bit
		}
	}
	return t
}

// granted is the set of features a license turns on: its feature set's (premium, or enterprise,
// which all_features is the old way of writing when there is no feature_set: it never grants
// the premium-only features), and any known feature it names with a value above zero.
func (t featureTable) granted(c *Claims) featureMask {
	var m featureMask
	switch strings.ToLower(c.FeatureSet) { // allocates nothing for lower case, the usual one
	case "premium":
		return t.premium
	case "enterprise":
		m = t.enterprise
	default:
		if c.AllFeatures {
			m = t.enterprise
		}
	}
	for name, value := range c.Features {
		if i, known := t.index[name]; known && value > 0 {
			m |= 1 << i
		}
	}
	return m &^ t.userLimit
}
