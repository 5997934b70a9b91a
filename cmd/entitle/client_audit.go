package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"entitle/gen"
)

// auditCmd reads the audit log (owner only): newest first, each entry a sentence with when it
// happened in words.
type auditCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	Query string `short:"q" help:"A search, e.g. 'resource_type:organization action:delete username:me date_from:2026-11-01'."`
	Limit int    `short:"n" default:"25" help:"At most this many entries, newest first (1 to 1000)."`
}

// Run lists the entries the query selects.
func (c *auditCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	// The server checks the range, so the CLI refuses what the API refuses, in its words.
	limit := strconv.Itoa(c.Limit)
	params := &gen.GetAuditLogsParams{Limit: &limit}
	if c.Query != "" {
		params.Q = &c.Query
	}
	res, err := client.GetAuditLogsWithResponse(ctx, params)
	if err := check(res, err); err != nil {
		return err
	}
	page := res.JSON200
	return c.print(stdout, res.Body, func(w io.Writer) {
		switch {
		case len(page.AuditLogs) == 0 && c.Query != "":
			fmt.Fprintln(w, "No audit entries match the query.")
			return
		case len(page.AuditLogs) == 0:
			fmt.Fprintln(w, "No audit entries yet: changes are recorded only while a license grants audit_log.")
			return
		}
		now := time.Now()
		row(w, "WHEN", "WHAT", "STATUS")
		for _, e := range page.AuditLogs {
			row(w, relativeTime(e.Time, now)+" ("+dateInWords(e.Time)+")", auditSentence(e), strconv.Itoa(int(e.StatusCode)))
		}
		if shown := int64(len(page.AuditLogs)); shown < page.Count {
			fmt.Fprintf(w, "%d of %d entries; raise --limit to see more.\n", shown, page.Count)
		}
	})
}

// auditSentence fills in the entry's description, Coder's "{user} created organization
// {target}", names the organization of a member's entry (while it exists), and for a change of
// existing fields adds what changed.
func auditSentence(e gen.AuditLog) string {
	s := strings.NewReplacer("{user}", auditActor(e), "{target}", e.ResourceTarget).Replace(e.Description)
	s = strings.TrimSpace(s)
	if e.ResourceType == gen.AuditResourceTypeOrganizationMember && e.Organization != nil {
		s += " in " + e.Organization.Name
	}
	if e.Action == "write" && len(e.Diff) > 0 {
		s += " (" + diffWords(e.Diff) + ")"
	}
	return s
}

// auditActor names who acted; an entry without a user is the deployment's own doing (a user
// turning dormant) or, refused, a sign-in with an email that names no one.
func auditActor(e gen.AuditLog) string {
	switch {
	case e.User != nil:
		return e.User.Username
	case e.StatusCode >= 400:
		return "an unknown user"
	default:
		return "entitle"
	}
}

// diffWords writes "field: old -> new" for each changed field, by name; secrets stay hidden.
func diffWords(diff map[string]gen.AuditDiffField) string {
	names := make([]string, 0, len(diff))
	for name := range diff {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		f := diff[name]
		if f.Secret {
			parts = append(parts, name+" changed")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", name, diffValue(f.Old), diffValue(f.New)))
	}
	return strings.Join(parts, ", ")
}

func diffValue(v any) string {
	switch v := v.(type) {
	case nil:
		return `""`
	case string:
		if v == "" {
			return `""`
		}
		return v
	default:
		return fmt.Sprint(v)
	}
}
