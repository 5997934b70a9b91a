package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestTheOwnerCreatesOrganizations(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		ctx := context.Background()

		created, err := d.as(ownerToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "Acme-Corp"})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
		org := created.JSON201
		assert.Equal(t, "Acme-Corp", org.Name, "the name is kept as given")
		assert.False(t, org.IsDefault)
		assert.NotEqual(t, uuid.Nil, org.Id)

		t.Run("its timestamps are UTC with at most microseconds, and every read returns them byte for byte", func(t *testing.T) {
			createdAt := rawString(t, created.Body, "created_at")
			updatedAt := rawString(t, created.Body, "updated_at")
			requireTimestamp(t, createdAt)
			requireTimestamp(t, updatedAt)

			for _, ref := range []string{org.Id.String(), "acme-corp", "ACME-CORP"} {
				got, err := d.in(t).as(ownerToken).GetOrganizationWithResponse(ctx, ref)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
				assert.Equal(t, createdAt, rawString(t, got.Body, "created_at"), "GET %s", ref)
				assert.Equal(t, updatedAt, rawString(t, got.Body, "updated_at"), "GET %s", ref)
				assert.JSONEq(t, string(created.Body), string(got.Body), "GET %s", ref)
			}

			list := d.in(t).listOrganizations(ownerToken)
			found := false
			for _, item := range rawObjects(t, list) {
				if rawString(t, item, "id") == org.Id.String() {
					found = true
					assert.Equal(t, createdAt, rawString(t, item, "created_at"))
					assert.Equal(t, updatedAt, rawString(t, item, "updated_at"))
				}
			}
			assert.True(t, found, "the list holds the new organization: %s", list)
		})

		t.Run("its creator is a member of it", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).AddOrganizationMemberWithResponse(ctx, org.Id.String(), "me")
			require.NoError(t, err)
			requireErrorSentence(t, resp.StatusCode(), resp.Body, http.StatusConflict)
		})

		t.Run("its creator may add members to it", func(t *testing.T) {
			d := d.in(t)
			member, _ := d.createMember(ownerToken, "alice")
			resp, err := d.as(ownerToken).AddOrganizationMemberWithResponse(ctx, org.Id.String(), member.Id.String())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Contains(t, roleNames(resp.JSON200.Roles), orgMemberRole)
		})

		t.Run("a name taken in another case is refused", func(t *testing.T) {
			for _, name := range []string{"Acme-Corp", "acme-corp", "ACME-CORP"} {
				resp, err := d.in(t).as(ownerToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: name})
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgOrgExists)
			}
		})

		t.Run("the default organization's name is taken", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "First-Organization"})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgOrgExists)
		})

		t.Run("a member may not create organizations", func(t *testing.T) {
			d := d.in(t)
			_, memberToken := d.createMember(ownerToken, "bob")
			before := d.listOrganizations(ownerToken)
			resp, err := d.as(memberToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "bobs-org"})
			require.NoError(t, err)
			requireErrorSentence(t, resp.StatusCode(), resp.Body, http.StatusForbidden)
			assert.Equal(t, string(before), string(d.listOrganizations(ownerToken)))
		})
	})
}

func TestOrganizationNamesAreValidated(t *testing.T) {
	invalid := []struct {
		name  string
		value any
	}{
		{"an empty name", ""},
		{"a name of 33 characters", strings.Repeat("a", 33)},
		{"a name with a space", "my org"},
		{"a name with a leading hyphen", "-myorg"},
		{"a name with a trailing hyphen", "myorg-"},
		{"a name with a double hyphen", "my--org"},
		{"a name with an underscore", "my_org"},
		{"a name with a dot", "my.org"},
		{"a non-ASCII name", "café"},
		// The reserved name "default" has Coder's own message: organization_changes_test.go.
		{"a hyphen alone", "-"},
		{"a number instead of a string", 5},
		{"null", nil},
		{"a list", []string{"a"}},
	}
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		before := d.listOrganizations(ownerToken)
		for _, tc := range invalid {
			t.Run(tc.name+" is refused", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, map[string]any{"name": tc.value}),
					withSessionHeader(ownerToken))
				requireValidation(t, r.Status, r.Body, "name")
			})
		}
		t.Run("a missing name is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte(`{}`), withSessionHeader(ownerToken))
			requireValidation(t, r.Status, r.Body, "name")
		})
		t.Run("the refused names created nothing", func(t *testing.T) {
			assert.Equal(t, string(before), string(d.in(t).listOrganizations(ownerToken)))
		})
		for _, name := range []string{strings.Repeat("a", 32), "x", "9", "a-b-c", "A1-b2-C3"} {
			t.Run("the name "+name+" is accepted", func(t *testing.T) {
				org := d.in(t).createOrganization(ownerToken, name)
				assert.Equal(t, name, org.Name)
			})
		}
		t.Run("unknown fields are ignored", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte(`{"name":"extra","is_default":true,"id":"x"}`),
				withSessionHeader(ownerToken))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			assert.Contains(t, string(r.Body), `"is_default":false`)
		})
	})
}

func TestOrganizationsAreFoundByIDNameOrDefault(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		org := d.createOrganization(ownerToken, "Blue-Team")
		ctx := context.Background()

		found := []struct {
			name string
			ref  string
			want string
		}{
			{"by UUID", org.Id.String(), "Blue-Team"},
			{"by name in its own case", "Blue-Team", "Blue-Team"},
			{"by name in lower case", "blue-team", "Blue-Team"},
			{"by name in upper case", "BLUE-TEAM", "Blue-Team"},
			{"the default organization by keyword", "default", defaultOrgName},
			{"the default organization by name", defaultOrgName, defaultOrgName},
		}
		for _, tc := range found {
			t.Run("the owner finds an organization "+tc.name, func(t *testing.T) {
				resp, err := d.in(t).as(ownerToken).GetOrganizationWithResponse(ctx, tc.ref)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
				assert.Equal(t, tc.want, resp.JSON200.Name)
				assert.Equal(t, tc.want == defaultOrgName, resp.JSON200.IsDefault)
			})
		}

		unknown := []struct {
			name string
			ref  string
		}{
			{"an unknown UUID", uuid.NewString()},
			{"an unknown name", "no-such-org"},
			{"an UUID in upper case that is unknown", strings.ToUpper(uuid.NewString())},
		}
		var unknownBody string
		for _, tc := range unknown {
			t.Run(tc.name+" is not found", func(t *testing.T) {
				resp, err := d.in(t).as(ownerToken).GetOrganizationWithResponse(ctx, tc.ref)
				require.NoError(t, err)
				env := requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
				assert.Nil(t, env.Validations)
				unknownBody = string(resp.Body)
			})
		}

		t.Run("a member does not see an organization they are not in, exactly as if it did not exist", func(t *testing.T) {
			d := d.in(t)
			_, memberToken := d.createMember(ownerToken, "alice")
			for _, ref := range []string{org.Id.String(), "blue-team"} {
				resp, err := d.as(memberToken).GetOrganizationWithResponse(ctx, ref)
				require.NoError(t, err)
				requireError(t, resp.StatusCode(), resp.Body, http.StatusNotFound, msgNotFound)
				assert.JSONEq(t, unknownBody, string(resp.Body))
			}
			resp, err := d.as(memberToken).GetOrganizationWithResponse(ctx, "default")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.True(t, resp.JSON200.IsDefault)
		})

		t.Run("an unsigned caller is refused", func(t *testing.T) {
			resp, err := d.in(t).anon().GetOrganizationWithResponse(ctx, "default")
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgSignedOut)
		})
	})
}

func TestListingOrganizations(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		names := []string{"zulu", "alpha", "Mike", "bravo"}
		var ids []uuid.UUID
		for _, name := range names {
			ids = append(ids, d.createOrganization(ownerToken, name).Id)
		}
		ctx := context.Background()

		t.Run("the owner sees every organization, oldest first", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).ListOrganizationsWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, append([]string{defaultOrgName}, names...), organizationNames(*resp.JSON200))
			defaults := 0
			for i, o := range *resp.JSON200 {
				if o.IsDefault {
					defaults++
				}
				if i > 0 {
					assert.False(t, o.CreatedAt.Before((*resp.JSON200)[i-1].CreatedAt), "oldest first")
				}
			}
			assert.Equal(t, 1, defaults, "there is exactly one default organization")
		})

		t.Run("a member sees only the organizations they are in", func(t *testing.T) {
			d := d.in(t)
			_, inTwo := d.createMember(ownerToken, "alice", ids[2], ids[0])
			resp, err := d.as(inTwo).ListOrganizationsWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{"zulu", "Mike"}, organizationNames(*resp.JSON200))

			_, inDefault := d.createMember(ownerToken, "bob")
			resp, err = d.as(inDefault).ListOrganizationsWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []string{defaultOrgName}, organizationNames(*resp.JSON200))
		})

		t.Run("an unsigned caller is refused", func(t *testing.T) {
			resp, err := d.in(t).anon().ListOrganizationsWithResponse(ctx, nil)
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgSignedOut)
		})

		t.Run("every listed timestamp is UTC with at most microseconds", func(t *testing.T) {
			for _, item := range rawObjects(t, d.in(t).listOrganizations(ownerToken)) {
				requireTimestamp(t, rawString(t, item, "created_at"))
				requireTimestamp(t, rawString(t, item, "updated_at"))
			}
		})
	})
}
