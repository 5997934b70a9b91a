package api

import (
	"context"
	"fmt"
	"strings"

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

// parseUserSearch reads Coder's user search: space-separated terms, each "status:<status>"
// or a bare word matched against username and email. Every term it cannot read is named.
func parseUserSearch(q *string) (store.UserSearch, []gen.ValidationError) {
	var search store.UserSearch
	var problems []gen.ValidationError
	if q == nil {
		return search, nil
	}
	for _, term := range strings.Fields(*q) {
		key, value, isFilter := strings.Cut(term, ":")
		if !isFilter {
			search.Words = append(search.Words, term)
			continue
		}
		switch strings.ToLower(key) {
		case "status":
			switch status := strings.ToLower(value); status {
			case store.UserActive, store.UserDormant, store.UserSuspended:
				search.Status = status
			default:
				problems = append(problems, gen.ValidationError{Field: "status",
					Detail: fmt.Sprintf("%q is not a user status: use active, dormant or suspended", value)})
			}
		default:
			problems = append(problems, gen.ValidationError{Field: key,
				Detail: fmt.Sprintf("%q is not a search filter: use status:<active|dormant|suspended> or plain words", key)})
		}
	}
	return search, problems
}
