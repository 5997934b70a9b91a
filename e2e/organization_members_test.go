package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

const (
	msgCannotRemoveSelf   = "cannot remove self from an organization"
	msgCannotChangeOwnOrg = "You cannot change your own organization roles."
)

func TestListingOrganizationMembers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		org := d.createOrganization(ownerToken, "crew")
		alice, aliceToken := d.createMember(ownerToken, "alice", org.Id)
		bob, _ := d.createMember(ownerToken, "bob", org.Id)
		d.setRoles(ownerToken, "crew", bob.Id.String(), gen.OrganizationRoleAdmin)
		_, outsiderToken := d.createMember(ownerToken, "outsider")

		t.Run("a member sees every member with their user's details, oldest membership first", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(aliceToken).ListOrganizationMembersWithResponse(ctx, "crew", nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			members := *resp.JSON200
			require.Len(t, members, 3, string(resp.Body))
			assert.Equal(t, []string{testenv.OwnerUsername, "alice", "bob"}, []string{members[0].Username, members[1].Username, members[2].Username})

			owner, a, b := members[0], members[1], members[2]
			assert.Equal(t, []string{orgMemberRole, orgAdminRole}, roleNames(owner.Roles), "the creator is the admin")
			assert.Equal(t, []string{ownerRole}, roleNames(owner.GlobalRoles))
			assert.Equal(t, []string{orgMemberRole}, roleNames(a.Roles))
			assert.Equal(t, []string{memberRole}, roleNames(a.GlobalRoles))
			assert.Equal(t, []string{orgMemberRole, orgAdminRole}, roleNames(b.Roles))

			assert.Equal(t, alice.Id, a.UserId)
			assert.Equal(t, org.Id, a.OrganizationId)
			assert.Equal(t, "alice@example.com", string(a.Email))
			assert.Equal(t, gen.UserStatusActive, a.Status)
			assert.Equal(t, "password", a.LoginType)
			assert.Empty(t, a.Name)
			assert.Empty(t, a.AvatarUrl)
			assert.True(t, a.UserCreatedAt.Equal(alice.CreatedAt), "user_created_at is the user's created_at")
			assert.False(t, a.LastSeenAt.Before(a.UserCreatedAt), "last_seen_at is the user's: no earlier than their creation")
			assert.False(t, a.CreatedAt.Before(a.UserCreatedAt), "the membership is no older than the user")
			for _, item := range rawObjects(t, resp.Body) {
				for _, field := range []string{"created_at", "updated_at", "user_created_at", "user_updated_at", "last_seen_at"} {
					requireTimestamp(t, rawString(t, item, field))
				}
			}
		})

		t.Run("the owner sees the members of an organization they are not in", func(t *testing.T) {
			d := d.in(t)
			other := d.createOrganization(ownerToken, "elsewhere")
			d.removeMember(ownerToken, "elsewhere", "alice", http.StatusNotFound)
			d.addMember(ownerToken, "elsewhere", "alice")
			d.setRoles(ownerToken, "elsewhere", "alice", gen.OrganizationRoleAdmin)
			d.removeMember(aliceToken, "elsewhere", testenv.OwnerUsername, http.StatusNoContent)
			assert.Equal(t, []string{"alice"}, d.memberNames(ownerToken, other.Id.String()))
		})

		t.Run("an outsider finds nothing, exactly as for an unknown organization", func(t *testing.T) {
			d := d.in(t)
			unknown, err := d.as(outsiderToken).ListOrganizationMembersWithResponse(ctx, uuid.NewString(), nil)
			require.NoError(t, err)
			requireError(t, unknown.StatusCode(), unknown.Body, http.StatusNotFound, msgNotFound)
			for _, ref := range []string{"crew", org.Id.String()} {
				resp, err := d.as(outsiderToken).ListOrganizationMembersWithResponse(ctx, ref, nil)
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, string(unknown.Body), string(resp.Body))
				page, err := d.as(outsiderToken).PaginatedOrganizationMembersWithResponse(ctx, ref, nil)
				require.NoError(t, err)
				requireError(t, page.StatusCode(), page.Body, http.StatusNotFound, msgNotFound)
			}
			resp, err := d.anon().ListOrganizationMembersWithResponse(ctx, "crew", nil)
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgSignedOut)
		})

		t.Run("paginated-members gives the same members and the total count", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(aliceToken).PaginatedOrganizationMembersWithResponse(ctx, "crew", nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, 3, resp.JSON200.Count)
			list, err := d.as(aliceToken).ListOrganizationMembersWithResponse(ctx, "crew", nil)
			require.NoError(t, err)
			assert.Equal(t, *list.JSON200, resp.JSON200.Members)
		})
	})
}

func TestRemovingOrganizationMembers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		org := d.createOrganization(ownerToken, "crew")
		admin, adminToken := d.createMember(ownerToken, "admin", org.Id)
		d.setRoles(ownerToken, "crew", "admin", gen.OrganizationRoleAdmin)
		carol, carolToken := d.createMember(ownerToken, "carol", org.Id)
		dave, daveToken := d.createMember(ownerToken, "dave", org.Id)
		_, outsiderToken := d.createMember(ownerToken, "outsider")
		_ = admin

		t.Run("a plain member may not remove anyone, and an outsider finds nothing", func(t *testing.T) {
			d := d.in(t)
			d.removeMember(carolToken, "crew", "dave", http.StatusForbidden)
			d.removeMember(outsiderToken, "crew", "dave", http.StatusNotFound)
			d.removeMember(outsiderToken, org.Id.String(), dave.Id.String(), http.StatusNotFound)
			r := d.send(http.MethodDelete, "/organizations/crew/members/dave", nil)
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			assert.Contains(t, d.memberNames(ownerToken, "crew"), "dave")
		})

		t.Run("nobody may remove themselves", func(t *testing.T) {
			d := d.in(t)
			for _, who := range []struct{ token, ref string }{{ownerToken, "me"}, {ownerToken, testenv.OwnerUsername}, {adminToken, "admin"}, {carolToken, "me"}} {
				resp, err := d.as(who.token).RemoveOrganizationMemberWithResponse(ctx, "crew", who.ref)
				require.NoError(t, err)
				if who.token == carolToken {
					// A plain member is refused before anything else is looked at.
					requireErrorSentence(t, resp.StatusCode(), resp.Body, http.StatusForbidden)
					continue
				}
				requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, msgCannotRemoveSelf)
			}
		})

		t.Run("unknown users and users who are not members are not found", func(t *testing.T) {
			d := d.in(t)
			d.removeMember(ownerToken, "crew", "outsider", http.StatusNotFound)
			d.removeMember(ownerToken, "crew", uuid.NewString(), http.StatusNotFound)
			d.removeMember(ownerToken, "crew", "nobody", http.StatusNotFound)
			d.removeMember(ownerToken, uuid.NewString(), "dave", http.StatusNotFound)
		})

		t.Run("an admin removes a member: they lose the organization at once", func(t *testing.T) {
			d := d.in(t)
			d.removeMember(adminToken, "crew", dave.Id.String(), http.StatusNoContent)
			assert.NotContains(t, d.memberNames(ownerToken, "crew"), "dave")
			resp, err := d.as(daveToken).GetOrganizationWithResponse(ctx, "crew")
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
			d.removeMember(adminToken, "crew", "dave", http.StatusNotFound)
		})

		t.Run("the owner removes a member, who may be added back", func(t *testing.T) {
			d := d.in(t)
			d.removeMember(ownerToken, "CREW", "Carol", http.StatusNoContent)
			assert.Equal(t, []string{testenv.OwnerUsername, "admin"}, d.memberNames(ownerToken, "crew"))
			d.addMember(ownerToken, "crew", carol.Id.String())
			assert.Equal(t, []string{testenv.OwnerUsername, "admin", "carol"}, d.memberNames(carolToken, "crew"))
		})
	})
}

func TestSettingOrganizationMemberRoles(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		org := d.createOrganization(ownerToken, "crew")
		erin, erinToken := d.createMember(ownerToken, "erin", org.Id)
		_, frankToken := d.createMember(ownerToken, "frank", org.Id)
		_, outsiderToken := d.createMember(ownerToken, "outsider")

		t.Run("the owner makes a member an admin, who may then manage members", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).UpdateOrganizationMemberRolesWithResponse(ctx, "crew", "erin",
				gen.UpdateRoles{Roles: &[]gen.OrganizationRoleName{gen.OrganizationRoleAdmin}})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, erin.Id, resp.JSON200.UserId)
			assert.Equal(t, org.Id, resp.JSON200.OrganizationId)
			assert.Equal(t, []string{orgMemberRole, orgAdminRole}, roleNames(resp.JSON200.Roles))
			requireTimestamp(t, rawString(t, resp.Body, "updated_at"))

			d.addMember(erinToken, "crew", "outsider")
			d.removeMember(erinToken, "crew", "outsider", http.StatusNoContent)
		})

		t.Run("a plain member may not set roles, and an outsider finds nothing", func(t *testing.T) {
			d := d.in(t)
			body := []byte(`{"roles":["organization-admin"]}`)
			r := d.send(http.MethodPut, "/organizations/crew/members/frank/roles", body, withSessionHeader(frankToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)
			r = d.send(http.MethodPut, "/organizations/crew/members/erin/roles", []byte(`{"roles":[]}`), withSessionHeader(frankToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)
			r = d.send(http.MethodPut, "/organizations/crew/members/frank/roles", body, withSessionHeader(outsiderToken))
			requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			assert.Equal(t, []string{orgMemberRole}, d.rolesOf(ownerToken, "crew", "frank"))
		})

		t.Run("nobody may change their own roles", func(t *testing.T) {
			d := d.in(t)
			for _, who := range []struct{ token, ref string }{{erinToken, "me"}, {erinToken, "erin"}, {ownerToken, testenv.OwnerUsername}} {
				r := d.send(http.MethodPut, "/organizations/crew/members/"+who.ref+"/roles", []byte(`{"roles":[]}`), withSessionHeader(who.token))
				requireError(t, r.Status, r.Body, http.StatusBadRequest, msgCannotChangeOwnOrg)
			}
			assert.Equal(t, []string{orgMemberRole, orgAdminRole}, d.rolesOf(ownerToken, "crew", "erin"))
		})

		t.Run("unknown roles and bad bodies are refused and change nothing", func(t *testing.T) {
			d := d.in(t)
			for _, body := range []string{`{"roles":["owner"]}`, `{"roles":["organization-admin","superuser"]}`, `{"roles":["Organization-Admin"]}`, `{"roles":"organization-admin"}`} {
				r := d.send(http.MethodPut, "/organizations/crew/members/frank/roles", []byte(body), withSessionHeader(ownerToken))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgValidationFailed)
				require.NotEmpty(t, validationFields(env), body)
				assert.Contains(t, validationFields(env)[0], "roles", body)
			}
			assert.Equal(t, []string{orgMemberRole}, d.rolesOf(ownerToken, "crew", "frank"))
		})

		t.Run("the implied member role: an empty list or the member role alone make a plain member", func(t *testing.T) {
			d := d.in(t)
			for _, roles := range [][]gen.OrganizationRoleName{{}, {gen.OrganizationRoleMember}, {gen.OrganizationRoleMember, gen.OrganizationRoleAdmin, gen.OrganizationRoleAdmin}} {
				d.setRoles(ownerToken, "crew", "frank", gen.OrganizationRoleAdmin)
				got := d.setRoles(ownerToken, "crew", "frank", roles...)
				want := []string{orgMemberRole}
				for _, r := range roles {
					if r == gen.OrganizationRoleAdmin {
						want = []string{orgMemberRole, orgAdminRole}
					}
				}
				assert.Equal(t, want, roleNames(got.Roles), "roles %v", roles)
			}
			// No roles at all ({} or null, as codersdk's UpdateRoles{} sends) is none, as in Coder.
			for _, body := range []string{`{}`, `{"roles":null}`} {
				d.setRoles(ownerToken, "crew", "frank", gen.OrganizationRoleAdmin)
				r := d.send(http.MethodPut, "/organizations/crew/members/frank/roles", []byte(body), withSessionHeader(ownerToken))
				require.Equal(t, http.StatusOK, r.Status, "%s: %s", body, r.Body)
				assert.Equal(t, []string{orgMemberRole}, d.rolesOf(ownerToken, "crew", "frank"), body)
			}
			d.setRoles(ownerToken, "crew", "erin")
			r := d.send(http.MethodPost, "/organizations/crew/members/outsider", nil, withSessionHeader(erinToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)
		})

		t.Run("a user who is not a member, or does not exist, is not found", func(t *testing.T) {
			d := d.in(t)
			for _, user := range []string{"outsider", "nobody", uuid.NewString()} {
				r := d.send(http.MethodPut, "/organizations/crew/members/"+user+"/roles", []byte(`{"roles":[]}`), withSessionHeader(ownerToken))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			}
		})
	})
}

// addMember has token's user add a member, which must succeed.
func (d *deployment) addMember(token, org, user string) {
	d.t.Helper()
	resp, err := d.as(token).AddOrganizationMemberWithResponse(context.Background(), org, user)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
}

// removeMember has token's user remove a member and checks the status; errors are envelopes.
func (d *deployment) removeMember(token, org, user string, wantStatus int) {
	d.t.Helper()
	resp, err := d.as(token).RemoveOrganizationMemberWithResponse(context.Background(), org, user)
	require.NoError(d.t, err)
	switch wantStatus {
	case http.StatusNoContent:
		require.Equal(d.t, wantStatus, resp.StatusCode(), string(resp.Body))
		assert.Empty(d.t, resp.Body)
	case http.StatusNotFound:
		requireError(d.t, resp.StatusCode(), resp.Body, wantStatus, msgNotFound)
	default:
		requireErrorSentence(d.t, resp.StatusCode(), resp.Body, wantStatus)
	}
}

// rolesOf returns a member's organization role names as the members list shows them.
func (d *deployment) rolesOf(token, org, username string) []string {
	d.t.Helper()
	resp, err := d.as(token).ListOrganizationMembersWithResponse(context.Background(), org, nil)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	for _, m := range *resp.JSON200 {
		if m.Username == username {
			return roleNames(m.Roles)
		}
	}
	d.t.Fatalf("%s is not a member of %s", username, org)
	return nil
}
