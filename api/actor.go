package api

import (
	"context"
	"errors"

	"entitle/store"
)

// Actor is the signed-in user making a request and the session they made it with.
type Actor struct {
	User     store.User
	APIKeyID string
}

type actorKey struct{}

// WithActor returns a context that carries the signed-in actor; the auth middleware calls it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// errNoActor means a handler that needs a signed-in user ran without one: a wiring bug,
// since the spec marks the operation as secured.
var errNoActor = errors.New("no signed-in user in the request context")

func actorFrom(ctx context.Context) (Actor, error) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	if !ok {
		return Actor{}, errNoActor
	}
	return a, nil
}

// IsOwner says whether the actor holds the site's owner role.
func (a Actor) IsOwner() bool { return a.User.SiteRole == store.RoleOwner }
