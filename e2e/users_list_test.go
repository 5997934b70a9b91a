package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestListingUsers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()
		_, memberToken := d.createMember(owner, "alice")
		d.createMember(owner, "bob")
		d.createMember(owner, "alicia")

		list := func(t *testing.T, token string, params gen.ListUsersParams) *gen.ListUsersResult {
			t.Helper()
			resp, err := d.as(token).ListUsersWithResponse(ctx, &params)
			require.NoError(t, err)
			return resp
		}
		usernames := func(resp *gen.ListUsersResult) []string {
			var names []string
			for _, u := range resp.JSON200.Users {
				names = append(names, u.Username)
			}
			return names
		}
		str := func(s string) *string { return &s }

		t.Run("the owner lists every user oldest first with the count", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{})
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{testenv.OwnerUsername, "alice", "bob", "alicia"}, usernames(resp))
			assert.Equal(t, 4, resp.JSON200.Count)
			assert.NotEmpty(t, resp.JSON200.Users[1].OrganizationIds, "each user has its organizations")
		})

		t.Run("bare words match username or email, ignoring case, and all must match", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{Q: str("ALI")})
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{"alice", "alicia"}, usernames(resp))
			assert.Equal(t, 2, resp.JSON200.Count)
			resp = list(t, owner, gen.ListUsersParams{Q: str("ali cia")})
			assert.Equal(t, []string{"alicia"}, usernames(resp))
			resp = list(t, owner, gen.ListUsersParams{Q: str("example.com status:active")})
			assert.Equal(t, 4, resp.JSON200.Count)
			resp = list(t, owner, gen.ListUsersParams{Q: str("status:suspended")})
			assert.Empty(t, resp.JSON200.Users)
			assert.Equal(t, 0, resp.JSON200.Count)
		})

		t.Run("LIKE wildcards in a search are plain characters", func(t *testing.T) {
			for _, q := range []string{"%", "_", `\`, "a%e"} {
				resp := list(t, owner, gen.ListUsersParams{Q: str(q)})
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
				assert.Empty(t, resp.JSON200.Users, "q=%q", q)
			}
		})

		t.Run("a page counts every match", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{Limit: str("2")})
			assert.Equal(t, []string{testenv.OwnerUsername, "alice"}, usernames(resp))
			assert.Equal(t, 4, resp.JSON200.Count)
			after := resp.JSON200.Users[1].Id.String()
			resp = list(t, owner, gen.ListUsersParams{Limit: str("2"), AfterId: &after})
			assert.Equal(t, []string{"bob", "alicia"}, usernames(resp))
			resp = list(t, owner, gen.ListUsersParams{Limit: str("0")})
			requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, "Query parameters have invalid values.")
		})

		t.Run("a search that cannot be read names each bad term", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{Q: str("status:asleep role:owner")})
			env := requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, "Invalid user search query.")
			assert.ElementsMatch(t, []string{"status", "role"}, validationFields(env))
		})

		t.Run("members may not list users", func(t *testing.T) {
			resp := list(t, memberToken, gen.ListUsersParams{})
			assert.Equal(t, http.StatusForbidden, resp.StatusCode())
			resp = list(t, "", gen.ListUsersParams{})
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode())
		})
	})
}
