package api

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"entitle/gen"
	"entitle/store"
)

const (
	msgOrganizationExists = "Organization already exists with that name."
	msgAlreadyMember      = "User is already a member of this organization."
	// defaultKeyword names the default organization in paths; no organization may take it as a name.
	defaultKeyword = "default"
	// meKeyword names the signed-in user in paths.
	meKeyword = "me"
)

// Organization roles.
var (
	roleOrgAdmin  = gen.SlimRole{Name: "organization-admin", DisplayName: "Organization Admin"}
	roleOrgMember = gen.SlimRole{Name: "organization-member", DisplayName: "Organization Member"}
)

// CreateOrganization lets the owner create an organization and become its admin.
func (a *API) CreateOrganization(ctx context.Context, req gen.CreateOrganizationRequestObject) (gen.CreateOrganizationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.CreateOrganization403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can create organizations.")}, nil
	}
	if strings.EqualFold(req.Body.Name, defaultKeyword) {
		return gen.CreateOrganization400JSONResponse{BadRequestJSONResponse: invalidField("name", `"default" is reserved`)}, nil
	}
	org := store.Organization{ID: uuid.New(), Name: req.Body.Name}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.AddMember(ctx, &store.OrganizationMember{OrganizationID: org.ID, UserID: actor.User.ID, IsAdmin: true})
	})
	if errors.Is(err, store.ErrConflict) {
		return gen.CreateOrganization409JSONResponse{ConflictJSONResponse: conflict(msgOrganizationExists, "")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	return gen.CreateOrganization201JSONResponse(organizationResponse(org)), nil
}

// GetOrganization returns an organization the caller can see.
func (a *API) GetOrganization(ctx context.Context, req gen.GetOrganizationRequestObject) (gen.GetOrganizationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, _, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.GetOrganization404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetOrganization200JSONResponse(organizationResponse(org)), nil
}

// ListOrganizations returns the organizations the caller can see, oldest first.
func (a *API) ListOrganizations(ctx context.Context, _ gen.ListOrganizationsRequestObject) (gen.ListOrganizationsResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var orgs []store.Organization
	if actor.IsOwner() {
		orgs, err = a.store.ListOrganizations(ctx)
	} else {
		orgs, err = a.store.ListOrganizationsOfUser(ctx, actor.User.ID)
	}
	if err != nil {
		return nil, err
	}
	resp := make(gen.ListOrganizations200JSONResponse, 0, len(orgs))
	for _, o := range orgs {
		resp = append(resp, organizationResponse(o))
	}
	return resp, nil
}

// AddOrganizationMember lets the owner or the organization's admins add a user to it.
func (a *API) AddOrganizationMember(ctx context.Context, req gen.AddOrganizationMemberRequestObject) (gen.AddOrganizationMemberResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, membership, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.AddOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() && !membership.IsAdmin {
		return gen.AddOrganizationMember403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner and the organization's admins can add members.")}, nil
	}
	user, err := a.lookupUser(ctx, actor, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.AddOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	member := store.OrganizationMember{OrganizationID: org.ID, UserID: user.ID}
	err = a.store.AddMember(ctx, &member)
	switch {
	case errors.Is(err, store.ErrConflict):
		return gen.AddOrganizationMember409JSONResponse{ConflictJSONResponse: conflict(msgAlreadyMember, "")}, nil
	case errors.Is(err, store.ErrNotFound):
		// The organization or user was deleted a moment ago.
		return gen.AddOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	case err != nil:
		return nil, err
	}
	return gen.AddOrganizationMember200JSONResponse(memberResponse(member)), nil
}

// visibleOrganization finds the organization a path names, if the actor may see it: the owner
// sees every organization, anyone else only those they belong to. Not visible is ErrNotFound,
// exactly like unknown, so the two cannot be told apart. The membership is zero for an owner
// who is not a member.
func (a *API) visibleOrganization(ctx context.Context, actor Actor, ref string) (store.Organization, store.OrganizationMember, error) {
	org, err := a.lookupOrganization(ctx, ref)
	if err != nil {
		return store.Organization{}, store.OrganizationMember{}, err
	}
	membership, err := a.store.Membership(ctx, org.ID, actor.User.ID)
	if errors.Is(err, store.ErrNotFound) && actor.IsOwner() {
		return org, store.OrganizationMember{}, nil
	}
	if err != nil {
		return store.Organization{}, store.OrganizationMember{}, err
	}
	return org, membership, nil
}

// lookupOrganization resolves a UUID, a name in any case, or the keyword "default".
func (a *API) lookupOrganization(ctx context.Context, ref string) (store.Organization, error) {
	if strings.EqualFold(ref, defaultKeyword) {
		return a.store.DefaultOrganization(ctx)
	}
	if id, ok := parseUUID(ref); ok {
		return a.store.OrganizationByID(ctx, id)
	}
	if !isName(ref) {
		return store.Organization{}, store.ErrNotFound
	}
	return a.store.OrganizationByName(ctx, ref)
}

// lookupUser resolves a UUID, a username in any case, or the keyword "me".
func (a *API) lookupUser(ctx context.Context, actor Actor, ref string) (store.User, error) {
	if strings.EqualFold(ref, meKeyword) {
		return actor.User, nil
	}
	if id, ok := parseUUID(ref); ok {
		return a.store.UserByID(ctx, id)
	}
	if !isName(ref) {
		return store.User{}, store.ErrNotFound
	}
	return a.store.UserByUsername(ctx, ref)
}

// namePattern is the rule organization names and usernames follow (openapi.yaml's Name).
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$`)

// isName says whether s could be a stored name at all. Anything else cannot exist, so it is
// not looked up: that also keeps bytes PostgreSQL refuses in text (NUL, invalid UTF-8) away
// from the database.
func isName(s string) bool {
	return len(s) <= 32 && namePattern.MatchString(s)
}

// parseUUID accepts only the canonical 36-character form: uuid.Parse also takes 32 bare hex
// digits, which is a valid organization name.
func parseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

func organizationResponse(o store.Organization) gen.Organization {
	return gen.Organization{
		Id:        o.ID,
		Name:      o.Name,
		IsDefault: o.IsDefault,
		CreatedAt: o.CreatedAt.UTC(),
		UpdatedAt: o.UpdatedAt.UTC(),
	}
}

func memberResponse(m store.OrganizationMember) gen.OrganizationMember {
	roles := []gen.SlimRole{roleOrgMember}
	if m.IsAdmin {
		roles = append(roles, roleOrgAdmin)
	}
	return gen.OrganizationMember{
		UserId:         m.UserID,
		OrganizationId: m.OrganizationID,
		Roles:          roles,
		CreatedAt:      m.CreatedAt.UTC(),
		UpdatedAt:      m.UpdatedAt.UTC(),
	}
}
