package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestTheOwnerAddsMembersToOrganizations(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		org := d.createOrganization(ownerToken, "Green")
		ctx := context.Background()

		byUUID, byUUIDToken := d.createMember(ownerToken, "by-uuid")
		byName, _ := d.createMember(ownerToken, "by-name")
		byOrgName, _ := d.createMember(ownerToken, "by-org-name")

		cases := []struct {
			name   string
			orgRef string
			user   string
			userID uuid.UUID
		}{
			{"a user by UUID to an organization by UUID", org.Id.String(), byUUID.Id.String(), byUUID.Id},
			{"a user by username to an organization by UUID", org.Id.String(), "by-name", byName.Id},
			{"a user by username to an organization by name in another case", "GREEN", "by-org-name", byOrgName.Id},
		}
		for _, tc := range cases {
			t.Run("the owner adds "+tc.name, func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations/"+tc.orgRef+"/members/"+tc.user, nil, withSessionHeader(ownerToken))
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				assert.Equal(t, tc.userID.String(), rawString(t, r.Body, "user_id"))
				assert.Equal(t, org.Id.String(), rawString(t, r.Body, "organization_id"))
				requireTimestamp(t, rawString(t, r.Body, "created_at"))
				var member gen.OrganizationMember
				require.NoError(t, json.Unmarshal(r.Body, &member))
				roles := roleNames(member.Roles)
				assert.Contains(t, roles, orgMemberRole)
				assert.NotContains(t, roles, orgAdminRole, "an added member is not an admin")
			})
		}

		t.Run("the added member now sees the organization", func(t *testing.T) {
			d := d.in(t)
			got, err := d.as(byUUIDToken).GetOrganizationWithResponse(ctx, "green")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
			me, err := d.as(byUUIDToken).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Contains(t, me.JSON200.OrganizationIds, org.Id)
			assert.Equal(t, []string{defaultOrgName, "Green"}, organizationNames(decodeOrganizations(t, d.listOrganizations(byUUIDToken))))
		})

		t.Run("adding a member twice is refused", func(t *testing.T) {
			for _, user := range []string{byUUID.Id.String(), "by-uuid"} {
				r := d.in(t).send(http.MethodPost, "/organizations/green/members/"+user, nil, withSessionHeader(ownerToken))
				requireErrorSentence(t, r.Status, r.Body, http.StatusConflict)
			}
		})

		t.Run("me names the caller", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations/"+org.Id.String()+"/members/me", nil, withSessionHeader(ownerToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusConflict)
		})

		t.Run("the default keyword names the default organization", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations/default/members/by-uuid", nil, withSessionHeader(ownerToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusConflict)
		})

		notFound := []struct {
			name, org, user string
		}{
			{"an unknown user by UUID", org.Id.String(), uuid.NewString()},
			{"an unknown user by username", org.Id.String(), "nobody"},
			{"an unknown organization by UUID", uuid.NewString(), byName.Id.String()},
			{"an unknown organization by name", "no-such-org", "by-name"},
		}
		for _, tc := range notFound {
			t.Run("adding "+tc.name+" is not found", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations/"+tc.org+"/members/"+tc.user, nil, withSessionHeader(ownerToken))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			})
		}
	})
}

func TestMembersWhoAreNotAdminsCannotAddMembers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		hidden := d.createOrganization(ownerToken, "hidden")
		shared := d.createOrganization(ownerToken, "shared")
		_, memberToken := d.createMember(ownerToken, "alice", shared.Id)
		bob, _ := d.createMember(ownerToken, "bob")

		unknown := d.send(http.MethodPost, "/organizations/"+uuid.NewString()+"/members/bob", nil, withSessionHeader(memberToken))
		requireError(t, unknown.Status, unknown.Body, http.StatusNotFound, msgNotFound)

		t.Run("in an organization they belong to the refusal is forbidden", func(t *testing.T) {
			for _, user := range []string{"bob", bob.Id.String(), "me"} {
				r := d.in(t).send(http.MethodPost, "/organizations/shared/members/"+user, nil, withSessionHeader(memberToken))
				if user == "me" {
					// Already a member: a conflict or a refusal, never a success.
					assert.Contains(t, []int{http.StatusForbidden, http.StatusConflict}, r.Status, string(r.Body))
					continue
				}
				requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)
			}
		})

		t.Run("in an organization they cannot see the refusal is not found, as for an unknown one", func(t *testing.T) {
			for _, ref := range []string{"hidden", hidden.Id.String(), "default"} {
				r := d.in(t).send(http.MethodPost, "/organizations/"+ref+"/members/bob", nil, withSessionHeader(memberToken))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, string(unknown.Body), string(r.Body))
			}
			r := d.in(t).send(http.MethodPost, "/organizations/hidden/members/me", nil, withSessionHeader(memberToken))
			requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
		})

		t.Run("the refusals added nobody", func(t *testing.T) {
			d := d.in(t)
			bobToken := d.login("bob@example.com", memberPassword)
			assert.Equal(t, []string{defaultOrgName}, organizationNames(decodeOrganizations(t, d.listOrganizations(bobToken))))
			aliceOrgs := organizationNames(decodeOrganizations(t, d.listOrganizations(memberToken)))
			assert.Equal(t, []string{"shared"}, aliceOrgs)
		})
	})
}
