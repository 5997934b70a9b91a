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

// actorContext carries the actor in one allocation, on every signed-in request:
// context.WithValue would take two, its own and a boxed copy of the Actor (a whole user).
type actorContext struct {
	context.Context
	actor Actor
}

// Value answers the actor's key with a pointer into the context (no copy is boxed) and
// everything else from the parent.
func (c *actorContext) Value(key any) any {
	if key == (actorKey{}) {
		return &c.actor
	}
	return c.Context.Value(key)
}

// WithActor returns a context that carries the signed-in actor; the auth middleware calls it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return &actorContext{Context: ctx, actor: a}
}

// errNoActor means a handler that needs a signed-in user ran without one: a wiring bug,
// since the spec marks the operation as secured.
var errNoActor = errors.New("no signed-in user in the request context")

func actorFrom(ctx context.Context) (Actor, error) {
	a, ok := ctx.Value(actorKey{}).(*Actor)
	if !ok {
		return Actor{}, errNoActor
	}
	return *a, nil
}

// IsOwner says whether the actor holds the site's owner role.
func (a Actor) IsOwner() bool { return a.User.SiteRole == store.RoleOwner }
