package license

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Every time claim must name a moment in 1970..9999 UTC. Before 1970 no license was ever
// signed; after 9999 neither RFC 3339 (four-digit years), nor the SQLite driver, nor
// PostgreSQL's range of the types the server stores, nor JSON encoding of time.Time can hold
// it, so such a license would be accepted and then fail every later read of it.
var (
	earliestTime = time.Unix(0, 0).UTC()
	// firstTimeAfter is the first moment after the bounds: 10000-01-01T00:00:00Z.
	firstTimeAfter = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TimeBounds names the bounds in details and messages.
const TimeBounds = "1970..9999"

// TimeInBounds reports whether t lies in 1970..9999 UTC, the range every time claim must fall in.
func TimeInBounds(t time.Time) bool {
	return !t.Before(earliestTime) && t.Before(firstTimeAfter)
}

// timeClaimNames are the claims that hold a NumericDate, in the order they are checked.
var timeClaimNames = []string{"exp", "nbf", "iat", "license_expires"}

// checkTimeClaims refuses a payload whose time claim is not a JSON number or lies outside
// 1970..9999, naming the claim. It reads the number as written rather than the time jwt makes
// of it, because jwt reads a quoted number as a time, and converts a float64 beyond int64 to
// whatever the platform's conversion gives, which can land anywhere. A payload that is not a
// JSON object is left to the claims decoding, which names that fault.
func checkTimeClaims(payload []byte) *Error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil
	}
	// encoding/json matches field names ignoring case, so "NBF" or "nBf" is read as nbf too:
	// every spelling is checked (a fuzzer found "nBf": -1 slipping past an exact lookup).
	keys := make([]string, 0, len(fields))
	for key := range fields {
		keys = append(keys, key)
	}
	sort.Strings(keys) // the same claim is named however the map iterates
	for _, key := range keys {
		raw := fields[key]
		name := timeClaimName(key)
		if name == "" || string(raw) == "null" {
			continue // not a time claim, or missing; the claims checks say whether that is allowed
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return invalid("%s is not a number: %s", name, shorten(string(raw)))
		}
		// raw is a JSON number, which ParseFloat reads as json.Number.Float64 (and so jwt) does.
		seconds, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || seconds < float64(earliestTime.Unix()) || seconds >= float64(firstTimeAfter.Unix()) {
			return invalid("%s is outside %s: %s%s", name, TimeBounds, shorten(string(raw)), dateOf(seconds, err))
		}
	}
	return nil
}

// timeClaimName is the time claim key names in any case, or "" when it names none.
func timeClaimName(key string) string {
	for _, name := range timeClaimNames {
		if strings.EqualFold(key, name) {
			return name
		}
	}
	return ""
}

// dateOf shows seconds since 1970 as a date, for numbers within a few million years.
func dateOf(seconds float64, parseErr error) string {
	const showable = 1e14 // about three million years either way
	if parseErr != nil || seconds <= -showable || seconds >= showable {
		return ""
	}
	return " (" + time.Unix(int64(math.Floor(seconds)), 0).UTC().Format(time.RFC3339) + ")"
}

// UnmarshalJSON checks the time claims before decoding, so that every reader of a token (upload,
// stored, inspect) refuses the same out-of-range times with the same detail.
func (c *licenseClaims) UnmarshalJSON(b []byte) error {
	if err := checkTimeClaims(b); err != nil {
		return err
	}
	type plainClaims licenseClaims // without this method, so decoding does not recurse
	return json.Unmarshal(b, (*plainClaims)(c))
}
