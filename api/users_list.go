package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"entitle/gen"
	"entitle/store"
)

// msgBadUserSearch is Coder's message for a user search it cannot read.
const msgBadUserSearch = "Invalid user search query."

// ListUsers lets the owner list and search the users, a page at a time.
func (a *API) ListUsers(ctx context.Context, req gen.ListUsersRequestObject) (gen.ListUsersResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.ListUsers403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can list users.")}, nil
	}
	search, problems := parseUserSearch(req.Params.Q)
	if len(problems) > 0 {
		e := &Error{Message: msgBadUserSearch, Validations: problems}
		return gen.ListUsers400JSONResponse{BadQueryJSONResponse: gen.BadQueryJSONResponse(e.Envelope())}, nil
	}
	page, bad := parsePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.ListUsers400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	users, count, err := a.store.ListUsers(ctx, search, page)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	orgIDs, err := a.store.OrganizationIDsOfUsers(ctx, ids)
	if err != nil {
		return nil, err
	}
	resp := gen.GetUsersResponse{Users: make([]gen.User, 0, len(users)), Count: int(count)}
	for _, u := range users {
		resp.Users = append(resp.Users, userResponseWith(u, orgIDs[u.ID]))
	}
	return gen.ListUsers200JSONResponse(resp), nil
}

// parseUserSearch reads Coder's user search (its searchquery.Users): space-separated terms, each
// a key:value filter or a bare word matched against username and email. A filter's values are
// comma-separated and any of them matches; filters and words must all match. Every term it
// cannot read is named.
func parseUserSearch(q *string) (store.UserSearch, []gen.ValidationError) {
	var search store.UserSearch
	var problems []gen.ValidationError
	if q == nil {
		return search, nil
	}
	fail := func(field, detail string) {
		problems = append(problems, gen.ValidationError{Field: field, Detail: detail})
	}
	for _, term := range strings.Fields(*q) {
		key, value, isFilter := strings.Cut(term, ":")
		if !isFilter {
			search.Words = append(search.Words, term)
			continue
		}
		key = strings.ToLower(key)
		switch key {
		case "search":
			search.Words = append(search.Words, value)
		case "name":
			search.Name = value
		case "status":
			for _, status := range strings.Split(strings.ToLower(value), ",") {
				switch status {
				case store.UserActive, store.UserDormant, store.UserSuspended:
					search.Statuses = append(search.Statuses, status)
				default:
					fail(key, fmt.Sprintf("%q is not a user status: use active, dormant or suspended", status))
				}
			}
		case "role":
			// Every user is a member; only the owner holds another site role here. A role
			// entitle has not (auditor, template-admin, ...) is no one's.
			roles, anyone := []string{}, false
			for _, role := range strings.Split(strings.ToLower(value), ",") {
				switch role {
				case store.RoleMember:
					anyone = true
				case store.RoleOwner:
					roles = append(roles, role)
				}
			}
			if !anyone {
				search.SiteRoles = roles
				search.MatchesNone = search.MatchesNone || len(roles) == 0
			}
		case "login_type":
			password := false
			for _, loginType := range strings.Split(strings.ToLower(value), ",") {
				switch loginType {
				case store.LoginTypePassword:
					password = true
				case "github", "oidc", "token", "none":
				default:
					fail(key, fmt.Sprintf("%q is not a login type: use password, github, oidc, token or none", loginType))
				}
			}
			// Every user here signs in with a password.
			search.MatchesNone = search.MatchesNone || !password
		case "github_com_user_id":
			id, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				fail(key, fmt.Sprintf("Query param %q must be a valid integer", key))
			}
			search.MatchesNone = search.MatchesNone || id != 0 // no user here signs in with GitHub
		case "created_after", "created_before", "last_seen_after", "last_seen_before":
			at, err := parseSearchTime(value)
			if err != nil {
				fail(key, fmt.Sprintf("Query param %q must be a valid date format (%s): %s", key, time.RFC3339Nano, err))
				continue
			}
			switch key {
			case "created_after":
				search.CreatedAfter = at
			case "created_before":
				search.CreatedBefore = at
			case "last_seen_after":
				search.LastSeenAfter = at
			default:
				search.LastSeenBefore = at
			}
		default:
			fail(key, fmt.Sprintf("%q is not a search filter: use status, role, login_type, name, "+
				"created_after, created_before, last_seen_after, last_seen_before or plain words", key))
		}
	}
	return search, problems
}

// parseSearchTime reads an RFC 3339 time as written, or in upper case: Coder's search reads
// its whole query in lower case, so its clients may send "2026-01-02t03:04:05z".
func parseSearchTime(value string) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		if upper, err2 := time.Parse(time.RFC3339Nano, strings.ToUpper(value)); err2 == nil {
			return upper, nil
		}
	}
	return at, err
}
