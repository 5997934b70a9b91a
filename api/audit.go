package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/store"
)

// Recording. Handlers state what changed as an audited resource before and after; recordChange
// turns that into an entry, written in the handler's transaction by the recorder the current
// entitlements call for (entries only while audit_log is enabled).

// audited is a resource as the audit log names and shows it.
type audited struct {
	resourceType audit.ResourceType
	id           uuid.UUID
	target       string
	organization uuid.UUID
	fields       audit.Fields
}

func auditedUser(u store.User) audited {
	return audited{resourceType: audit.ResourceUser, id: u.ID, target: u.Username, fields: audit.Fields{
		"id":              u.ID,
		"username":        u.Username,
		"name":            u.Name,
		"email":           u.Email,
		"avatar_url":      u.AvatarURL,
		"status":          u.Status,
		"login_type":      string(gen.UserLoginTypePassword),
		"roles":           []string{u.SiteRole},
		"hashed_password": audit.SecretOf(u.HashedPassword),
	}}
}

// auditedUserStatus is a user as a status change shows them: only their status.
func auditedUserStatus(u store.User, status string) audited {
	return audited{resourceType: audit.ResourceUser, id: u.ID, target: u.Username, fields: audit.Fields{"status": status}}
}

func auditedOrganization(o store.Organization) audited {
	return audited{resourceType: audit.ResourceOrganization, id: o.ID, target: o.Name, organization: o.ID, fields: audit.Fields{
		"id":           o.ID,
		"name":         o.Name,
		"display_name": o.DisplayName,
		"description":  o.Description,
		"icon":         o.Icon,
		"is_default":   o.IsDefault,
	}}
}

// auditedMember names a membership by its user, as Coder does.
func auditedMember(m store.OrganizationMember, username string) audited {
	roles := []string{}
	for _, r := range memberRoles(m.OrganizationID, m.IsAdmin) {
		roles = append(roles, r.Name)
	}
	return audited{resourceType: audit.ResourceOrganizationMember, id: m.UserID, target: username, organization: m.OrganizationID,
		fields: audit.Fields{"user_id": m.UserID, "organization_id": m.OrganizationID, "roles": roles}}
}

// auditedAPIKey names a key by its user's id and its token name, as Coder does (a session has
// no name).
func auditedAPIKey(k store.APIKey) audited {
	return audited{resourceType: audit.ResourceAPIKey, id: k.UserID, target: k.TokenName, fields: audit.Fields{
		"id":               k.ID,
		"user_id":          k.UserID,
		"login_type":       k.LoginType,
		"scope":            k.Scope,
		"token_name":       k.TokenName,
		"lifetime_seconds": k.LifetimeSeconds,
		"expires_at":       k.ExpiresAt.UTC(),
		"hashed_secret":    audit.SecretOf(k.HashedSecret),
	}}
}

func auditedLicense(l store.License) audited {
	return audited{resourceType: audit.ResourceLicense, id: l.UUID, target: strconv.Itoa(int(l.ID)), fields: audit.Fields{
		"id":          l.ID,
		"uuid":        l.UUID,
		"uploaded_at": l.UploadedAt.UTC(),
		"exp":         l.Exp.UTC(),
		"jwt":         audit.SecretOf(l.JWT),
	}}
}

// recordChange records, in tx, that the signed-in actor took action on a resource and was
// answered status: before is the zero audited for a creation, after for a deletion. A write
// that changed nothing is not recorded.
func (a *API) recordChange(ctx context.Context, tx *store.Store, status int, action audit.Action, before, after audited) error {
	actor, err := actorFrom(ctx)
	if err != nil {
		return err
	}
	return a.record(ctx, tx, actor.User.ID, status, action, before, after)
}

// record is recordChange for a named actor (uuid.Nil for no one).
func (a *API) record(ctx context.Context, tx *store.Store, actorID uuid.UUID, status int, action audit.Action, before, after audited) error {
	diff := audit.DiffOf(before.fields, after.fields)
	if action == audit.ActionWrite && len(diff) == 0 {
		return nil
	}
	named := after
	if named.resourceType == "" {
		named = before
	}
	return a.entitlements.Recorder().Record(ctx, tx, audit.Entry{
		Action:         action,
		ResourceType:   named.resourceType,
		ResourceID:     named.id,
		ResourceTarget: named.target,
		OrganizationID: named.organization,
		UserID:         actorID,
		StatusCode:     status,
		Diff:           diff,
	})
}

// recordFailedLogin records a refused sign-in by the user (uuid.Nil when the email names no
// one). Nothing changed, so there is no transaction to join: the entry is its own statement.
func (a *API) recordFailedLogin(ctx context.Context, userID uuid.UUID, status int) error {
	return a.entitlements.Recorder().Record(ctx, a.store, audit.Entry{
		Action:       audit.ActionLogin,
		ResourceType: audit.ResourceAPIKey,
		ResourceID:   userID,
		UserID:       userID,
		StatusCode:   status,
	})
}

// Reading.

const (
	msgInvalidAuditQuery = "Invalid audit search query."
	// defaultAuditPage is Coder's page size when no limit is given: the log only grows.
	defaultAuditPage = 100
)

// GetAuditLogs returns a page of the audit log, newest first, with the count of entries the
// query selects; owner only.
func (a *API) GetAuditLogs(ctx context.Context, req gen.GetAuditLogsRequestObject) (gen.GetAuditLogsResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.GetAuditLogs403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can read the audit log.")}, nil
	}
	var params queryParams
	limit := params.limit(req.Params.Limit)
	offset := int(params.nonNegativeInt32("offset", req.Params.Offset))
	if bad := params.failure(); bad != nil {
		return gen.GetAuditLogs400JSONResponse(*bad), nil
	}
	if limit == 0 {
		limit = defaultAuditPage
	}
	q := ""
	if req.Params.Q != nil {
		q = *req.Params.Q
	}
	filter, problems := parseAuditQuery(q)
	if len(problems) > 0 {
		e := &Error{Message: msgInvalidAuditQuery, Validations: problems}
		return gen.GetAuditLogs400JSONResponse(e.Envelope()), nil
	}
	if strings.EqualFold(filter.Username, meKeyword) {
		filter.Username, filter.UserID = "", actor.User.ID
	}
	entries, count, err := a.store.AuditLogs(ctx, filter, limit, offset)
	if err != nil {
		return nil, err
	}
	resp := gen.GetAuditLogs200JSONResponse{AuditLogs: make([]gen.AuditLog, 0, len(entries)), Count: count}
	for _, e := range entries {
		resp.AuditLogs = append(resp.AuditLogs, auditLogResponse(e))
	}
	return resp, nil
}

// parseAuditQuery reads Coder's audit search language: space-separated key:value terms, read in
// lower case; a term without a key is a resource type. Every problem is reported, each as
// Coder words it: the element's shape first (alone, as Coder stops there), then each key's
// value in a fixed order, then keys it does not know, by name.
func parseAuditQuery(q string) (store.AuditFilter, []gen.ValidationError) {
	values, problem := searchTerms(strings.ToLower(q))
	if problem != nil {
		return store.AuditFilter{}, []gen.ValidationError{*problem}
	}
	p := searchParams{values: values, parsed: map[string]bool{}}
	filter := store.AuditFilter{
		ResourceID: p.uuid("resource_id"),
		Username:   p.text("username"),
		Email:      p.text("email"),
	}
	filter.From, _ = p.date("date_from") // from 0001-01-01, Go's zero time, is no bound, rightly
	if to, ok := p.date("date_to"); ok {
		filter.Before = to.Add(24 * time.Hour) // date_to includes its whole day
		switch {
		case filter.Before.Year() > 9999:
			// After 9999-12-31 is year 10000, which no stored time reaches, and which SQLite,
			// comparing times as text, would put before all of them: no bound at all.
			filter.Before = time.Time{}
		case filter.Before.IsZero():
			// The end of 0000-12-31 is Go's zero time, which the filter reads as no bound; the
			// next instant bounds the same (before every stored entry).
			filter.Before = time.Time{}.Add(time.Microsecond)
		}
	}
	filter.ResourceType = oneOf(&p, "resource_type", audit.ResourceTypes)
	filter.Action = oneOf(&p, "action", audit.Actions)
	p.unknownKeys()
	return filter, p.problems
}

// searchTerms splits a query into key and values; a quoted value may hold spaces.
func searchTerms(q string) (url.Values, *gen.ValidationError) {
	values := url.Values{}
	var bare []string
	for _, element := range splitOutsideQuotes(q, ' ') {
		if !strings.Contains(element, ":") {
			bare = append(bare, strings.Trim(element, `"`))
			continue
		}
		if strings.HasPrefix(element, ":") || strings.HasSuffix(element, ":") {
			return nil, &gen.ValidationError{Field: "q", Detail: fmt.Sprintf("Query element %q cannot start or end with ':'", element)}
		}
		parts := splitOutsideQuotes(element, ':')
		if len(parts) != 2 {
			return nil, &gen.ValidationError{Field: "q", Detail: fmt.Sprintf("Query element %q can only contain 1 ':'", element)}
		}
		values.Add(parts[0], strings.Trim(parts[1], `"`))
	}
	if len(bare) > 0 {
		// Words without a key are one term, as Coder joins them.
		values.Add("resource_type", strings.Join(bare, " "))
	}
	return values, nil
}

// splitOutsideQuotes splits s at sep, except inside double quotes, dropping empty parts.
func splitOutsideQuotes(s string, sep rune) []string {
	quoted := false
	return strings.FieldsFunc(s, func(r rune) bool {
		if r == '"' {
			quoted = !quoted
		}
		return !quoted && r == sep
	})
}

// searchParams reads a search's values as Coder's query parameter parser does, collecting
// every problem.
type searchParams struct {
	values   url.Values
	parsed   map[string]bool
	problems []gen.ValidationError
}

func (p *searchParams) fail(key, detail string) {
	p.problems = append(p.problems, gen.ValidationError{Field: key, Detail: detail})
}

// value is the key's value, or "" when absent.
func (p *searchParams) value(key string) string {
	p.parsed[key] = true
	if n := len(p.values[key]); n > 1 {
		// As Coder's query parameter parser words it; a second value would otherwise be
		// dropped without a word.
		p.fail(key, fmt.Sprintf("Query param %q provided more than once, found %d times. Only provide 1 instance of this query param.", key, n))
		return ""
	}
	return p.values.Get(key)
}

func (p *searchParams) text(key string) string { return p.value(key) }

func (p *searchParams) uuid(key string) uuid.UUID {
	v := p.value(key)
	if v == "" {
		return uuid.Nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		p.fail(key, fmt.Sprintf("Query param %q must be a valid uuid", key))
	}
	return id
}

// date reads a key whose value is a day; ok is false when it is absent or not a day.
func (p *searchParams) date(key string) (day time.Time, ok bool) {
	v := p.value(key)
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		p.fail(key, fmt.Sprintf("Query param %q must be a valid date format (%s): %s", key, time.DateOnly, err))
		return time.Time{}, false
	}
	return t.UTC(), true
}

// oneOf reads a key whose value must be one of allowed (an enum of Coder's).
func oneOf[T ~string](p *searchParams, key string, allowed []T) string {
	v := p.value(key)
	if v == "" {
		return ""
	}
	for _, a := range allowed {
		if string(a) == v {
			return v
		}
	}
	p.fail(key, fmt.Sprintf("Query param %q has invalid value: %q is not a valid value", key, v))
	return ""
}

// unknownKeys reports every key no reader asked for, by name.
func (p *searchParams) unknownKeys() {
	var unknown []string
	for key := range p.values {
		if !p.parsed[key] {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	for _, key := range unknown {
		p.fail(key, fmt.Sprintf("Query param %q is not a valid query param", key))
	}
}

func auditLogResponse(e store.AuditLogWithUser) gen.AuditLog {
	diff := map[string]gen.AuditDiffField{}
	// The stored diff was written by audit.Writer; one that no longer decodes shows empty.
	_ = json.Unmarshal([]byte(e.Diff), &diff)
	resp := gen.AuditLog{
		Id:             e.ID,
		RequestId:      e.RequestID,
		Time:           e.Time.UTC(),
		Ip:             e.IP,
		UserAgent:      e.UserAgent,
		ResourceType:   gen.AuditResourceType(e.ResourceType),
		ResourceId:     e.ResourceID,
		ResourceTarget: e.ResourceTarget,
		Action:         gen.AuditAction(e.Action),
		Diff:           diff,
		StatusCode:     e.StatusCode,
		Description:    auditDescription(audit.Action(e.Action), audit.ResourceType(e.ResourceType), int(e.StatusCode)),
		OrganizationId: e.OrganizationID,
	}
	if e.OrganizationName != nil {
		resp.Organization = &gen.MinimalOrganization{
			Id:          e.OrganizationID,
			Name:        *e.OrganizationName,
			DisplayName: deref(e.OrganizationDisplayName),
			Icon:        deref(e.OrganizationIcon),
		}
	}
	if e.UserUsername != nil {
		user := gen.User{
			Id:              e.UserID,
			Username:        *e.UserUsername,
			Name:            deref(e.UserName),
			Email:           gen.Email(deref(e.UserEmail)),
			AvatarUrl:       deref(e.UserAvatarURL),
			Status:          gen.UserStatus(deref(e.UserStatus)),
			LoginType:       gen.UserLoginTypePassword,
			Roles:           []gen.SlimRole{siteRole(deref(e.UserSiteRole))},
			OrganizationIds: []uuid.UUID{}, // as Coder leaves them in the audit log
		}
		if e.UserCreatedAt != nil {
			user.CreatedAt = e.UserCreatedAt.UTC()
		}
		if e.UserUpdatedAt != nil {
			user.UpdatedAt = e.UserUpdatedAt.UTC()
		}
		if e.UserLastSeen != nil {
			user.LastSeenAt = e.UserLastSeen.UTC()
		}
		resp.User = &user
	}
	return resp
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// auditDescription words an entry as Coder does, leaving {user} and {target} for the client:
// "{user} created organization {target}", "{user} logged in", "{user} unsuccessfully attempted
// to login".
func auditDescription(action audit.Action, resource audit.ResourceType, status int) string {
	var b strings.Builder
	b.WriteString("{user} ")
	switch {
	case status == http.StatusSeeOther:
		b.WriteString("was redirected attempting to " + string(action))
	case status >= http.StatusBadRequest:
		b.WriteString("unsuccessfully attempted to " + string(action))
	default:
		b.WriteString(friendlyAction(action))
	}
	if resource == audit.ResourceAPIKey && (action == audit.ActionLogin || action == audit.ActionLogout) {
		return b.String()
	}
	b.WriteString(" " + friendlyResource(resource) + " {target}")
	return b.String()
}

func friendlyAction(a audit.Action) string {
	switch a {
	case audit.ActionCreate:
		return "created"
	case audit.ActionWrite:
		return "updated"
	case audit.ActionDelete:
		return "deleted"
	case audit.ActionLogin:
		return "logged in"
	case audit.ActionLogout:
		return "logged out"
	}
	return string(a)
}

func friendlyResource(r audit.ResourceType) string {
	switch r {
	case audit.ResourceAPIKey:
		return "token"
	case audit.ResourceOrganizationMember:
		return "organization member"
	}
	return strings.ReplaceAll(string(r), "_", " ")
}
