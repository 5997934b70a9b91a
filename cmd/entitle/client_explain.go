package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"entitle/gen"
)

// entitlementsCmd shows the entitlements, and explains them.
type entitlementsCmd struct {
	Show    entitlementsShowCmd    `cmd:"" default:"withargs" help:"Show every feature, the warnings and the errors (the default)."`
	Explain entitlementsExplainCmd `cmd:"" help:"Explain them: each license's status, every warning and error with its code, and a timeline of what changes when (owner only)."`
}

type entitlementsExplainCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
}

// Run shows the explanation as sections a person reads top to bottom.
func (c *entitlementsExplainCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetEntitlementsExplanationWithResponse(ctx)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeExplanation(w, *res.JSON200, time.Now(), storedLicenseName)
	})
}

type licensesPreviewCmd struct {
	sessionFlags  `embed:""`
	outputFlags   `embed:""`
	licenseSource `embed:""`
}

// Run previews the license: the checks an upload makes, what adding it would change, and the
// explanation with it added.
func (c *licensesPreviewCmd) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	token, err := c.readLicense(stdin)
	if err != nil {
		return err
	}
	res, err := client.PreviewLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
	if err := check(res, err); err != nil {
		return err
	}
	p := res.JSON200
	return c.print(stdout, res.Body, func(w io.Writer) {
		fmt.Fprintf(w, "License %s passes every check and was not added.\n", p.License.Uuid)
		if len(p.Changes) == 0 {
			fmt.Fprintln(w, "Adding it would change no feature.")
		} else {
			fmt.Fprintln(w, "Adding it would change:")
			writeChanges(w, "  ", p.Changes)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "With it added:")
		writeExplanation(w, p.ExplainAfter, time.Now(), previewedLicenseName)
	})
}

// storedLicenseName names a stored license in the timeline.
func storedLicenseName(id int32) string { return "license " + strconv.Itoa(int(id)) }

// previewedLicenseName names licenses in a preview, where the previewed one has id 0.
func previewedLicenseName(id int32) string {
	if id == 0 {
		return "the previewed license"
	}
	return storedLicenseName(id)
}

// writeExplanation writes the licenses, the warnings and errors, the timeline and the seats.
func writeExplanation(w io.Writer, x gen.Explanation, now time.Time, name func(int32) string) {
	if len(x.Licenses) == 0 {
		fmt.Fprintln(w, "Licenses: none.")
	} else {
		fmt.Fprintln(w, "Licenses:")
		for _, l := range x.Licenses {
			counts := "does not count"
			if l.Counts {
				counts = "counts"
			}
			reason := ""
			if l.Reason != nil {
				reason = *l.Reason
			}
			row(w, "  "+strconv.Itoa(int(l.Id)), l.Uuid.String(), string(l.Status), counts, reason)
		}
	}
	// Lines without tabs end the tabwriter's columns, so these are not padded.
	for _, d := range x.Diagnostics {
		severity := "Warning"
		if d.Severity == "error" {
			severity = "Error"
		}
		fmt.Fprintf(w, "%s (%s): %s\n", severity, printable(string(d.Code)), printable(d.Message))
		if d.At != nil {
			fmt.Fprintf(w, "    %s %s (%s)\n", dueWord(d.Code), relativeTime(*d.At, now), dateInWords(*d.At))
		}
	}
	if len(x.Timeline) == 0 {
		fmt.Fprintln(w, "Timeline: nothing is due to change.")
	} else {
		fmt.Fprintln(w, "Timeline:")
		whens := make([]string, len(x.Timeline))
		width := 0
		for i, ev := range x.Timeline {
			whens[i] = relativeTime(ev.At, now) + " (" + dateInWords(ev.At) + ")"
			width = max(width, len(whens[i]))
		}
		for i, ev := range x.Timeline {
			fmt.Fprintf(w, "  %-*s  %s %s\n", width, whens[i], name(ev.LicenseId), eventWords(ev.Event))
			if len(ev.Changes) == 0 {
				fmt.Fprintln(w, "      no feature changes")
			}
			writeChanges(w, "      ", ev.Changes)
		}
	}
	s := x.Seats
	limit := "no limit"
	if s.Limit != nil {
		limit = "limit " + strconv.FormatInt(*s.Limit, 10)
	}
	fmt.Fprintf(w, "Seats: %d active, %d dormant, %d suspended; %s; high-water mark %d.\n",
		s.Active, s.Dormant, s.Suspended, limit, s.HighWaterMark)
}

// dueWord introduces a diagnostic's moment.
func dueWord(code gen.DiagnosticCode) string {
	if code == "license_expiring" {
		return "paid term ends"
	}
	return "grace ends"
}

func eventWords(e gen.TimelineEventEvent) string {
	switch e {
	case "starts":
		return "starts counting"
	case "enters_grace":
		return "enters its grace period"
	default:
		return string(e)
	}
}

// writeChanges writes one "feature: from -> to" line per feature, by name.
func writeChanges(w io.Writer, indent string, changes gen.FeatureChanges) {
	names := make([]string, 0, len(changes))
	for name := range changes {
		names = append(names, name)
	}
	sort.Strings(names)
	withLimit := func(e gen.Entitlement, limit *int64) string {
		if limit == nil {
			return string(e)
		}
		return fmt.Sprintf("%s (limit %d)", e, *limit)
	}
	for _, name := range names {
		c := changes[name]
		fmt.Fprintf(w, "%s%s: %s -> %s\n", indent, printable(name), withLimit(c.From, c.FromLimit), withLimit(c.To, c.ToLimit))
	}
}

// relativeTime says how far at is from now in the largest unit that still reads well:
// "in 12 days", "in 5 hours", "3 days ago".
func relativeTime(at, now time.Time) string {
	// In seconds, not a time.Duration, which holds only 292 years: a license may end in 9999.
	seconds := float64(at.Unix()-now.Unix()) + float64(at.Nanosecond()-now.Nanosecond())/1e9
	past := seconds < 0
	if past {
		seconds = -seconds
	}
	var n int64
	var unit string
	switch hours := seconds / 3600; {
	case hours >= 48:
		n, unit = int64(math.Round(hours/24)), "day"
	case hours >= 2:
		n, unit = int64(math.Round(hours)), "hour"
	case seconds >= 120:
		n, unit = int64(math.Round(seconds/60)), "minute"
	default:
		n, unit = int64(math.Round(seconds)), "second"
	}
	if n == 0 {
		return "now"
	}
	if n != 1 {
		unit += "s"
	}
	if past {
		return fmt.Sprintf("%d %s ago", n, unit)
	}
	return fmt.Sprintf("in %d %s", n, unit)
}

// dateInWords writes a moment for people, in UTC: "Tue 9 Dec 2026, 14:00 UTC".
func dateInWords(t time.Time) string {
	return strings.TrimSpace(t.UTC().Format("Mon 2 Jan 2006, 15:04 MST"))
}
