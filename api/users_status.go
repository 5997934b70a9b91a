package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/store"
)

// Seats: the owner suspends and activates users; authenticating wakes a dormant user. A change
// of status changes the active user count, so every replica recounts (UsageChanged).

const (
	msgCannotSuspendYourself = "You cannot suspend yourself."
	// msgCannotSuspendOwner is Coder's answer for a user holding the owner role. entitle has one
	// owner and only the owner may suspend, so today it is reached only through a second owner
	// that does not exist; the check stays so that the rule holds if owners ever multiply.
	msgCannotSuspendOwner = "You cannot suspend a user with the %q role. You must remove the role first."
	// MsgUserNotActive is Coder's 401 for a suspended user's token.
	MsgUserNotActive = "User is not active (status = %q). Contact an admin to reactivate your account."
	// msgAccountSuspended is Coder's 401 for a suspended user's sign-in.
	msgAccountSuspended = "Your account is suspended. Contact an admin to reactivate your account."
)

// SuspendUser lets the owner suspend a user: they take no seat and every token of theirs is
// refused.
func (a *API) SuspendUser(ctx context.Context, req gen.SuspendUserRequestObject) (gen.SuspendUserResponseObject, error) {
	return a.setUserStatus(ctx, req.User, store.UserSuspended)
}

// ActivateUser lets the owner make a suspended or dormant user active again.
func (a *API) ActivateUser(ctx context.Context, req gen.ActivateUserRequestObject) (gen.ActivateUserResponseObject, error) {
	return a.setUserStatus(ctx, req.User, store.UserActive)
}

// setUserStatus answers both status routes, whose responses are alike.
func (a *API) setUserStatus(ctx context.Context, ref, status string) (userStatusResponse, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return userStatusResponse{}, err
	}
	if !actor.IsOwner() {
		// Refused before the user is looked up, so a member learns nothing about who exists.
		return userStatusResponse{http.StatusForbidden, forbidden("Only the owner can change a user's status.")}, nil
	}
	user, err := a.lookupUser(ctx, actor, ref)
	if errors.Is(err, store.ErrNotFound) {
		return userStatusResponse{http.StatusNotFound, notFound()}, nil
	}
	if err != nil {
		return userStatusResponse{}, err
	}
	if status == store.UserSuspended {
		switch {
		case user.ID == actor.User.ID:
			return userStatusResponse{http.StatusBadRequest, message(msgCannotSuspendYourself, "")}, nil
		case user.SiteRole == store.RoleOwner:
			return userStatusResponse{http.StatusBadRequest, message(fmt.Sprintf(msgCannotSuspendOwner, store.RoleOwner), "")}, nil
		}
	}
	changed := false
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		current, err := tx.UserByID(ctx, user.ID)
		if err != nil {
			return err
		}
		user = current
		if current.Status == status {
			return nil
		}
		if user, err = tx.SetUserStatus(ctx, current.ID, status, store.Now()); err != nil {
			return err
		}
		changed = true
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionWrite,
			auditedUserStatus(current, current.Status), auditedUserStatus(user, status))
	})
	if errors.Is(err, store.ErrNotFound) {
		return userStatusResponse{http.StatusNotFound, notFound()}, nil
	}
	if err != nil {
		return userStatusResponse{}, fmt.Errorf("set user status to %s: %w", status, err)
	}
	if changed {
		a.entitlements.UsageChanged(ctx) // the active user count changed, on every replica
	}
	resp, err := a.userResponse(ctx, user)
	if err != nil {
		return userStatusResponse{}, err
	}
	return userStatusResponse{http.StatusOK, resp}, nil
}

// userStatusResponse is the answer of either status route: a User, or an error envelope.
type userStatusResponse struct {
	status int
	body   any
}

// VisitSuspendUserResponse implements gen.SuspendUserResponseObject.
func (r userStatusResponse) VisitSuspendUserResponse(w http.ResponseWriter) error { return r.write(w) }

// VisitActivateUserResponse implements gen.ActivateUserResponseObject.
func (r userStatusResponse) VisitActivateUserResponse(w http.ResponseWriter) error { return r.write(w) }

func (r userStatusResponse) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	return json.NewEncoder(w).Encode(r.body)
}

// suspendedLogin refuses a suspended user's sign-in, whose password matched, with Coder's
// message. It stays counted as a failure: it made no session.
func (a *API) suspendedLogin(ctx context.Context, attempt loginAttempt, userID uuid.UUID) (gen.LoginWithPasswordResponseObject, error) {
	if err := a.recordFailedLogin(ctx, userID, http.StatusUnauthorized); err != nil {
		return nil, err
	}
	a.logLoginAttempt(ctx, "login refused: user suspended", attempt, attempt.email.Failures, attempt.address.Failures,
		slog.String("user_id", userID.String()))
	return gen.LoginWithPassword401JSONResponse{UnauthorizedJSONResponse: gen.UnauthorizedJSONResponse(message(msgAccountSuspended, ""))}, nil
}

// ReactivateDormantUser makes a dormant user active again because they were just
// authenticated, recording the change, and returns the user as they are now. A user who is not
// dormant is returned as given. The server's authentication calls it, and so does signing in.
func (a *API) ReactivateDormantUser(ctx context.Context, user store.User) (store.User, error) {
	if user.Status != store.UserDormant {
		return user, nil
	}
	now := store.Now()
	woke := false
	err := a.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if woke, err = tx.ActivateDormantUser(ctx, user.ID, now); err != nil || !woke {
			return err
		}
		return a.record(ctx, tx, user.ID, http.StatusOK, audit.ActionWrite,
			auditedUserStatus(user, store.UserDormant), auditedUserStatus(user, store.UserActive))
	})
	if err != nil {
		return store.User{}, fmt.Errorf("reactivate dormant user %s: %w", user.ID, err)
	}
	if !woke {
		// A concurrent request (on any replica) woke them, or the owner changed their status:
		// the user as they are now decides.
		return a.store.UserByID(ctx, user.ID)
	}
	a.entitlements.UsageChanged(ctx) // the active user count changed, on every replica
	user.Status, user.LastSeenAt = store.UserActive, now
	return user, nil
}
