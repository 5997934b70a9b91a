package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

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

		t.Run("the owner lists every user by username, as Coder does, with the count", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{})
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{"alice", "alicia", "bob", testenv.OwnerUsername}, usernames(resp))
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
			assert.Equal(t, []string{"alice", "alicia"}, usernames(resp))
			assert.Equal(t, 4, resp.JSON200.Count)
			after := resp.JSON200.Users[1].Id.String()
			resp = list(t, owner, gen.ListUsersParams{Limit: str("2"), AfterId: &after})
			assert.Equal(t, []string{"bob", testenv.OwnerUsername}, usernames(resp))
			resp = list(t, owner, gen.ListUsersParams{Limit: str("1"), Offset: str("2")})
			assert.Equal(t, []string{"bob"}, usernames(resp))
			resp = list(t, owner, gen.ListUsersParams{Limit: str("0")})
			requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, "Query parameters have invalid values.")
		})

		t.Run("a search that cannot be read names each bad term", func(t *testing.T) {
			resp := list(t, owner, gen.ListUsersParams{Q: str("status:asleep colour:blue")})
			env := requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, "Invalid user search query.")
			assert.ElementsMatch(t, []string{"status", "colour"}, validationFields(env))
		})

		// The filters codersdk's Users(UsersRequest{...}) and the coder CLI write into q.
		t.Run("Coder's filters", func(t *testing.T) {
			all := []string{"alice", "alicia", "bob", testenv.OwnerUsername}
			bob := list(t, owner, gen.ListUsersParams{Q: str("bob")}).JSON200.Users[0]
			bobCreated := bob.CreatedAt.UTC().Format(time.RFC3339Nano)
			future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			for q, want := range map[string][]string{
				"role:owner":                                 {testenv.OwnerUsername},
				"role:Owner":                                 {testenv.OwnerUsername},
				"role:member":                                all,
				"role:auditor":                               nil,
				"role:auditor,owner":                         {testenv.OwnerUsername},
				"status:active,suspended":                    all,
				"status:dormant,suspended":                   nil,
				"login_type:password":                        all,
				"login_type:oidc,github":                     nil,
				"created_after:" + bobCreated:                {"alicia", "bob"},
				"created_before:" + bobCreated:               {"alice", "bob", testenv.OwnerUsername},
				"last_seen_after:" + future:                  nil,
				"last_seen_before:" + future + " role:owner": {testenv.OwnerUsername},
				"search:ali":                                 {"alice", "alicia"},
				"github_com_user_id:0":                       all,
				"github_com_user_id:12345":                   nil,
			} {
				resp := list(t, owner, gen.ListUsersParams{Q: str(q)})
				require.Equal(t, http.StatusOK, resp.StatusCode(), "q=%q: %s", q, resp.Body)
				assert.Equal(t, want, usernames(resp), "q=%q", q)
				assert.Equal(t, len(want), resp.JSON200.Count, "q=%q", q)
			}
			for q, field := range map[string]string{
				"login_type:ldap":                       "login_type",
				"created_after:yesterday":               "created_after",
				"last_seen_before:2026-13-01T00:00:00Z": "last_seen_before",
				"github_com_user_id:x":                  "github_com_user_id",
				"status:active,asleep":                  "status",
			} {
				resp := list(t, owner, gen.ListUsersParams{Q: str(q)})
				env := requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, "Invalid user search query.")
				assert.Equal(t, []string{field}, validationFields(env), "q=%q", q)
			}
		})

		t.Run("members may not list users", func(t *testing.T) {
			resp := list(t, memberToken, gen.ListUsersParams{})
			assert.Equal(t, http.StatusForbidden, resp.StatusCode())
			resp = list(t, "", gen.ListUsersParams{})
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode())
		})
	})
}
