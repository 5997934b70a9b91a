package license

import (
	"cmp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Code names one kind of diagnostic. Codes are stable: scripts and alerts match on them, while
// the messages follow Coder's wording and may change.
type Code string

// The diagnostic codes; every warning and error Compute gives carries one of them.
const (
	CodeLicenseInvalid    Code = "license_invalid"
	CodeLicenseExpiring   Code = "license_expiring"
	CodeFeatureInGrace    Code = "feature_in_grace"
	CodeUserLimitExceeded Code = "user_limit_exceeded"
	CodeUserLimitInGrace  Code = "user_limit_in_grace"
	CodeHANotEntitled     Code = "ha_not_entitled"
)

// Codes lists every diagnostic code, in a fixed order (openapi.yaml's enum lists the same).
func Codes() []Code {
	return []Code{
		CodeLicenseInvalid, CodeLicenseExpiring, CodeFeatureInGrace,
		CodeUserLimitExceeded, CodeUserLimitInGrace, CodeHANotEntitled,
	}
}

// Severity says whether a diagnostic is one of the entitlements' warnings or errors.
type Severity string

// The severities.
const (
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Diagnostic is one warning or error about the licenses, with a stable code and what it concerns.
type Diagnostic struct {
	Code     Code
	Severity Severity
	// Message is the text the entitlements' warnings or errors carry.
	Message string
	// Feature is the feature it concerns, or "".
	Feature string
	// LicenseID is the license it concerns, or nil.
	LicenseID *int64
	// At is when it comes due, or zero: the end of the paid coverage for license_expiring, the
	// end of the grace period for feature_in_grace and user_limit_in_grace.
	At time.Time
}

// Event is what happens to a license at a moment of the timeline.
type Event string

// The license events, in the order one license goes through them.
const (
	EventStarts      Event = "starts"
	EventEntersGrace Event = "enters_grace"
	EventExpires     Event = "expires"
)

// Status is where a stored license stands at one moment.
type Status string

// The license statuses.
const (
	StatusActive      Status = "active"
	StatusNotYetValid Status = "not_yet_valid"
	StatusGrace       Status = "grace"
	StatusExpired     Status = "expired"
	StatusInvalid     Status = "invalid"
)

// State is one stored license's status and why it counts or not.
type State struct {
	ID     int64
	UUID   uuid.UUID
	Status Status
	// Counts is whether it gives anything now.
	Counts bool
	// Reason says why, with the moments that matter, for a person.
	Reason string
}

// FeatureChange is how one feature changes: its entitlement, and for user_limit its limit
// (nil when there is none).
type FeatureChange struct {
	From, To           Entitlement
	FromLimit, ToLimit *int64
}

// TimelineEvent is a future moment at which a license starts, enters grace or expires, and what
// the features do then. Changes holds every feature that changes at that moment, whichever
// licenses' events share it; it is empty when nothing changes (a renewal taking over, say).
type TimelineEvent struct {
	At        time.Time
	Event     Event
	LicenseID int64
	Changes   map[string]FeatureChange
}

// Seats are the user counts the licenses are measured against.
type Seats struct {
	// Active is the count user_limit.actual shows.
	Active    int64
	Dormant   int64
	Suspended int64
	// Limit is user_limit's limit; nil when no license sets one.
	Limit *int64
	// HighWaterMark is the most active users seen. Explain knows only the present, so it is
	// Active here; a caller that stores a mark sets it and HighWaterAt.
	HighWaterMark int64
	HighWaterAt   *time.Time
}

// Explanation says why the entitlements are what they are and when they will change.
type Explanation struct {
	// Entitlements are what Compute gives for the same inputs.
	Entitlements Entitlements
	// Diagnostics carry every warning and error of Entitlements, in the same order, with codes.
	Diagnostics []Diagnostic
	// Licenses are every stored license by id.
	Licenses []State
	// Timeline lists every future license event, by time then license.
	Timeline []TimelineEvent
	Seats    Seats
}

// Explain says, for the same inputs as Compute, why each license counts or not, every warning
// and error with its code, and the timeline of future license events with what each changes,
// assuming the usage stays as it is. Its moments are the ones Compute's nextChange walks
// through, since both come from licenseChanges.
func Explain(licenses []Stored, now time.Time, usage Usage) Explanation {
	p := Prepare(licenses)
	ev := evaluate(p, now, usage)
	users := ev.ent.Features[featureUserLimit]
	return Explanation{
		Entitlements: ev.ent,
		Diagnostics:  ev.diagnostics,
		Licenses:     licenseStates(p, now),
		Timeline:     timeline(p, now, usage, allLicenseChanges(p.verified, now)),
		Seats:        Seats{Active: usage.ActiveUsers, Limit: users.Limit, HighWaterMark: usage.ActiveUsers},
	}
}

// FeatureChanges lists the features whose entitlement or limit differs from before to after.
func FeatureChanges(before, after Entitlements) map[string]FeatureChange {
	changes := map[string]FeatureChange{}
	for _, name := range FeatureNames() {
		b, a := before.Features[name], after.Features[name]
		if b.Entitlement != a.Entitlement || !sameLimit(b.Limit, a.Limit) {
			changes[name] = FeatureChange{From: b.Entitlement, To: a.Entitlement, FromLimit: b.Limit, ToLimit: a.Limit}
		}
	}
	return changes
}

func sameLimit(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// timeline turns the license events after now into entries, each with the features that
// change at its moment (changesAtMoments).
func timeline(p Prepared, now time.Time, usage Usage, events []licenseEvent) []TimelineEvent {
	var shown []licenseEvent
	for _, e := range events {
		if e.shown && e.at.After(now) {
			shown = append(shown, e)
		}
	}
	slices.SortFunc(shown, compareEvents)
	changesAt := changesAtMoments(p, now, usage, events)
	entries := make([]TimelineEvent, 0, len(shown))
	for _, e := range shown {
		entries = append(entries, TimelineEvent{At: e.at, Event: e.event, LicenseID: e.license, Changes: changesAt[e.at]})
	}
	return entries
}

// compareEvents orders a timeline: by moment, then by license id.
func compareEvents(a, b licenseEvent) int {
	return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.license, b.license))
}

// licenseStates says, for each stored license by id, where it stands at now and why.
func licenseStates(p Prepared, now time.Time) []State {
	states := make([]State, 0, len(p.sorted))
	verified := p.verified // in the same order as p.sorted, without the invalid ones
	for _, s := range p.sorted {
		st := State{ID: s.ID, UUID: s.UUID}
		if s.Err != nil || s.License == nil {
			st.Status, st.Reason = StatusInvalid, "It no longer verifies: "+cause(s.Err)+"."
			states = append(states, st)
			continue
		}
		l := &verified[0]
		verified = verified[1:]
		st.Counts = l.countsAt(now)
		exp, grace := l.exp, l.paidEnd
		switch {
		case !now.Before(exp):
			st.Status, st.Reason = StatusExpired, "Expired at "+stamp(exp)+", the end of its grace period."
		case l.hasNBF && !l.nbf.Before(exp):
			st.Status = StatusNotYetValid
			st.Reason = "It expires at " + stamp(exp) + ", before it starts at " + stamp(l.nbf) + ", so it never counts."
		case !st.Counts:
			st.Status, st.Reason = StatusNotYetValid, "Starts counting at "+stamp(l.nbf)+"."
		case l.levelAt(now) == EntitlementGracePeriod:
			st.Status = StatusGrace
			st.Reason = "Its paid term ended at " + stamp(grace) + "; it counts in its grace period until " + stamp(exp) + "."
		case !grace.Before(exp):
			st.Status, st.Reason = StatusActive, "Entitled until "+stamp(exp)+", with no grace period."
		default:
			st.Status = StatusActive
			st.Reason = "Entitled until " + stamp(grace) + ", then in its grace period until " + stamp(exp) + "."
		}
		if st.Status != StatusExpired && l.granted == 0 && l.userLimit <= 0 {
			st.Reason += " It grants no known feature."
		}
		states = append(states, st)
	}
	return states
}

// stamp writes a moment as the API does, RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
