package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestUsersHaveCodersFields(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()

		t.Run("a user has Coder's fields and last_seen_at moves when they sign in", func(t *testing.T) {
			name := "Alice Liddell"
			created, err := d.as(owner).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "alice@example.com", Username: "alice", Password: "alice-password", Name: &name,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
			u := created.JSON201
			for _, field := range []string{"name", "avatar_url", "updated_at", "last_seen_at", "login_type", "theme_preference", "status"} {
				assert.Contains(t, string(created.Body), `"`+field+`":`, "field %s", field)
			}
			assert.Equal(t, name, u.Name)
			assert.Equal(t, gen.UserStatusActive, u.Status)
			assert.Equal(t, gen.UserLoginTypePassword, u.LoginType)
			assert.Equal(t, u.CreatedAt, u.LastSeenAt, "never authenticated: last seen when created")

			before := time.Now().Add(-time.Second)
			token := d.login("alice@example.com", "alice-password")
			me, err := d.as(token).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode())
			assert.True(t, me.JSON200.LastSeenAt.After(before), "last_seen_at %v moved on sign-in", me.JSON200.LastSeenAt)
			assert.Equal(t, name, me.JSON200.Name)
		})

		t.Run("POST /users takes the seed-era SDK's organization_id", func(t *testing.T) {
			org := d.createOrganization(owner, "seed-era")
			created, err := d.as(owner).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "bob@example.com", Username: "bob", Password: "bob-password", OrganizationId: &org.Id,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
			assert.Equal(t, []uuid.UUID{org.Id}, created.JSON201.OrganizationIds, "joined the named organization, not the default one")

			nilID := uuid.Nil
			created, err = d.as(owner).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "carol@example.com", Username: "carol", Password: "carol-password", OrganizationId: &nilID,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
			assert.Equal(t, []uuid.UUID{d.defaultOrganization(owner).Id}, created.JSON201.OrganizationIds, "the nil UUID is the default organization")

			created, err = d.as(owner).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "dan@example.com", Username: "dan", Password: "dan-password", OrganizationId: &org.Id,
				OrganizationIds: &[]uuid.UUID{d.defaultOrganization(owner).Id},
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
			assert.ElementsMatch(t, []uuid.UUID{org.Id, d.defaultOrganization(owner).Id}, created.JSON201.OrganizationIds, "both ways are joined")
		})
	})
}
