package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"entitle/audit"
	"entitle/gen"
	"entitle/session"
	"entitle/store"
)

const (
	msgTokenRequestInvalid = "Failed to validate create API key request."
	// defaultTokenLifetime is what a token gets when it asks for none, as in Coder.
	defaultTokenLifetime = 30 * 24 * time.Hour
	// reservedTokenName is the last segment of GET /users/{user}/keys/tokens/tokenconfig, so a
	// token of that name could never be read by name.
	reservedTokenName = "tokenconfig"
)

var (
	// tokenNamePattern is openapi.yaml's rule for CreateTokenRequest.token_name (up to 64).
	tokenNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)
	// keyIDPattern is the id part of a key (see the session package).
	keyIDPattern = regexp.MustCompile(fmt.Sprintf(`^[0-9A-Za-z]{%d}$`, session.IDLength))
)

// CreateAPIKey makes a session-type key for the user, as signing in would, without the cookie.
func (a *API) CreateAPIKey(ctx context.Context, req gen.CreateAPIKeyRequestObject) (gen.CreateAPIKeyResponseObject, error) {
	user, err := a.keyOwner(ctx, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.CreateAPIKey404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := a.issueKey(ctx, user.ID, store.LoginTypePassword, "", a.sessionDuration)
	if err != nil {
		return nil, err
	}
	return gen.CreateAPIKey201JSONResponse{Key: key}, nil
}

// CreateToken makes a long-lived API token for the user, with a fixed expiry.
func (a *API) CreateToken(ctx context.Context, req gen.CreateTokenRequestObject) (gen.CreateTokenResponseObject, error) {
	user, err := a.keyOwner(ctx, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.CreateToken404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	name := ""
	if req.Body.TokenName != nil {
		name = *req.Body.TokenName
	}
	if name == reservedTokenName {
		return gen.CreateToken400JSONResponse{BadRequestJSONResponse: invalidField("token_name", fmt.Sprintf("%q is reserved", reservedTokenName))}, nil
	}
	if name == "" {
		name = generatedTokenName()
	}
	if bad := narrowerThanAll(req.Body); bad != nil {
		return gen.CreateToken400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(bad.Envelope())}, nil
	}
	lifetime := min(defaultTokenLifetime, a.maxTokenLifetime)
	if req.Body.Lifetime != nil && *req.Body.Lifetime != 0 {
		lifetime = time.Duration(*req.Body.Lifetime)
	}
	if detail := a.tokenLifetimeProblem(lifetime); detail != "" {
		return gen.CreateToken400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(message(msgTokenRequestInvalid, detail))}, nil
	}
	key, err := a.issueKey(ctx, user.ID, store.LoginTypeToken, name, lifetime)
	if errors.Is(err, store.ErrConflict) {
		e := &Error{
			Message:     fmt.Sprintf("A token with name %q already exists.", name),
			Validations: []gen.ValidationError{{Field: "name", Detail: "This value is already in use and should be unique."}},
		}
		return gen.CreateToken409JSONResponse{ConflictJSONResponse: gen.ConflictJSONResponse(e.Envelope())}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.CreateToken201JSONResponse{Key: key}, nil
}

// ListTokens lists the user's tokens, streamed; with include_all, the owner gets every user's.
// Anyone else can see only their own, so include_all changes nothing for them.
func (a *API) ListTokens(ctx context.Context, req gen.ListTokensRequestObject) (gen.ListTokensResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	user, err := a.keyOwner(ctx, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return gen.ListTokens404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	page, bad := parseTokenPage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.ListTokens400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(*bad)}, nil
	}
	everyone := req.Params.IncludeAll != nil && *req.Params.IncludeAll && actor.IsOwner()
	if page != (store.TokenPage{}) {
		// A page is read whole (a user's tokens are few, and a limit is at most 1000).
		var keys []store.OwnedAPIKey
		if everyone {
			keys, err = a.store.AllTokens(ctx, page)
		} else {
			keys, err = a.store.TokensOfUser(ctx, user.ID, page)
		}
		if err != nil {
			return nil, err
		}
		return streamList(ctx, a.logger, rowsOf(keys), asJSON(ownedAPIKeyResponse)), nil
	}
	keys := a.store.StreamTokensOfUser(ctx, user.ID)
	if everyone {
		keys = a.store.StreamAllTokens(ctx)
	}
	return streamList(ctx, a.logger, keys, asJSON(ownedAPIKeyResponse)), nil
}

// GetTokenConfig says how long a token may live.
func (a *API) GetTokenConfig(ctx context.Context, req gen.GetTokenConfigRequestObject) (gen.GetTokenConfigResponseObject, error) {
	if _, err := a.keyOwner(ctx, req.User); errors.Is(err, store.ErrNotFound) {
		return gen.GetTokenConfig404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	return gen.GetTokenConfig200JSONResponse{MaxTokenLifetime: int64(a.maxTokenLifetime)}, nil
}

// GetTokenByName returns one of the user's tokens by its name.
func (a *API) GetTokenByName(ctx context.Context, req gen.GetTokenByNameRequestObject) (gen.GetTokenByNameResponseObject, error) {
	key, err := a.findUserKey(ctx, req.User, req.Keyname, isTokenName, a.store.TokenByName)
	if errors.Is(err, store.ErrNotFound) {
		return gen.GetTokenByName404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetTokenByName200JSONResponse(apiKeyResponse(key)), nil
}

// GetAPIKey returns one of the user's sessions or tokens by its id.
func (a *API) GetAPIKey(ctx context.Context, req gen.GetAPIKeyRequestObject) (gen.GetAPIKeyResponseObject, error) {
	key, err := a.findUserKey(ctx, req.User, req.Keyid, keyIDPattern.MatchString, a.store.UserAPIKey)
	if errors.Is(err, store.ErrNotFound) {
		return gen.GetAPIKey404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetAPIKey200JSONResponse(apiKeyResponse(key)), nil
}

// DeleteAPIKey deletes one of the user's sessions or tokens; it is refused from then on.
func (a *API) DeleteAPIKey(ctx context.Context, req gen.DeleteAPIKeyRequestObject) (gen.DeleteAPIKeyResponseObject, error) {
	user, err := a.keyOwner(ctx, req.User)
	if err == nil && !keyIDPattern.MatchString(req.Keyid) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = a.store.InTx(ctx, func(tx *store.Store) error {
			key, err := tx.UserAPIKey(ctx, user.ID, req.Keyid)
			if err != nil {
				return err
			}
			if err := tx.DeleteUserAPIKey(ctx, user.ID, req.Keyid); err != nil {
				return err
			}
			return a.recordChange(ctx, tx, http.StatusNoContent, audit.ActionDelete, auditedAPIKey(key), audited{})
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return gen.DeleteAPIKey404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.DeleteAPIKey204Response{}, nil
}

// keyOwner resolves a path's {user} to a user whose keys the caller may manage: their own, or
// anyone's for the owner. Anyone else's keys are ErrNotFound, exactly like an unknown user.
func (a *API) keyOwner(ctx context.Context, ref string) (store.User, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return store.User{}, err
	}
	user, err := a.lookupUser(ctx, actor, ref)
	if err != nil {
		return store.User{}, err
	}
	if user.ID != actor.User.ID && !actor.IsOwner() {
		return store.User{}, store.ErrNotFound
	}
	return user, nil
}

// findUserKey finds one of the keys of the user a path names, by the path's name or id for it.
// A ref that no key could have is not looked up, which also keeps bytes PostgreSQL refuses in
// text away from it; like a key of another user, it is ErrNotFound.
func (a *API) findUserKey(ctx context.Context, userRef, ref string, couldExist func(string) bool,
	find func(context.Context, uuid.UUID, string) (store.APIKey, error),
) (store.APIKey, error) {
	user, err := a.keyOwner(ctx, userRef)
	if err != nil {
		return store.APIKey{}, err
	}
	if !couldExist(ref) {
		return store.APIKey{}, store.ErrNotFound
	}
	return find(ctx, user.ID, ref)
}

// issueKey stores a new key for the user and returns it as the client sends it; the secret
// exists only in that return value.
func (a *API) issueKey(ctx context.Context, userID uuid.UUID, loginType, name string, lifetime time.Duration) (string, error) {
	tok, err := session.New()
	if err != nil {
		return "", err
	}
	now := store.Now()
	key := store.APIKey{
		ID:              tok.ID,
		HashedSecret:    session.HashSecret(tok.Secret),
		UserID:          userID,
		LoginType:       loginType,
		Scope:           store.ScopeAll,
		TokenName:       name,
		LifetimeSeconds: int64(lifetime / time.Second),
		CreatedAt:       now,
		UpdatedAt:       now,
		LastUsed:        now,
		ExpiresAt:       now.Add(lifetime).Truncate(time.Microsecond), // stored times keep microseconds
	}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateAPIKey(ctx, &key); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusCreated, audit.ActionCreate, audited{}, auditedAPIKey(key))
	})
	if err != nil {
		return "", err
	}
	return tok.String(), nil
}

// tokenLifetimeProblem says, in Coder's words, why a token may not live that long.
func (a *API) tokenLifetimeProblem(lifetime time.Duration) string {
	if lifetime <= 0 {
		return "lifetime must be positive number greater than 0"
	}
	if lifetime > a.maxTokenLifetime {
		return fmt.Sprintf("lifetime must be less than %v", a.maxTokenLifetime)
	}
	return ""
}

// generatedTokenName names a token whose creator gave it none.
func generatedTokenName() string {
	return "token-" + strings.ToLower(rand.Text()[:10])
}

func isTokenName(s string) bool {
	return len(s) <= 64 && tokenNamePattern.MatchString(s)
}

func apiKeyResponse(k store.APIKey) gen.APIKey {
	return gen.APIKey{
		Id:              k.ID,
		UserId:          k.UserID,
		LastUsed:        k.LastUsed.UTC(),
		ExpiresAt:       k.ExpiresAt.UTC(),
		CreatedAt:       k.CreatedAt.UTC(),
		UpdatedAt:       k.UpdatedAt.UTC(),
		LoginType:       gen.APIKeyLoginType(k.LoginType),
		Scope:           gen.APIKeyScope(k.Scope),
		TokenName:       k.TokenName,
		LifetimeSeconds: k.LifetimeSeconds,
	}
}

func ownedAPIKeyResponse(k store.OwnedAPIKey) gen.APIKeyWithOwner {
	key := apiKeyResponse(k.APIKey)
	return gen.APIKeyWithOwner{
		Id:              key.Id,
		UserId:          key.UserId,
		LastUsed:        key.LastUsed,
		ExpiresAt:       key.ExpiresAt,
		CreatedAt:       key.CreatedAt,
		UpdatedAt:       key.UpdatedAt,
		LoginType:       key.LoginType,
		Scope:           key.Scope,
		TokenName:       key.TokenName,
		LifetimeSeconds: key.LifetimeSeconds,
		Username:        k.Username,
	}
}

// narrowerThanAll refuses a request for a key that may do less than everything its user may:
// Coder's scopes and allow_list narrow a key, and entitle has nothing narrower than all. A key
// wider than was asked for would be the wrong answer, so it says so rather than ignore them.
func narrowerThanAll(body *gen.CreateTokenRequest) *Error {
	if body.Scopes != nil {
		for _, scope := range *body.Scopes {
			if scope != string(gen.APIKeyScopeAll) && scope != "coder:all" {
				return &Error{Message: msgTokenRequestInvalid, Validations: []gen.ValidationError{{
					Field:  "scopes",
					Detail: fmt.Sprintf("%q is narrower than all, the only scope entitle issues", scope),
				}}}
			}
		}
	}
	if body.AllowList != nil {
		for _, target := range *body.AllowList {
			if deref(target.Type) != "*" || deref(target.Id) != "*" {
				return &Error{Message: msgTokenRequestInvalid, Validations: []gen.ValidationError{{
					Field:  "allow_list",
					Detail: fmt.Sprintf("%s:%s is narrower than everything (*:*), the only list entitle issues", deref(target.Type), deref(target.Id)),
				}}}
			}
		}
	}
	return nil
}
