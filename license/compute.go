package license

import (
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
		return "OAuth Provider" // as Coder's Humanize names it
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
// recompute exactly then instead of up to a tick late. It is Prepare(licenses).Compute.
func Compute(licenses []Stored, now time.Time, usage Usage) (ent Entitlements, nextChange time.Time) {
	return Prepare(licenses).Compute(now, usage)
}

// Compute is the package's Compute over the prepared licenses.
func (p Prepared) Compute(now time.Time, usage Usage) (ent Entitlements, nextChange time.Time) {
	ev := evaluate(p, now, usage)
	return ev.ent, ev.next
}

// evaluation is everything one look at the licenses finds: the entitlements, the diagnostics
// their warnings and errors are made from, and when they next change.
type evaluation struct {
	ent         Entitlements
	diagnostics []Diagnostic
	next        time.Time
}

// evaluate is Compute's work, shared with Explain so the two can never disagree. Warnings and
// errors are the messages of the diagnostics, in the order they are found.
func evaluate(p Prepared, now time.Time, usage Usage) evaluation {
	names := p.features.names
	ent := Entitlements{
		Features:    make(map[string]Feature, len(names)),
		Warnings:    []string{},
		Errors:      []string{},
		RefreshedAt: now,
	}
	// The licenses that no longer verify come first, by id.
	diagnostics := slices.Clone(p.invalid)

	// A deployment may hold thousands of licenses, so the loop below allocates nothing per
	// license: features are bits of a mask, and the user limit is chosen as the offers come.
	limit := userLimitChoice{actual: usage.ActiveUsers}
	// entitled and grace are the features some counting license gives at that level.
	var entitled, grace featureMask
	// graceFrom is, per feature, the counting license in grace that keeps it on longest.
	graceFrom := make([]*preparedLicense, len(names))
	allTrial := true
	for i := range p.verified {
		l := &p.verified[i]
		if !l.countsAt(now) {
			continue
		}
		level := l.levelAt(now)
		ent.HasLicense = true
		allTrial = allTrial && l.trial
		ent.RequireTelemetry = ent.RequireTelemetry || l.requireTelemetry
		if level == EntitlementEntitled {
			entitled |= l.granted
		} else {
			grace |= l.granted
			for f := range names {
				if l.granted.has(f) && (graceFrom[f] == nil || l.exp.After(graceFrom[f].exp)) {
					graceFrom[f] = l
				}
			}
		}
		if l.userLimit > 0 {
			limit.consider(userLimitOffer{limit: l.userLimit, level: level, license: l})
		}
	}
	for i, name := range names {
		f := Feature{Entitlement: EntitlementNotEntitled}
		switch {
		case entitled.has(i):
			f.Entitlement, f.Enabled = EntitlementEntitled, true
		case grace.has(i):
			f.Entitlement, f.Enabled = EntitlementGracePeriod, true
		}
		ent.Features[name] = f
	}
	ent.Trial = ent.HasLicense && allTrial

	// Coder's wording: one warning per feature that only a license in grace still grants.
	for i, name := range names {
		if name != featureUserLimit && ent.Features[name].Entitlement == EntitlementGracePeriod {
			src := graceFrom[i]
			id := src.id
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeFeatureInGrace, Severity: SeverityWarning, Feature: name,
				LicenseID: &id, At: src.exp,
				Message: humanize(name) + " is enabled but your license for this feature is expired.",
			})
		}
	}

	expiring, warningChange := expiryWarning(p.verified, now, ent.Trial)
	if expiring != nil {
		diagnostics = append(diagnostics, *expiring)
	}

	actual := usage.ActiveUsers
	users := ent.Features[featureUserLimit]
	users.Actual = &actual
	if offer, ok := limit.best, limit.found; ok {
		users.Entitlement, users.Enabled, users.Limit = offer.level, true, &offer.limit
		id := offer.license.id
		// One warning, as Coder gives: more users than the limit says so whether the license is
		// in grace or not; a limit in grace that still covers them says it is expired.
		switch {
		case actual > offer.limit:
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeUserLimitExceeded, Severity: SeverityWarning, Feature: featureUserLimit, LicenseID: &id,
				Message: fmt.Sprintf("Your deployment has %d active users but is only licensed for %d.", actual, offer.limit),
			})
		case offer.level == EntitlementGracePeriod:
			diagnostics = append(diagnostics, Diagnostic{
				Code: CodeUserLimitInGrace, Severity: SeverityWarning, Feature: featureUserLimit,
				LicenseID: &id, At: offer.license.exp,
				Message: fmt.Sprintf("Your deployment has %d active users but the license with the limit %d is expired.", actual, offer.limit),
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
	licenseChanges(p.verified, now, func(e licenseEvent) {
		if e.at.After(now) && (next.IsZero() || e.at.Before(next)) {
			next = e.at // earliestAfter, without a slice per event
		}
	})
	return evaluation{ent: ent, diagnostics: diagnostics, next: next}
}

// userLimitOffer is the user limit one counting license gives, and at which level.
type userLimitOffer struct {
	limit   int64
	level   Entitlement
	license *preparedLicense
}

// userLimitChoice picks, from the offers it is shown in turn, the one license whose user limit
// the deployment gets, whole: limits are never combined across licenses. A limit that covers
// the active users beats one that does not; then entitled beats grace; then the larger limit
// wins; on a tie the first offer stays. This is how Coder's own tests expect it: an entitled
// 100-seat license beside a 500-seat license in grace, with 200 users, gives grace_period with
// limit 500.
type userLimitChoice struct {
	actual int64
	best   userLimitOffer
	found  bool
}

func (u *userLimitChoice) consider(o userLimitOffer) {
	if !u.found || u.better(o, u.best) {
		u.best, u.found = o, true
	}
}

func (u *userLimitChoice) better(a, b userLimitOffer) bool {
	if aCovers, bCovers := a.limit >= u.actual, b.limit >= u.actual; aCovers != bCovers {
		return aCovers
	}
	if a.level.rank() != b.level.rank() {
		return a.level.rank() > b.level.rank()
	}
	return a.limit > b.limit
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
func expiryWarning(verified []preparedLicense, now time.Time, trial bool) (*Diagnostic, time.Time) {
	terms := make([]paidTerm, 0, len(verified))
	for i := range verified {
		l := &verified[i]
		if !l.hasExp || !now.Before(l.exp) {
			continue
		}
		term := paidTerm{license: l.id, end: l.paidEnd}
		switch {
		case l.hasNBF:
			term.start, term.hasStart = l.nbf, true
		case l.hasIAT:
			term.start, term.hasStart = l.iat, true
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
	// Days rounded up reach the window's exactly when more than window less a day is left;
	// asked that way first, a term ending centuries ahead (more than a Duration holds, so
	// Sub saturates) cannot overflow the rounding.
	end := last.end
	left := end.Sub(now)
	if left > window-day {
		return nil, end.Add(-(window - day))
	}
	days := (left + day - 1) / day
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
func licenseChanges(verified []preparedLicense, now time.Time, yield func(licenseEvent)) {
	for i := range verified {
		l := &verified[i]
		if !l.hasExp || !now.Before(l.exp) {
			continue // expired for good: nothing about it changes again
		}
		if l.hasNBF && !l.nbf.Before(l.exp) {
			continue // expires before it starts, so it never counts
		}
		exp, grace := l.exp, l.paidEnd
		graceShown := grace.Before(exp) && (!l.hasNBF || grace.After(l.nbf))
		yield(licenseEvent{at: exp, event: EventExpires, license: l.id, shown: true})
		yield(licenseEvent{at: grace, event: EventEntersGrace, license: l.id, shown: graceShown})
		if l.hasNBF {
			yield(licenseEvent{at: l.nbf, event: EventStarts, license: l.id, shown: true})
		} else if l.hasIAT {
			// Its paid term, and so the warning, starts here; it counted already.
			yield(licenseEvent{at: l.iat, event: EventStarts, license: l.id})
		}
	}
}

// allLicenseChanges is licenseChanges as a list.
func allLicenseChanges(verified []preparedLicense, now time.Time) []licenseEvent {
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
