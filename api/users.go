package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/password"
	"entitle/session"
	"entitle/store"
)

// SessionCookie is the cookie a login sets, named as Coder names it.
const SessionCookie = "coder_session_token"

const (
	msgFirstUserExists  = "The initial user has already been created."
	msgNoFirstUser      = "The initial user has not been created!"
	msgFirstUserCreated = "The initial user has already been created!"
	msgBadLogin         = "Incorrect email or password."
	msgUserExists       = "User already exists."
)

// reservedUsernames are lookup keywords in paths such as /organizations/{o}/members/{user}.
var reservedUsernames = []string{"me", "default"}

// CheckFirstUser says whether the deployment has been set up.
func (a *API) CheckFirstUser(ctx context.Context, _ gen.CheckFirstUserRequestObject) (gen.CheckFirstUserResponseObject, error) {
	n, err := a.store.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return gen.CheckFirstUser404JSONResponse{NotFoundJSONResponse: gen.NotFoundJSONResponse(message(msgNoFirstUser, ""))}, nil
	}
	return gen.CheckFirstUser200JSONResponse(message(msgFirstUserCreated, "")), nil
}

// CreateFirstUser creates the owner, a member and the admin of the default organization.
func (a *API) CreateFirstUser(ctx context.Context, req gen.CreateFirstUserRequestObject) (gen.CreateFirstUserResponseObject, error) {
	if detail := reservedUsername(req.Body.Username); detail != "" {
		return gen.CreateFirstUser400JSONResponse{BadRequestJSONResponse: invalidField("username", detail)}, nil
	}
	// Refuse cheaply before paying for the password hash.
	if n, err := a.store.CountUsers(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return gen.CreateFirstUser409JSONResponse{ConflictJSONResponse: conflict(msgFirstUserExists, "")}, nil
	}
	user, err := a.newUser(string(req.Body.Email), req.Body.Username, req.Body.Password, store.RoleOwner)
	if err != nil {
		return nil, err
	}
	var org store.Organization
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if n, err := tx.CountUsers(ctx); err != nil {
			return err
		} else if n > 0 {
			return store.ErrConflict
		}
		if err := tx.CreateUser(ctx, &user); err != nil {
			return err
		}
		if org, err = tx.DefaultOrganization(ctx); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, &store.OrganizationMember{OrganizationID: org.ID, UserID: user.ID, IsAdmin: true}); err != nil {
			return err
		}
		return a.record(ctx, tx, user.ID, http.StatusCreated, audit.ActionCreate, audited{}, auditedUser(user))
	})
	if errors.Is(err, store.ErrConflict) {
		return gen.CreateFirstUser409JSONResponse{ConflictJSONResponse: conflict(msgFirstUserExists, "")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create first user: %w", err)
	}
	a.entitlements.UsageChanged(ctx) // the active user count changed, on every replica
	return gen.CreateFirstUser201JSONResponse{UserId: user.ID, OrganizationId: org.ID}, nil
}

// LoginWithPassword starts a session. Attempts are throttled per email and per client
// address (see loginThrottle); the throttle is decided before the user is looked up, so a
// throttled attempt says nothing about whether the email exists.
func (a *API) LoginWithPassword(ctx context.Context, req gen.LoginWithPasswordRequestObject) (gen.LoginWithPasswordResponseObject, error) {
	client, err := clientAddressFrom(ctx)
	if err != nil {
		return nil, err
	}
	attempt, err := a.loginThrottle.count(ctx, string(req.Body.Email), client)
	if err != nil {
		return nil, err
	}
	if attempt.throttledBy() != "" {
		if err := a.recordFailedLogin(ctx, uuid.Nil, http.StatusTooManyRequests); err != nil {
			return nil, err
		}
		return a.throttledLogin(ctx, attempt)
	}
	user, lookupErr := a.store.UserByEmail(ctx, string(req.Body.Email))
	switch {
	case errors.Is(lookupErr, store.ErrNotFound):
		// Spend the same time as a wrong password, so emails cannot be probed.
		_ = password.Matches(a.dummyHash, req.Body.Password)
		if err := a.recordFailedLogin(ctx, uuid.Nil, http.StatusUnauthorized); err != nil {
			return nil, err
		}
		return a.failedLogin(ctx, attempt, nil)
	case lookupErr != nil:
		return nil, lookupErr
	}
	if !password.Matches(user.HashedPassword, req.Body.Password) {
		if err := a.recordFailedLogin(ctx, user.ID, http.StatusUnauthorized); err != nil {
			return nil, err
		}
		return a.failedLogin(ctx, attempt, &user.ID)
	}
	if user.Status == store.UserSuspended {
		// Only after the password matched, so a suspension says nothing to a guesser.
		return a.suspendedLogin(ctx, attempt, user.ID)
	}
	if err := a.loginThrottle.loginSucceeded(ctx, attempt); err != nil {
		return nil, err
	}
	if user, err = a.ReactivateDormantUser(ctx, user); err != nil {
		return nil, err
	}
	if err := a.store.TouchUser(ctx, user.ID, store.Now()); err != nil {
		return nil, err
	}
	tok, err := session.New()
	if err != nil {
		return nil, err
	}
	now := store.Now()
	key := store.APIKey{
		ID:           tok.ID,
		HashedSecret: session.HashSecret(tok.Secret),
		UserID:       user.ID,
		CreatedAt:    now,
		LastUsed:     now,
		ExpiresAt:    now.Add(a.sessionDuration).Truncate(time.Microsecond),
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateAPIKey(ctx, &key); err != nil {
			return err
		}
		return a.record(ctx, tx, user.ID, http.StatusCreated, audit.ActionLogin, audited{}, auditedAPIKey(key))
	})
	if err != nil {
		return nil, err
	}
	cookie := sessionCookie(tok.String(), key.ExpiresAt)
	return gen.LoginWithPassword201JSONResponse{
		Body:    gen.LoginWithPasswordResponse{SessionToken: tok.String()},
		Headers: gen.LoginWithPassword201ResponseHeaders{SetCookie: &cookie},
	}, nil
}

// Logout ends the session that made the request.
func (a *API) Logout(ctx context.Context, _ gen.LogoutRequestObject) (gen.LogoutResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		key, err := tx.APIKeyByID(ctx, actor.APIKeyID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // already gone: signed out on another request
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteAPIKey(ctx, actor.APIKeyID); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionLogout, auditedAPIKey(key), audited{})
	})
	if err != nil {
		return nil, err
	}
	cleared := sessionCookie("", time.Unix(0, 0))
	return gen.Logout200JSONResponse{
		Body:    message("Successfully logged out.", ""),
		Headers: gen.Logout200ResponseHeaders{SetCookie: &cleared},
	}, nil
}

// GetCurrentUser returns the signed-in user, with their organization_ids streamed: the owner
// belongs to every organization they made.
func (a *API) GetCurrentUser(ctx context.Context, _ gen.GetCurrentUserRequestObject) (gen.GetCurrentUserResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	return a.answerUser(ctx, actor.User)
}

// GetUser answers a user by id, username or "me": to themselves and to the owner; to anyone
// else it is not found, as a user that does not exist.
func (a *API) GetUser(ctx context.Context, req gen.GetUserRequestObject) (gen.GetUserResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	user, err := a.visibleUser(ctx, actor, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.GetUser404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return a.answerUser(ctx, user)
}

// answerUser is a 200 with the user and every organization they belong to. Most users are in
// a few organizations, kept in memory: one list, no query, one write; the rest are streamed.
func (a *API) answerUser(ctx context.Context, u store.User) (userReply, error) {
	few, ok, err := a.store.FewOrganizationIDsOfUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		return userAnswer{user: u, ids: few}, nil
	}
	return a.userStream(ctx, u), nil
}

// userReply is what GET /users/me and GET /users/{user} answer with.
type userReply interface {
	gen.GetCurrentUserResponseObject
	gen.GetUserResponseObject
}

// CreateUser lets the owner add a member, who joins the listed organizations or the default one.
func (a *API) CreateUser(ctx context.Context, req gen.CreateUserRequestObject) (gen.CreateUserResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.CreateUser403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can create users.")}, nil
	}
	if detail := reservedUsername(req.Body.Username); detail != "" {
		return gen.CreateUser400JSONResponse{BadRequestJSONResponse: invalidField("username", detail)}, nil
	}
	orgIDs, err := a.requestedOrganizations(ctx, req.Body.OrganizationId, req.Body.OrganizationIds)
	if err != nil {
		return nil, err
	}
	for _, id := range orgIDs {
		if _, err := a.store.OrganizationByID(ctx, id); errors.Is(err, store.ErrNotFound) {
			return gen.CreateUser400JSONResponse{BadRequestJSONResponse: invalidField("organization_ids", fmt.Sprintf("organization %s does not exist", id))}, nil
		} else if err != nil {
			return nil, err
		}
	}
	user, err := a.newUser(string(req.Body.Email), req.Body.Username, req.Body.Password, store.RoleMember)
	if req.Body.Name != nil {
		user.Name = *req.Body.Name
	}
	if err != nil {
		return nil, err
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateUser(ctx, &user); err != nil {
			return err
		}
		if len(orgIDs) == 0 {
			def, err := tx.DefaultOrganization(ctx)
			if err != nil {
				return err
			}
			orgIDs = []uuid.UUID{def.ID}
		}
		for _, id := range orgIDs {
			if err := tx.AddMember(ctx, &store.OrganizationMember{OrganizationID: id, UserID: user.ID}); err != nil {
				return fmt.Errorf("join organization %s: %w", id, err)
			}
		}
		return a.recordChange(ctx, tx, http.StatusCreated, audit.ActionCreate, audited{}, auditedUser(user))
	})
	if errors.Is(err, store.ErrConflict) {
		return gen.CreateUser409JSONResponse{ConflictJSONResponse: conflict(msgUserExists, a.takenDetail(ctx, user))}, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		// An organization listed was deleted between the check above and the insert.
		return gen.CreateUser400JSONResponse{BadRequestJSONResponse: invalidField("organization_ids", "an organization listed does not exist")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	a.entitlements.UsageChanged(ctx) // the active user count changed, on every replica
	resp, err := a.userResponse(ctx, user)
	if err != nil {
		return nil, err
	}
	return gen.CreateUser201JSONResponse(resp), nil
}

func (a *API) newUser(email, username, plainPassword, role string) (store.User, error) {
	hashed, err := password.Hash(plainPassword, a.hashCost)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	return store.User{ID: uuid.New(), Email: email, Username: username, HashedPassword: hashed, SiteRole: role}, nil
}

// takenDetail says which of the user's unique fields another user already has.
func (a *API) takenDetail(ctx context.Context, u store.User) string {
	if _, err := a.store.UserByEmail(ctx, u.Email); err == nil {
		return "A user with that email already exists."
	}
	if _, err := a.store.UserByUsername(ctx, u.Username); err == nil {
		return "A user with that username already exists."
	}
	return ""
}

func (a *API) userResponse(ctx context.Context, u store.User) (gen.User, error) {
	orgIDs, err := a.store.OrganizationIDsOfUser(ctx, u.ID)
	if err != nil {
		return gen.User{}, err
	}
	return userResponseWith(u, orgIDs), nil
}

// userResponseWith is Coder's User for u, who belongs to orgIDs.
func userResponseWith(u store.User, orgIDs []uuid.UUID) gen.User {
	return gen.User{
		Id:              u.ID,
		Username:        u.Username,
		Name:            u.Name,
		Email:           gen.Email(u.Email),
		AvatarUrl:       u.AvatarURL,
		CreatedAt:       u.CreatedAt.UTC(),
		UpdatedAt:       u.UpdatedAt.UTC(),
		LastSeenAt:      u.LastSeenAt.UTC(),
		Status:          gen.UserStatus(u.Status),
		LoginType:       gen.UserLoginTypePassword,
		ThemePreference: u.ThemePreference,
		Roles:           []gen.SlimRole{siteRole(u.SiteRole)},
		OrganizationIds: orgIDs,
	}
}

func siteRole(name string) gen.SlimRole {
	if name == store.RoleOwner {
		return gen.SlimRole{Name: store.RoleOwner, DisplayName: "Owner"}
	}
	return gen.SlimRole{Name: store.RoleMember, DisplayName: "Member"}
}

func reservedUsername(name string) string {
	for _, r := range reservedUsernames {
		if strings.EqualFold(name, r) {
			return fmt.Sprintf("%q is reserved", r)
		}
	}
	return ""
}

// requestedOrganizations joins Coder's two ways of naming the organizations a new user joins:
// organization_ids, and the seed-era SDK's single organization_id, in which the nil UUID
// means the default organization.
func (a *API) requestedOrganizations(ctx context.Context, one *uuid.UUID, many *[]uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	if many != nil {
		ids = append(ids, *many...)
	}
	if one != nil {
		id := *one
		if id == uuid.Nil {
			def, err := a.store.DefaultOrganization(ctx)
			if err != nil {
				return nil, err
			}
			id = def.ID
		}
		ids = append(ids, id)
	}
	return uniqueIDs(&ids), nil
}

func uniqueIDs(ids *[]uuid.UUID) []uuid.UUID {
	if ids == nil {
		return nil
	}
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, id := range *ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func sessionCookie(value string, expires time.Time) string {
	c := http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	}
	return c.String()
}
