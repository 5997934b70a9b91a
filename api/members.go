package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/store"
)

const (
	msgAlreadyMember = "User is already a member of this organization."
	// msgCannotRemoveSelf is Coder's message, lower case and all.
	msgCannotRemoveSelf      = "cannot remove self from an organization"
	msgCannotChangeOwnRoles  = "You cannot change your own organization roles."
	detailCannotChangeOwn    = "Another user with the appropriate permissions must change your roles."
	forbiddenManagingMembers = "Only the owner and the organization's admins can manage its members."
)

// Organization roles' display names. Every member holds organization-member; it is implied,
// never stored.
const (
	displayOrgAdmin  = "Organization Admin"
	displayOrgMember = "Organization Member"
)

// Until users have these, members are shown as Coder shows a password user who is active.
const (
	memberLoginType = "password"
)

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
	if !mayManage(actor, membership) {
		return gen.AddOrganizationMember403JSONResponse{ForbiddenJSONResponse: forbidden(forbiddenManagingMembers)}, nil
	}
	user, err := a.lookupUser(ctx, actor, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.AddOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	member := store.OrganizationMember{OrganizationID: org.ID, UserID: user.ID}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.AddMember(ctx, &member); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionCreate, audited{}, auditedMember(member, user.Username))
	})
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

// ListOrganizationMembers returns a page of an organization's members with their users' details,
// to its members and the owner.
func (a *API) ListOrganizationMembers(ctx context.Context, req gen.ListOrganizationMembersRequestObject) (gen.ListOrganizationMembersResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, _, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.ListOrganizationMembers404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	page, bad := parsePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.ListOrganizationMembers400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	return streamList(ctx, a.logger, a.store.StreamMembers(ctx, org.ID, page), asJSON(memberWithUserResponse)), nil
}

// PaginatedOrganizationMembers is ListOrganizationMembers with the organization's member count.
func (a *API) PaginatedOrganizationMembers(ctx context.Context, req gen.PaginatedOrganizationMembersRequestObject) (gen.PaginatedOrganizationMembersResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, _, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.PaginatedOrganizationMembers404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	page, bad := parsePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.PaginatedOrganizationMembers400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	// Counted just before the members are read, not in one snapshot with them: a stream is read
	// in chunks, each its own query (see store.ChunkSize).
	count, err := a.store.CountMembers(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	whole := gen.PaginatedMembersResponse{Count: int(count), Members: []gen.OrganizationMemberWithUserData{}}
	resp, err := streamField(ctx, a.logger, http.StatusOK, whole, "members", a.store.StreamMembers(ctx, org.ID, page), asJSON(memberWithUserResponse))
	if err != nil {
		return nil, fmt.Errorf("encode paginated members: %w", err)
	}
	return resp, nil
}

// RemoveOrganizationMember lets the owner or the organization's admins remove someone else.
func (a *API) RemoveOrganizationMember(ctx context.Context, req gen.RemoveOrganizationMemberRequestObject) (gen.RemoveOrganizationMemberResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, user, forbid, err := a.memberToManage(ctx, actor, req.Organization, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.RemoveOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	if forbid {
		return gen.RemoveOrganizationMember403JSONResponse{ForbiddenJSONResponse: forbidden(forbiddenManagingMembers)}, nil
	}
	if user.ID == actor.User.ID {
		return gen.RemoveOrganizationMember400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(message(msgCannotRemoveSelf, ""))}, nil
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		before, err := tx.Membership(ctx, org.ID, user.ID)
		if err != nil {
			return err
		}
		if err := tx.RemoveMember(ctx, org.ID, user.ID); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusNoContent, audit.ActionDelete, auditedMember(before, user.Username), audited{})
	})
	if errors.Is(err, store.ErrNotFound) {
		return gen.RemoveOrganizationMember404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	return gen.RemoveOrganizationMember204Response{}, nil
}

// UpdateOrganizationMemberRoles lets the owner or the organization's admins set someone else's
// organization roles. organization-member is implied, so only organization-admin changes
// anything; the schema has already refused any other role.
func (a *API) UpdateOrganizationMemberRoles(ctx context.Context, req gen.UpdateOrganizationMemberRolesRequestObject) (gen.UpdateOrganizationMemberRolesResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, user, forbid, err := a.memberToManage(ctx, actor, req.Organization, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.UpdateOrganizationMemberRoles404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	if forbid {
		return gen.UpdateOrganizationMemberRoles403JSONResponse{ForbiddenJSONResponse: forbidden(forbiddenManagingMembers)}, nil
	}
	if user.ID == actor.User.ID {
		return gen.UpdateOrganizationMemberRoles400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(message(msgCannotChangeOwnRoles, detailCannotChangeOwn))}, nil
	}
	// No roles (null or absent, as Coder's SDK sends an empty UpdateRoles) is none.
	admin := req.Body.Roles != nil && slices.Contains(*req.Body.Roles, gen.OrganizationRoleAdmin)
	var member store.OrganizationMember
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		before, err := tx.Membership(ctx, org.ID, user.ID)
		if err != nil {
			return err
		}
		if member, err = tx.SetMemberAdmin(ctx, org.ID, user.ID, admin, store.Now()); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionWrite, auditedMember(before, user.Username), auditedMember(member, user.Username))
	})
	if errors.Is(err, store.ErrNotFound) {
		return gen.UpdateOrganizationMemberRoles404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.UpdateOrganizationMemberRoles200JSONResponse(memberResponse(member)), nil
}

// memberToManage resolves the organization and user of a member route. Not visible, unknown
// user and not a member are all ErrNotFound. forbid is true when the actor may see the
// organization but not manage its members; the user is then not looked up, so a plain member
// learns nothing about who else exists.
func (a *API) memberToManage(ctx context.Context, actor Actor, orgRef, userRef string) (store.Organization, store.User, bool, error) {
	org, membership, err := a.visibleOrganization(ctx, actor, orgRef)
	if err != nil {
		return store.Organization{}, store.User{}, false, err
	}
	if !mayManage(actor, membership) {
		return store.Organization{}, store.User{}, true, nil
	}
	user, err := a.lookupUser(ctx, actor, userRef)
	if err != nil {
		return store.Organization{}, store.User{}, false, err
	}
	if _, err := a.store.Membership(ctx, org.ID, user.ID); err != nil {
		return store.Organization{}, store.User{}, false, err
	}
	return org, user, false, nil
}

// memberRoles are a member's roles in the organization organizationID. Each names the
// organization, as Coder's organization roles do (its site roles name none): clients tell the
// two kinds apart by it.
func memberRoles(organizationID uuid.UUID, isAdmin bool) []gen.SlimRole {
	roles := []gen.SlimRole{{Name: string(gen.OrganizationRoleMember), DisplayName: displayOrgMember, OrganizationId: &organizationID}}
	if isAdmin {
		roles = append(roles, gen.SlimRole{Name: string(gen.OrganizationRoleAdmin), DisplayName: displayOrgAdmin, OrganizationId: &organizationID})
	}
	return roles
}

func memberResponse(m store.OrganizationMember) gen.OrganizationMember {
	return gen.OrganizationMember{
		UserId:         m.UserID,
		OrganizationId: m.OrganizationID,
		Roles:          memberRoles(m.OrganizationID, m.IsAdmin),
		CreatedAt:      m.CreatedAt.UTC(),
		UpdatedAt:      m.UpdatedAt.UTC(),
	}
}

// memberWithUserResponse shows a member as Coder's OrganizationMemberWithUserData.
func memberWithUserResponse(m store.MemberWithUser) gen.OrganizationMemberWithUserData {
	return gen.OrganizationMemberWithUserData{
		UserId:         m.UserID,
		OrganizationId: m.OrganizationID,
		CreatedAt:      m.CreatedAt.UTC(),
		UpdatedAt:      m.UpdatedAt.UTC(),
		Roles:          memberRoles(m.OrganizationID, m.IsAdmin),
		Username:       m.Username,
		Name:           m.Name,
		Email:          gen.Email(m.Email),
		AvatarUrl:      m.AvatarURL,
		Status:         gen.UserStatus(m.Status),
		LoginType:      memberLoginType,
		LastSeenAt:     m.LastSeenAt.UTC(),
		UserCreatedAt:  m.UserCreatedAt.UTC(),
		UserUpdatedAt:  m.UserUpdatedAt.UTC(),
		GlobalRoles:    []gen.SlimRole{siteRole(m.SiteRole)},
	}
}
