package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/store"
)

const (
	msgOrganizationExists = "Organization already exists with that name."
	// msgOrganizationNameTaken is Coder's answer when an update takes another's name.
	msgOrganizationNameTaken = "Organization already exists with the name %q."
	msgNameInUse             = "This value is already in use and should be unique."
	msgOrganizationDeleted   = "Organization has been deleted."
	msgDefaultCannotDelete   = "Default organization cannot be deleted."
	// defaultKeyword names the default organization in paths; no organization may take it as a name.
	defaultKeyword = "default"
	// meKeyword names the signed-in user in paths.
	meKeyword = "me"
)

// msgReservedName is Coder's answer to an organization named "default".
var msgReservedName = fmt.Sprintf("Organization name %q is reserved.", defaultKeyword)

// CreateOrganization lets the owner create an organization and become its admin.
func (a *API) CreateOrganization(ctx context.Context, req gen.CreateOrganizationRequestObject) (gen.CreateOrganizationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.CreateOrganization403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can create organizations.")}, nil
	}
	if bad := reservedOrganizationName(req.Body.Name); bad != nil {
		return gen.CreateOrganization400JSONResponse{BadRequestJSONResponse: *bad}, nil
	}
	org := store.Organization{
		ID:          uuid.New(),
		Name:        req.Body.Name,
		DisplayName: valueOr(req.Body.DisplayName, ""),
		Description: valueOr(req.Body.Description, ""),
		Icon:        valueOr(req.Body.Icon, ""),
	}
	if org.DisplayName == "" {
		org.DisplayName = org.Name
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganizationWithAdmin(ctx, &org, actor.User.ID); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusCreated, audit.ActionCreate, audited{}, auditedOrganization(org))
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
	return organizationAnswer{org: org}, nil
}

// ListOrganizations returns a page of the organizations the caller can see, oldest first;
// without a limit, every one, streamed.
func (a *API) ListOrganizations(ctx context.Context, req gen.ListOrganizationsRequestObject) (gen.ListOrganizationsResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	page, bad := parsePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.ListOrganizations400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	orgs := a.store.StreamOrganizationsOfUser(ctx, actor.User.ID, page)
	if actor.IsOwner() {
		orgs = a.store.StreamOrganizations(ctx, page)
	}
	return streamList(ctx, a.logger, orgs, organizationItem), nil
}

// UpdateOrganization lets the owner or the organization's admins change its name, display name,
// description and icon. Renaming the default organization is allowed, as in Coder: the keyword
// "default" finds it by its flag, not by its name.
func (a *API) UpdateOrganization(ctx context.Context, req gen.UpdateOrganizationRequestObject) (gen.UpdateOrganizationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, membership, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.UpdateOrganization404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	if !mayManage(actor, membership) {
		return gen.UpdateOrganization403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner and the organization's admins can update it.")}, nil
	}
	// Null description and icon (nil here, as absent) keep their value, as in Coder.
	changes := store.OrganizationChanges{Description: req.Body.Description, Icon: req.Body.Icon}
	// An empty name or display name means "not given", as in Coder.
	if req.Body.Name != nil && *req.Body.Name != "" {
		if bad := reservedOrganizationName(*req.Body.Name); bad != nil {
			return gen.UpdateOrganization400JSONResponse{BadRequestJSONResponse: *bad}, nil
		}
		changes.Name = req.Body.Name
	}
	if req.Body.DisplayName != nil && *req.Body.DisplayName != "" {
		changes.DisplayName = req.Body.DisplayName
	}
	var updated store.Organization
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		before, err := tx.OrganizationByID(ctx, org.ID)
		if err != nil {
			return err
		}
		if updated, err = tx.UpdateOrganization(ctx, org.ID, changes, store.Now()); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionWrite, auditedOrganization(before), auditedOrganization(updated))
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		e := &Error{
			Message:     fmt.Sprintf(msgOrganizationNameTaken, *req.Body.Name),
			Validations: []gen.ValidationError{{Field: "name", Detail: msgNameInUse}},
		}
		return gen.UpdateOrganization409JSONResponse(e.Envelope()), nil
	case errors.Is(err, store.ErrNotFound):
		// Deleted a moment ago.
		return gen.UpdateOrganization404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	case err != nil:
		return nil, err
	}
	return gen.UpdateOrganization200JSONResponse(organizationResponse(updated)), nil
}

// DeleteOrganization lets the owner delete any organization but the default one. Its
// memberships go with it, and its name is free again at once.
func (a *API) DeleteOrganization(ctx context.Context, req gen.DeleteOrganizationRequestObject) (gen.DeleteOrganizationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	org, _, err := a.visibleOrganization(ctx, actor, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return gen.DeleteOrganization404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.DeleteOrganization403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can delete organizations.")}, nil
	}
	if org.IsDefault {
		return gen.DeleteOrganization400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(message(msgDefaultCannotDelete, ""))}, nil
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteOrganization(ctx, org.ID); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionDelete, auditedOrganization(org), audited{})
	})
	if errors.Is(err, store.ErrNotFound) {
		return gen.DeleteOrganization404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	return gen.DeleteOrganization200JSONResponse(message(msgOrganizationDeleted, "")), nil
}

// ListUserOrganizations returns a page of the organizations a user belongs to (without a limit,
// every one, streamed): the caller's own, or anyone's for the owner.
func (a *API) ListUserOrganizations(ctx context.Context, req gen.ListUserOrganizationsRequestObject) (gen.ListUserOrganizationsResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	user, err := a.visibleUser(ctx, actor, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.ListUserOrganizations404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	page, bad := parsePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.ListUserOrganizations400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	return streamList(ctx, a.logger, a.store.StreamOrganizationsOfUser(ctx, user.ID, page), organizationItem), nil
}

// GetUserOrganizationByName returns one of a user's organizations by name, ignoring case.
func (a *API) GetUserOrganizationByName(ctx context.Context, req gen.GetUserOrganizationByNameRequestObject) (gen.GetUserOrganizationByNameResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	user, err := a.visibleUser(ctx, actor, req.User)
	if err == nil && !isName(req.Organizationname) {
		err = store.ErrNotFound
	}
	var org store.Organization
	if err == nil {
		org, err = a.store.OrganizationOfUserByName(ctx, user.ID, req.Organizationname)
	}
	if errors.Is(err, store.ErrNotFound) {
		return gen.GetUserOrganizationByName404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return organizationAnswer{org: org}, nil
}

// visibleUser resolves a path's user when the actor may see which
// organizations they belong to: themselves, or anyone for the owner. Anyone else is
// ErrNotFound, exactly like a user who does not exist.
func (a *API) visibleUser(ctx context.Context, actor Actor, ref string) (store.User, error) {
	user, err := a.lookupUser(ctx, actor, ref)
	if err != nil {
		return store.User{}, err
	}
	if user.ID != actor.User.ID && !actor.IsOwner() {
		return store.User{}, store.ErrNotFound
	}
	return user, nil
}

// mayManage says whether the actor may change an organization and its members: the owner, or
// one of its admins.
func mayManage(actor Actor, membership store.OrganizationMember) bool {
	return actor.IsOwner() || membership.IsAdmin
}

// reservedOrganizationName is Coder's 400 for the name "default" (in any case here, since names
// are unique ignoring case), or nil for any other name.
func reservedOrganizationName(name string) *gen.BadRequestJSONResponse {
	if !strings.EqualFold(name, defaultKeyword) {
		return nil
	}
	e := &Error{Message: msgReservedName, Validations: []gen.ValidationError{{Field: "name", Detail: fmt.Sprintf("%q is reserved", defaultKeyword)}}}
	resp := gen.BadRequestJSONResponse(e.Envelope())
	return &resp
}

func valueOr[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
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

// lookupOrganization resolves a UUID (the nil UUID meaning the default organization, as in
// Coder), a name in any case, or the keyword "default".
func (a *API) lookupOrganization(ctx context.Context, ref string) (store.Organization, error) {
	if strings.EqualFold(ref, defaultKeyword) {
		return a.store.DefaultOrganization(ctx)
	}
	if id, ok := parseUUID(ref); ok && id == uuid.Nil {
		// Coder's organization parameter reads the nil UUID as the default organization, for
		// the clients (older provisioners) that send it.
		return a.store.DefaultOrganization(ctx)
	}
	return byIDOrName(ctx, ref, a.store.OrganizationByID, a.store.OrganizationByName)
}

// lookupUser resolves a UUID, a username in any case, or the keyword "me".
func (a *API) lookupUser(ctx context.Context, actor Actor, ref string) (store.User, error) {
	if strings.EqualFold(ref, meKeyword) {
		return actor.User, nil
	}
	return byIDOrName(ctx, ref, a.store.UserByID, a.store.UserByUsername)
}

// byIDOrName finds what ref names: an id in any spelling parseUUID reads, else a name. 32 hex
// digits are both; they are an id first, as in Coder, and a name when no row has that id.
// What is neither is not found without a query.
func byIDOrName[T any](ctx context.Context, ref string,
	byID func(context.Context, uuid.UUID) (T, error), byName func(context.Context, string) (T, error),
) (T, error) {
	if id, ok := parseUUID(ref); ok {
		found, err := byID(ctx, id)
		if !errors.Is(err, store.ErrNotFound) || !isName(ref) {
			return found, err
		}
	}
	if !isName(ref) {
		var none T
		return none, store.ErrNotFound
	}
	return byName(ctx, ref)
}

// namePattern is the rule organization names and usernames follow (openapi.yaml's Name).
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$`)

// isName says whether s could be a stored name at all. Anything else cannot exist, so it is
// not looked up: that also keeps bytes PostgreSQL refuses in text (NUL, invalid UTF-8) away
// from the database.
func isName(s string) bool {
	return len(s) <= 32 && namePattern.MatchString(s)
}

// parseUUID reads an id in every spelling Coder's handlers read one (they use uuid.Parse):
// canonical in any case, in braces, as a urn:uuid: URN, or as 32 hex digits without hyphens.
// The last is also a valid name; the lookups try it as an id first, as Coder does, and then
// as a name, which Coder never finds.
func parseUUID(s string) (uuid.UUID, bool) {
	id, err := uuid.Parse(s)
	return id, err == nil
}

func organizationResponse(o store.Organization) gen.Organization {
	return gen.Organization{
		Id:          o.ID,
		Name:        o.Name,
		DisplayName: o.DisplayName,
		Description: o.Description,
		Icon:        o.Icon,
		IsDefault:   o.IsDefault,
		CreatedAt:   o.CreatedAt.UTC(),
		UpdatedAt:   o.UpdatedAt.UTC(),
	}
}

func organizationsResponse(orgs []store.Organization) []gen.Organization {
	resp := make([]gen.Organization, 0, len(orgs))
	for _, o := range orgs {
		resp = append(resp, organizationResponse(o))
	}
	return resp
}
