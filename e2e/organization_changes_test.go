package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// Messages of the organization routes that the contract fixes word for word.
const (
	msgOrgNameReserved   = `Organization name "default" is reserved.`
	msgOrgDeleted        = "Organization has been deleted."
	msgDefaultOrgDelete  = "Default organization cannot be deleted."
	msgNameInUseDetail   = "This value is already in use and should be unique."
	msgOrgExistsWithName = `Organization already exists with the name %q.`
)

func TestOrganizationsHaveADisplayNameADescriptionAndAnIcon(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()

		t.Run("they are stored as given and every read returns them", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{
				Name:        "acme",
				DisplayName: new(gen.OrganizationDisplayName("Acme Corporation")),
				Description: new(gen.OrganizationDescription("Everything Acme builds.")),
				Icon:        new(gen.OrganizationIcon("/emojis/1f3e2.png")),
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			org := resp.JSON201
			assert.Equal(t, "Acme Corporation", org.DisplayName)
			assert.Equal(t, "Everything Acme builds.", org.Description)
			assert.Equal(t, "/emojis/1f3e2.png", org.Icon)

			got, err := d.as(ownerToken).GetOrganizationWithResponse(ctx, "acme")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
			assert.JSONEq(t, string(resp.Body), string(got.Body))
		})

		t.Run("the display name defaults to the name, the description and icon to empty", func(t *testing.T) {
			for _, body := range []string{`{"name":"Plain"}`, `{"name":"Plainer","display_name":""}`} {
				r := d.in(t).send(http.MethodPost, "/organizations", []byte(body), withSessionHeader(ownerToken))
				require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
				assert.Equal(t, rawString(t, r.Body, "name"), rawString(t, r.Body, "display_name"), body)
				assert.Empty(t, rawString(t, r.Body, "description"), body)
				assert.Empty(t, rawString(t, r.Body, "icon"), body)
			}
		})

		t.Run("the default organization's display name is its name", func(t *testing.T) {
			org := d.in(t).defaultOrganization(ownerToken)
			assert.Equal(t, defaultOrgName, org.DisplayName)
		})

		t.Run("fields at their longest are accepted", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, map[string]any{
				"name":         "longest",
				"display_name": strings.Repeat("é", 64),
				"description":  strings.Repeat("d", 1024),
				"icon":         strings.Repeat("i", 256),
			}), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			assert.Equal(t, strings.Repeat("é", 64), rawString(t, r.Body, "display_name"))
		})

		before := d.listOrganizations(ownerToken)
		invalid := []struct {
			name, field string
			value       any
		}{
			{"a display name of 65 characters", "display_name", strings.Repeat("a", 65)},
			{"a display name with leading white space", "display_name", " Acme"},
			{"a display name with trailing white space", "display_name", "Acme\t"},
			{"a display name of white space only", "display_name", "   "},
			{"a display name that is a number", "display_name", 5},
			{"a description of 1025 characters", "description", strings.Repeat("d", 1025)},
			{"an icon of 257 characters", "icon", strings.Repeat("i", 257)},
			{"a null icon", "icon", nil},
		}
		for _, tc := range invalid {
			t.Run(tc.name+" is refused", func(t *testing.T) {
				body := map[string]any{"name": "refused", tc.field: tc.value}
				r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, body), withSessionHeader(ownerToken))
				requireValidation(t, r.Status, r.Body, tc.field)
			})
		}
		for _, name := range []string{"default", "Default", "DEFAULT"} {
			t.Run("the reserved name "+name+" is refused with Coder's message", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, map[string]any{"name": name}), withSessionHeader(ownerToken))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgOrgNameReserved)
				assert.Equal(t, []string{"name"}, validationFields(env))
			})
		}
		t.Run("the refusals created nothing", func(t *testing.T) {
			d := d.in(t)
			after := decodeOrganizations(t, d.listOrganizations(ownerToken))
			assert.Len(t, after, len(decodeOrganizations(t, before)))
		})
	})
}

func TestUpdatingOrganizations(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		org := d.createOrganization(ownerToken, "blue")
		d.createOrganization(ownerToken, "Taken-Name")
		hidden := d.createOrganization(ownerToken, "hidden")
		plain, plainToken := d.createMember(ownerToken, "plain", org.Id)
		admin, adminToken := d.createMember(ownerToken, "admin", org.Id)
		d.setRoles(ownerToken, "blue", admin.Id.String(), gen.OrganizationRoleAdmin)
		_ = plain

		t.Run("the owner changes every field; created_at stays and updated_at moves", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).UpdateOrganizationWithResponse(ctx, org.Id.String(), gen.UpdateOrganizationRequest{
				Name:        new(gen.Name("Blue-Team")),
				DisplayName: new(gen.OrganizationDisplayName("The Blue Team")),
				Description: new(gen.OrganizationDescription("Defends.")),
				Icon:        new(gen.OrganizationIcon("/icon/blue.svg")),
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			got := resp.JSON200
			assert.Equal(t, org.Id, got.Id)
			assert.Equal(t, "Blue-Team", got.Name)
			assert.Equal(t, "The Blue Team", got.DisplayName)
			assert.Equal(t, "Defends.", got.Description)
			assert.Equal(t, "/icon/blue.svg", got.Icon)
			assert.False(t, got.IsDefault)
			assert.True(t, got.CreatedAt.Equal(org.CreatedAt), "created_at must not change")
			assert.True(t, got.UpdatedAt.After(org.UpdatedAt), "updated_at must move forward")
			requireTimestamp(t, rawString(t, resp.Body, "updated_at"))

			read, err := d.as(ownerToken).GetOrganizationWithResponse(ctx, "blue-team")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, read.StatusCode(), string(read.Body))
			assert.JSONEq(t, string(resp.Body), string(read.Body), "a read right after returns the change")
			old, err := d.as(ownerToken).GetOrganizationWithResponse(ctx, "blue")
			require.NoError(t, err)
			requireError(t, old.StatusCode(), old.Body, http.StatusNotFound, msgNotFound)
		})

		t.Run("fields left out, and an empty display name, keep their value", func(t *testing.T) {
			d := d.in(t)
			r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"description":"Still defends."}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "Blue-Team", rawString(t, r.Body, "name"))
			assert.Equal(t, "The Blue Team", rawString(t, r.Body, "display_name"))
			assert.Equal(t, "Still defends.", rawString(t, r.Body, "description"))
			assert.Equal(t, "/icon/blue.svg", rawString(t, r.Body, "icon"))

			r = d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"display_name":"","icon":""}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "The Blue Team", rawString(t, r.Body, "display_name"))
			assert.Empty(t, rawString(t, r.Body, "icon"), "an empty icon clears it")
		})

		// Coder keeps a field whose value is empty (name, display_name) or null (description,
		// icon): its web UI sends a whole form, with what did not change left so.
		t.Run("an empty name and a null description or icon keep their value, as in Coder", func(t *testing.T) {
			d := d.in(t)
			set := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"icon":"/icon/kept.svg"}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, set.Status, string(set.Body))
			r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"name":"","display_name":"","description":null,"icon":null}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "Blue-Team", rawString(t, r.Body, "name"))
			assert.Equal(t, "The Blue Team", rawString(t, r.Body, "display_name"))
			assert.Equal(t, "Still defends.", rawString(t, r.Body, "description"))
			assert.Equal(t, "/icon/kept.svg", rawString(t, r.Body, "icon"))
		})

		t.Run("renaming to its own name in another case is allowed", func(t *testing.T) {
			r := d.in(t).send(http.MethodPatch, "/organizations/blue-team", []byte(`{"name":"BLUE-team"}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "BLUE-team", rawString(t, r.Body, "name"))
		})

		t.Run("a name another organization has, in any case, is a conflict naming the field", func(t *testing.T) {
			for _, name := range []string{"taken-name", "first-organization"} {
				r := d.in(t).send(http.MethodPatch, "/organizations/"+org.Id.String(), mustJSON(t, map[string]any{"name": name}), withSessionHeader(ownerToken))
				env := requireError(t, r.Status, r.Body, http.StatusConflict, fmt.Sprintf(msgOrgExistsWithName, name))
				require.NotNil(t, env.Validations, string(r.Body))
				assert.Equal(t, []gen.ValidationError{{Field: "name", Detail: msgNameInUseDetail}}, *env.Validations)
			}
		})

		t.Run("bad values are refused and change nothing", func(t *testing.T) {
			d := d.in(t)
			before := d.getOrganizationBody(ownerToken, org.Id.String())
			for _, name := range []string{"default", "Default"} {
				r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), mustJSON(t, map[string]any{"name": name}), withSessionHeader(ownerToken))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgOrgNameReserved)
				assert.Equal(t, []string{"name"}, validationFields(env))
			}
			for field, value := range map[string]any{"name": "not valid", "display_name": " x", "description": strings.Repeat("d", 1025), "icon": 7} {
				r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), mustJSON(t, map[string]any{field: value}), withSessionHeader(ownerToken))
				requireValidation(t, r.Status, r.Body, field)
			}
			r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"name":`), withSessionHeader(ownerToken))
			requireError(t, r.Status, r.Body, http.StatusBadRequest, msgInvalidJSON)
			assert.Equal(t, before, d.getOrganizationBody(ownerToken, org.Id.String()))
		})

		t.Run("the organization's admin may update it", func(t *testing.T) {
			r := d.in(t).send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"display_name":"Admins Were Here"}`), withSessionHeader(adminToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "Admins Were Here", rawString(t, r.Body, "display_name"))
		})

		t.Run("a plain member is forbidden and an outsider finds nothing", func(t *testing.T) {
			d := d.in(t)
			before := d.getOrganizationBody(ownerToken, org.Id.String())
			r := d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"display_name":"Nope"}`), withSessionHeader(plainToken))
			requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)

			unknown := d.send(http.MethodPatch, "/organizations/"+uuid.NewString(), []byte(`{"display_name":"Nope"}`), withSessionHeader(adminToken))
			requireError(t, unknown.Status, unknown.Body, http.StatusNotFound, msgNotFound)
			for _, ref := range []string{hidden.Id.String(), "hidden"} {
				r := d.send(http.MethodPatch, "/organizations/"+ref, []byte(`{"display_name":"Nope"}`), withSessionHeader(adminToken))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, string(unknown.Body), string(r.Body), "not visible is exactly like unknown")
			}
			r = d.send(http.MethodPatch, "/organizations/"+org.Id.String(), []byte(`{"display_name":"Nope"}`))
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			assert.Equal(t, before, d.getOrganizationBody(ownerToken, org.Id.String()))
		})

		t.Run("the default organization may be renamed, as in Coder, and is still found as default", func(t *testing.T) {
			d := d.in(t)
			r := d.send(http.MethodPatch, "/organizations/default", []byte(`{"name":"main","display_name":"Main"}`), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Equal(t, "main", rawString(t, r.Body, "name"))
			def := d.defaultOrganization(ownerToken)
			assert.Equal(t, "main", def.Name)
			assert.True(t, def.IsDefault)
			r = d.send(http.MethodPatch, "/organizations/main", mustJSON(t, map[string]any{"name": defaultOrgName}), withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		})
	})
}

func TestDeletingOrganizations(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()
		doomed := d.createOrganization(ownerToken, "Doomed")
		other := d.createOrganization(ownerToken, "other")
		member, memberToken := d.createMember(ownerToken, "member", doomed.Id, other.Id)
		admin, adminToken := d.createMember(ownerToken, "admin", doomed.Id)
		d.setRoles(ownerToken, "doomed", admin.Id.String(), gen.OrganizationRoleAdmin)
		_, outsiderToken := d.createMember(ownerToken, "outsider")

		t.Run("nobody but the owner may delete it", func(t *testing.T) {
			d := d.in(t)
			for _, token := range []string{memberToken, adminToken} {
				r := d.send(http.MethodDelete, "/organizations/doomed", nil, withSessionHeader(token))
				requireErrorSentence(t, r.Status, r.Body, http.StatusForbidden)
			}
			unknown := d.send(http.MethodDelete, "/organizations/"+uuid.NewString(), nil, withSessionHeader(outsiderToken))
			requireError(t, unknown.Status, unknown.Body, http.StatusNotFound, msgNotFound)
			r := d.send(http.MethodDelete, "/organizations/"+doomed.Id.String(), nil, withSessionHeader(outsiderToken))
			requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			assert.JSONEq(t, string(unknown.Body), string(r.Body))
			r = d.send(http.MethodDelete, "/organizations/doomed", nil)
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			d.getOrganizationBody(ownerToken, doomed.Id.String())
		})

		t.Run("the default organization cannot be deleted", func(t *testing.T) {
			d := d.in(t)
			def := d.defaultOrganization(ownerToken)
			for _, ref := range []string{"default", def.Id.String(), defaultOrgName} {
				resp, err := d.as(ownerToken).DeleteOrganizationWithResponse(ctx, ref)
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, msgDefaultOrgDelete)
			}
			d.defaultOrganization(ownerToken)
		})

		t.Run("the owner deletes it: it is gone, with its memberships, and its name is free at once", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).DeleteOrganizationWithResponse(ctx, "DOOMED")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, msgOrgDeleted, envelope(t, resp.Body).Message)

			for _, ref := range []string{doomed.Id.String(), "doomed"} {
				got, err := d.as(ownerToken).GetOrganizationWithResponse(ctx, ref)
				require.NoError(t, err)
				requireError(t, got.StatusCode(), got.Body, http.StatusNotFound, msgNotFound)
			}
			again, err := d.as(ownerToken).DeleteOrganizationWithResponse(ctx, doomed.Id.String())
			require.NoError(t, err)
			requireError(t, again.StatusCode(), again.Body, http.StatusNotFound, msgNotFound)

			me, err := d.as(memberToken).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Equal(t, []uuid.UUID{other.Id}, me.JSON200.OrganizationIds, "the membership went with the organization")
			assert.Equal(t, []string{"other"}, organizationNames(decodeOrganizations(t, d.listOrganizations(memberToken))))
			_ = member

			reborn := d.createOrganization(ownerToken, "doomed")
			assert.NotEqual(t, doomed.Id, reborn.Id)
			members := d.memberNames(ownerToken, "doomed")
			assert.Equal(t, []string{testenv.OwnerUsername}, members, "nobody carries over from the deleted organization")
		})
	})
}

// setRoles has token's user set a member's organization roles, which must succeed.
func (d *deployment) setRoles(token, org, user string, roles ...gen.OrganizationRoleName) gen.OrganizationMember {
	d.t.Helper()
	if roles == nil {
		roles = []gen.OrganizationRoleName{}
	}
	resp, err := d.as(token).UpdateOrganizationMemberRolesWithResponse(context.Background(), org, user, gen.UpdateRoles{Roles: &roles})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

// getOrganizationBody returns the raw body of GET /organizations/{ref}, which must succeed.
func (d *deployment) getOrganizationBody(token, ref string) string {
	d.t.Helper()
	resp, err := d.as(token).GetOrganizationWithResponse(context.Background(), ref)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return string(resp.Body)
}

// memberNames lists an organization's members' usernames, in the list's order.
func (d *deployment) memberNames(token, org string) []string {
	d.t.Helper()
	resp, err := d.as(token).ListOrganizationMembersWithResponse(context.Background(), org, nil)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	names := make([]string, 0, len(*resp.JSON200))
	for _, m := range *resp.JSON200 {
		names = append(names, m.Username)
	}
	return names
}
