package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

func TestTheOrganizationsOfAUser(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		red := d.createOrganization(ownerToken, "Red")
		d.createOrganization(ownerToken, "green")
		blue := d.createOrganization(ownerToken, "blue")
		alice, aliceToken := d.createMember(ownerToken, "alice", blue.Id, red.Id)
		bob, bobToken := d.createMember(ownerToken, "bob")

		t.Run("a user sees their own organizations, oldest first, by me, username or id", func(t *testing.T) {
			d := d.in(t)
			for _, ref := range []string{"me", "alice", "ALICE", alice.Id.String()} {
				resp, err := d.as(aliceToken).ListUserOrganizationsWithResponse(ctx, ref, nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
				assert.Equal(t, []string{"Red", "blue"}, organizationNames(*resp.JSON200), ref)
				for _, item := range rawObjects(t, resp.Body) {
					requireTimestamp(t, rawString(t, item, "created_at"))
				}
			}
		})

		t.Run("the owner sees anyone's", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).ListUserOrganizationsWithResponse(ctx, "bob", nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{defaultOrgName}, organizationNames(*resp.JSON200))
			resp, err = d.as(ownerToken).ListUserOrganizationsWithResponse(ctx, "me", nil)
			require.NoError(t, err)
			assert.Equal(t, []string{defaultOrgName, "Red", "green", "blue"}, organizationNames(*resp.JSON200))
		})

		t.Run("anyone else's are not found, exactly as an unknown user's", func(t *testing.T) {
			d := d.in(t)
			unknown, err := d.as(bobToken).ListUserOrganizationsWithResponse(ctx, uuid.NewString(), nil)
			require.NoError(t, err)
			requireError(t, unknown.StatusCode(), unknown.Body, http.StatusNotFound, msgNotFound)
			for _, ref := range []string{"alice", alice.Id.String(), testenv.OwnerUsername, "nobody"} {
				resp, err := d.as(bobToken).ListUserOrganizationsWithResponse(ctx, ref, nil)
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, string(unknown.Body), string(resp.Body), ref)
			}
			resp, err := d.anon().ListUserOrganizationsWithResponse(ctx, "me", nil)
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgSignedOut)
		})

		t.Run("one of them by name, in any case", func(t *testing.T) {
			d := d.in(t)
			for _, name := range []string{"red", "RED", "Red"} {
				resp, err := d.as(aliceToken).GetUserOrganizationByNameWithResponse(ctx, "me", name)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
				assert.Equal(t, red.Id, resp.JSON200.Id)
				assert.JSONEq(t, d.getOrganizationBody(ownerToken, red.Id.String()), string(resp.Body))
			}
			resp, err := d.as(ownerToken).GetUserOrganizationByNameWithResponse(ctx, bob.Id.String(), defaultOrgName)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.True(t, resp.JSON200.IsDefault)
		})

		t.Run("an organization the user is not in is not found, even to the owner", func(t *testing.T) {
			d := d.in(t)
			for _, c := range []struct{ token, user, org string }{
				{aliceToken, "me", "green"},
				{aliceToken, "me", defaultOrgName},
				{aliceToken, "me", "no-such-org"},
				{ownerToken, "alice", "green"},
				{bobToken, "alice", "red"},
				{aliceToken, "me", "not a name"},
			} {
				resp, err := d.as(c.token).GetUserOrganizationByNameWithResponse(ctx, c.user, c.org)
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
			}
		})

		t.Run("changes show at once", func(t *testing.T) {
			d := d.in(t)
			d.removeMember(ownerToken, "red", "alice", http.StatusNoContent)
			resp, err := d.as(aliceToken).ListUserOrganizationsWithResponse(ctx, "me", nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"blue"}, organizationNames(*resp.JSON200))
		})
	})
}
