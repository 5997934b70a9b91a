package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// codersdk's User(ctx, "alice") is GET /users/{user}: by id, username or "me".
func TestAUserIsReadByIDOrUsername(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		org := d.createOrganization(owner, "blue")
		alice, aliceToken := d.createMember(owner, "alice", org.Id)

		// userFields is what GET /users/me says of a user, less the time that moves on use.
		userFields := func(t *testing.T, body []byte) map[string]any {
			t.Helper()
			var fields map[string]any
			require.NoError(t, json.Unmarshal(body, &fields), "%s", body)
			delete(fields, "last_seen_at")
			return fields
		}
		me := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(aliceToken))
		require.Equal(t, http.StatusOK, me.Status, "%s", me.Body)
		want := userFields(t, me.Body)

		for _, ref := range []string{"alice", "ALICE", alice.Id.String(), "{" + alice.Id.String() + "}"} {
			t.Run("the owner reads alice as "+ref, func(t *testing.T) {
				got := d.in(t).send(http.MethodGet, "/users/"+url.PathEscape(ref), nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
				assert.Equal(t, want, userFields(t, got.Body))
			})
		}
		for _, ref := range []string{"me", "alice", alice.Id.String()} {
			t.Run("alice reads herself as "+ref, func(t *testing.T) {
				got := d.in(t).send(http.MethodGet, "/users/"+ref, nil, withSessionHeader(aliceToken))
				require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
				assert.Equal(t, want, userFields(t, got.Body))
			})
		}
		t.Run("a member does not see another user, exactly as if they did not exist", func(t *testing.T) {
			d := d.in(t)
			unknown := d.send(http.MethodGet, "/users/nobody", nil, withSessionHeader(aliceToken))
			requireError(t, unknown.Status, unknown.Body, http.StatusNotFound, msgNotFound)
			ownerID := rawString(t, d.send(http.MethodGet, "/users/me", nil, withSessionHeader(owner)).Body, "id")
			for _, ref := range []string{"owner", ownerID, strings.ToUpper(ownerID)} {
				got := d.send(http.MethodGet, "/users/"+ref, nil, withSessionHeader(aliceToken))
				requireError(t, got.Status, got.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, string(unknown.Body), string(got.Body))
			}
		})
		t.Run("an unsigned caller is refused", func(t *testing.T) {
			got := d.in(t).send(http.MethodGet, "/users/alice", nil)
			requireError(t, got.Status, got.Body, http.StatusUnauthorized, msgSignedOut)
		})
	})
}
