package license

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Entitlement is how far the deployment may use one feature.
type Entitlement string

// The entitlement levels, best first.
const (
	EntitlementEntitled    Entitlement = "entitled"
	EntitlementGracePeriod Entitlement = "grace_period"
	EntitlementNotEntitled Entitlement = "not_entitled"
)

// rank orders levels so that the best one any license gives wins.
func (e Entitlement) rank() int {
	switch e {
	case EntitlementEntitled:
		return 2
	case EntitlementGracePeriod:
		return 1
	default:
		return 0
	}
}

const (
	featureUserLimit             = "user_limit"
	featureHighAvailability      = "high_availability"
	featureCustomRoles           = "custom_roles"
	featureMultipleOrganizations = "multiple_organizations"
	featureOAuth2Provider        = "oauth2_provider"
)

// FeatureNames returns the known features in the contract's order; it is a fresh slice each
// call so no caller can change the list for another.
func FeatureNames() []string {
	return []string{
		featureUserLimit,
		"audit_log",
		"browser_only",
		"scim",
		"template_rbac",
		featureHighAvailability,
		"multiple_external_auth",
		"external_provisioner_daemons",
		"appearance",
		"advanced_template_scheduling",
		"workspace_proxy",
		"user_role_management",
		"external_token_encryption",
		"workspace_batch_actions",
		"access_control",
		"control_shared_ports",
		featureOAuth2Provider,
		featureCustomRoles,
		featureMultipleOrganizations,
		"workspace_prebuilds",
	}
}

// UnknownFeatures lists, sorted, the names in features that are not known features.
func UnknownFeatures[V any](features map[string]V) []string {
	var unknown []string
	for name := range features {
		if !slices.Contains(FeatureNames(), name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// humanize is a feature's name as Coder's warnings write it: "Audit Log", "Template RBAC".
func humanize(name string) string {
	switch name {
	case "template_rbac":
		return "Template RBAC"
	case "scim":
		return "SCIM"
	case featureOAuth2Provider:
		return "OAuth2 Provider"
	}
	words := strings.Split(name, "_")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// Expiry warning windows: how long before the paid term ends the deployment is told.
const (
	expiryWarningPaid  = 30 * 24 * time.Hour
	expiryWarningTrial = 7 * 24 * time.Hour
	day                = 24 * time.Hour
)

// Usage is what the deployment uses right now.
type Usage struct {
	// ActiveUsers is compared against user_limit.
	ActiveUsers int64
	// Replicas is how many server replicas run; more than one needs high_availability.
	Replicas int
}

// Stored is a license as the server holds it: verified once when loaded, Err set when it no
// longer verifies (License is then unused).
type Stored struct {
	// ID orders warnings and errors.
	ID int64
	// UUID names the license in warnings and errors.
	UUID uuid.UUID
	// License is the verified token; unused when Err is set.
	License *License
	// Err is why the license no longer verifies, typically a *Error from VerifyStored.
	Err error
}

// Feature is one feature's state in Entitlements.
type Feature struct {
	Entitlement Entitlement `json:"entitlement"`
	Enabled     bool        `json:"enabled"`
	Limit       *int64      `json:"limit,omitempty"`
	Actual      *int64      `json:"actual,omitempty"`
}

// Entitlements is what the deployment may use, computed from its licenses at one moment.
type Entitlements struct {
	Features         map[string]Feature `json:"features"`
	Warnings         []string           `json:"warnings"`
	Errors           []string           `json:"errors"`
	HasLicense       bool               `json:"has_license"`
	Trial            bool               `json:"trial"`
	RequireTelemetry bool               `json:"require_telemetry"`
	RefreshedAt      time.Time          `json:"refreshed_at"`
}

// Compute derives the entitlements at now, and nextChange: the earliest moment after now at which
// the same inputs would give a different result (zero when nothing is pending), so the caller can
// recompute exactly then instead of up to a tick late.
func Compute(licenses []Stored, now time.Time, usage Usage) (ent Entitlements, nextChange time.Time) {
	ev := evaluate(licenses, now, usage)
	return ev.ent, ev.next
}

// evaluation is everything one look at the licenses finds: the entitlements, the diagnostics
// their warnings and errors are made from, and the licenses whose events can change them later.
type evaluation struct {
	ent         Entitlements
	diagnostics []Diagnostic
	// verified are the licenses that verified, by id, whose events Explain lists.
	verified []verifiedLicense
	next     time.Time
}

// evaluate is Compute's work, shared with Explain so the two can never disagree. Warnings and
// errors are the messages of the diagnostics, in the order they are found.
func evaluate(licenses []Stored, now time.Time, usage Usage) evaluation {
	names := FeatureNames()
	ent := Entitlements{
		Features:    make(map[string]Feature, len(names)),
		Warnings:    []string{},
		Errors:      []string{},
		RefreshedAt: now,
	}
	var diagnostics []Diagnostic

	// A deployment may hold thousands of licenses, so the loop below allocates nothing per
	// license: features are tracked by their index in names, claims by pointer.
	verified := make([]verifiedLicense, 0, len(licenses))
	var limits []userLimitOffer
	// levels is, per feature, the best level a counting license gives it; graceFrom, per
	// feature, the counting license in grace that keeps it on longest (when graced).
	levels := make([]Entitlement, len(names))
	graceFrom := make([]verifiedLicense, len(names))
	graced := make([]bool, len(names))
	allTrial := true
	for _, s := range sortedByID(licenses) {
		if s.Err != nil || s.License == nil {
			id := s.ID // not &s.ID: that would move every iteration's s to the heap
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeLicenseInvalid, Severity: SeverityError, LicenseID: &id,
				Message: fmt.Sprintf("Invalid license (%s): %s", s.UUID, cause(s.Err)),
			})
			continue
		}
		v := verifiedLicense{id: s.ID, claims: &s.License.Claims}
		verified = append(verified, v)
		c := v.claims
		if !counts(c, now) {
			continue
		}
		level := levelAt(c, now)
		ent.HasLicense = true
		allTrial = allTrial && c.Trial
		ent.RequireTelemetry = ent.RequireTelemetry || c.RequireTelemetry
		set := featureSetOf(c)
		for i, name := range names {
			if !grants(c, set, name) {
				continue
			}
			if level.rank() > levels[i].rank() {
				levels[i] = level
			}
			if level == EntitlementGracePeriod && (!graced[i] || c.ExpiresAt.After(graceFrom[i].claims.ExpiresAt.Time)) {
				graceFrom[i], graced[i] = v, true
			}
		}
		if limit := c.Features[featureUserLimit]; limit > 0 {
			limits = append(limits, userLimitOffer{limit: limit, level: level, license: v})
		}
	}
	for i, name := range names {
		f := Feature{Entitlement: EntitlementNotEntitled}
		if levels[i].rank() > f.Entitlement.rank() {
			f.Entitlement, f.Enabled = levels[i], true
		}
		ent.Features[name] = f
	}
	ent.Trial = ent.HasLicense && allTrial

	// Coder's wording: one warning per feature that only a license in grace still grants.
	for i, name := range names {
		if name != featureUserLimit && ent.Features[name].Entitlement == EntitlementGracePeriod {
			src := graceFrom[i]
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeFeatureInGrace, Severity: SeverityWarning, Feature: name,
				LicenseID: &src.id, At: src.claims.ExpiresAt.Time,
				Message: humanize(name) + " is enabled but your license for this feature is expired.",
			})
		}
	}

	expiring, warningChange := expiryWarning(verified, now, ent.Trial)
	if expiring != nil {
		diagnostics = append(diagnostics, *expiring)
	}

	actual := usage.ActiveUsers
	users := ent.Features[featureUserLimit]
	users.Actual = &actual
	if offer, ok := bestUserLimit(limits, actual); ok {
		users.Entitlement, users.Enabled, users.Limit = offer.level, true, &offer.limit
		id := offer.license.id
		switch {
		case offer.level == EntitlementGracePeriod:
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeUserLimitInGrace, Severity: SeverityWarning, Feature: featureUserLimit,
				LicenseID: &id, At: offer.license.claims.ExpiresAt.Time,
				Message: fmt.Sprintf("Your deployment has %d active users but the license with the limit %d is expired.", actual, offer.limit),
			})
		case actual > offer.limit:
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeUserLimitExceeded, Severity: SeverityWarning, Feature: featureUserLimit, LicenseID: &id,
				Message: fmt.Sprintf("Your deployment has %d active users but is only licensed for %d.", actual, offer.limit),
			})
		}
	}
	ent.Features[featureUserLimit] = users

	if usage.Replicas > 1 && !ent.Features[featureHighAvailability].Enabled {
		// Coder's words, without its sentence about workspaces, which entitle does not serve.
		message := "You have multiple replicas but high availability is an Enterprise feature."
		if ent.HasLicense {
			message = "You have multiple replicas but your license is not entitled to high availability."
		}
		diagnostics = append(diagnostics, Diagnostic{
			Code: CodeHANotEntitled, Severity: SeverityError, Feature: featureHighAvailability, Message: message,
		})
	}

	for _, d := range diagnostics {
		if d.Severity == SeverityError {
			ent.Errors = append(ent.Errors, d.Message)
		} else {
			ent.Warnings = append(ent.Warnings, d.Message)
		}
	}

	next := earliestAfter(now, warningChange)
	licenseChanges(verified, now, func(e licenseEvent) { next = earliestAfter(now, next, e.at) })
	return evaluation{ent: ent, diagnostics: diagnostics, verified: verified, next: next}
}

// verifiedLicense is a stored license that verified: its id and its claims, shared with the
// Stored it came from (which nothing changes).
type verifiedLicense struct {
	id     int64
	claims *Claims
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

// userLimitOffer is the user limit one counting license gives, and at which level.
type userLimitOffer struct {
	limit   int64
	level   Entitlement
	license verifiedLicense
}

// bestUserLimit picks the one license whose user limit the deployment gets, whole: limits are
// never combined across licenses. A limit that covers the active users beats one that does
// not; then entitled beats grace; then the larger limit wins. This is how Coder's own tests
// expect it: an entitled 100-seat license beside a 500-seat license in grace, with 200 users,
// gives grace_period with limit 500.
func bestUserLimit(offers []userLimitOffer, actual int64) (userLimitOffer, bool) {
	better := func(a, b userLimitOffer) bool {
		if aCovers, bCovers := a.limit >= actual, b.limit >= actual; aCovers != bCovers {
			return aCovers
		}
		if a.level.rank() != b.level.rank() {
			return a.level.rank() > b.level.rank()
		}
		return a.limit > b.limit
	}
	var best userLimitOffer
	found := false
	for _, o := range offers {
		if !found || better(o, best) {
			best, found = o, true
		}
	}
	return best, found
}

// cause is the reason a stored license no longer verifies, without the envelope message.
func cause(err error) string {
	var licErr *Error
	if errors.As(err, &licErr) {
		return licErr.Detail
	}
	if err != nil {
		return err.Error()
	}
	return "license was not loaded"
}

// counts reports whether a license counts at now: nbf <= now < exp.
func counts(c *Claims, now time.Time) bool {
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		return false
	}
	return c.NotBefore == nil || !now.Before(c.NotBefore.Time)
}

// paidEnd is the end of the paid term; upload guarantees license_expires, but a missing one
// is read as "no grace period" rather than a crash.
func paidEnd(c *Claims) time.Time {
	if c.LicenseExpires != nil {
		return c.LicenseExpires.Time
	}
	return c.ExpiresAt.Time
}

// levelAt is the level a counting license gives at now.
func levelAt(c *Claims, now time.Time) Entitlement {
	if now.Before(paidEnd(c)) {
		return EntitlementEntitled
	}
	return EntitlementGracePeriod
}

// grantedFeatures lists the features a license turns on, user_limit aside since it carries a limit.
func grantedFeatures(c *Claims) []string {
	var granted []string
	set := featureSetOf(c)
	for _, name := range FeatureNames() {
		if grants(c, set, name) {
			granted = append(granted, name)
		}
	}
	return granted
}

// featureSet is a license's feature_set as grants reads it.
type featureSet int

const (
	featureSetOther featureSet = iota
	featureSetEnterprise
	featureSetPremium
)

// featureSetOf reads feature_set in any case. strings.ToLower allocates nothing for a value
// already in lower case, the usual one.
func featureSetOf(c *Claims) featureSet {
	switch strings.ToLower(c.FeatureSet) {
	case "premium":
		return featureSetPremium
	case "enterprise":
		return featureSetEnterprise
	}
	return featureSetOther
}

// grants reports whether a license with claims c and feature set set (featureSetOf(c)) turns
// the feature name on; user_limit never, since it carries a limit that Compute handles.
func grants(c *Claims, set featureSet, name string) bool {
	switch {
	case name == featureUserLimit:
		return false
	case set == featureSetPremium:
		return true
	case (set == featureSetEnterprise || c.AllFeatures) && name != featureCustomRoles && name != featureMultipleOrganizations:
		// all_features is the old way of writing "enterprise": with no feature_set it
		// grants the enterprise set, never the premium-only features.
		return true
	}
	return c.Features[name] > 0
}

// paidTerm is [start, end) of one license's paid term; no start means it began before anything.
type paidTerm struct {
	license  int64
	start    time.Time
	hasStart bool
	end      time.Time
}

// startsBy reports whether the term has begun by t.
func (p paidTerm) startsBy(t time.Time) bool { return !p.hasStart || !p.start.After(t) }

// expiryWarning returns the "expires in N days" diagnostic, if due, and the next moment it
// changes: when it starts showing, or when its day count next drops.
//
// Coverage is the union of the paid terms of every verified license that has not expired,
// including ones that start later, so a follow-on license uploaded ahead of time that starts no
// later than the current term ends silences the warning.
func expiryWarning(verified []verifiedLicense, now time.Time, trial bool) (*Diagnostic, time.Time) {
	terms := make([]paidTerm, 0, len(verified))
	for _, v := range verified {
		c := v.claims
		if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
			continue
		}
		term := paidTerm{license: v.id, end: paidEnd(c)}
		switch {
		case c.NotBefore != nil:
			term.start, term.hasStart = c.NotBefore.Time, true
		case c.IssuedAt != nil:
			term.start, term.hasStart = c.IssuedAt.Time, true
		}
		terms = append(terms, term)
	}

	last, covered := coverageEnd(terms, now)
	if !covered {
		return nil, time.Time{}
	}
	window := expiryWarningPaid
	if trial {
		window = expiryWarningTrial
	}
	// Days left, rounded up, so the last hours read "1 day", never "0 days". As in Coder, the
	// warning shows while that count is below the window's: exactly 30 days left is silent.
	end := last.end
	left := end.Sub(now)
	days := (left + day - 1) / day
	if days >= window/day {
		return nil, end.Add(-(window - day))
	}
	next := end.Add(-(days - 1) * day)
	message := fmt.Sprintf("Your license expires in %d days.", days)
	if days == 1 {
		message = "Your license expires in 1 day."
	}
	return &Diagnostic{
		Code: CodeLicenseExpiring, Severity: SeverityWarning, LicenseID: &last.license, At: end, Message: message,
	}, next
}

// coverageEnd finds the term that ends the stretch of paid terms covering now, following terms
// that start no later than the current end.
func coverageEnd(terms []paidTerm, now time.Time) (paidTerm, bool) {
	var last paidTerm
	covered := false
	for _, term := range terms {
		if term.startsBy(now) && now.Before(term.end) && (!covered || term.end.After(last.end)) {
			last, covered = term, true
		}
	}
	if !covered {
		return paidTerm{}, false
	}
	for extended := true; extended; {
		extended = false
		for _, term := range terms {
			if term.startsBy(last.end) && term.end.After(last.end) {
				last, extended = term, true
			}
		}
	}
	return last, true
}

// licenseEvent is a moment at which a verified license changes: it starts counting, enters
// grace, or stops counting. Events that change nothing about the features by themselves (the
// paid term of a license without nbf starting, which only moves the expiry warning; a grace
// period that starts before the license does or when it ends) are still moments to recompute
// at, but are not shown in a timeline.
type licenseEvent struct {
	at      time.Time
	event   Event
	license int64
	shown   bool
}

// licenseChanges calls yield with each moment at which a verified license starts counting,
// enters grace, or stops counting, and when the paid term of one without nbf starts. Moments of
// a license still in force may already be past; Compute's next change and the timeline skip
// those. It hands the events over one by one rather than as a list, since Compute only needs
// the earliest of them.
func licenseChanges(verified []verifiedLicense, now time.Time, yield func(licenseEvent)) {
	for _, v := range verified {
		c := v.claims
		if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
			continue // expired for good: nothing about it changes again
		}
		if c.NotBefore != nil && !c.NotBefore.Before(c.ExpiresAt.Time) {
			continue // expires before it starts, so it never counts
		}
		exp, grace := c.ExpiresAt.Time, paidEnd(c)
		graceShown := grace.Before(exp) && (c.NotBefore == nil || grace.After(c.NotBefore.Time))
		yield(licenseEvent{at: exp, event: EventExpires, license: v.id, shown: true})
		yield(licenseEvent{at: grace, event: EventEntersGrace, license: v.id, shown: graceShown})
		if c.NotBefore != nil {
			yield(licenseEvent{at: c.NotBefore.Time, event: EventStarts, license: v.id, shown: true})
		} else if c.IssuedAt != nil {
			// Its paid term, and so the warning, starts here; it counted already.
			yield(licenseEvent{at: c.IssuedAt.Time, event: EventStarts, license: v.id})
		}
	}
}

// allLicenseChanges is licenseChanges as a list.
func allLicenseChanges(verified []verifiedLicense, now time.Time) []licenseEvent {
	events := make([]licenseEvent, 0, 3*len(verified))
	licenseChanges(verified, now, func(e licenseEvent) { events = append(events, e) })
	return events
}

// earliestAfter returns the earliest of moments strictly after now, or zero when there is none.
func earliestAfter(now time.Time, moments ...time.Time) time.Time {
	var earliest time.Time
	for _, m := range moments {
		if m.After(now) && (earliest.IsZero() || m.Before(earliest)) {
			earliest = m
		}
	}
	return earliest
}
