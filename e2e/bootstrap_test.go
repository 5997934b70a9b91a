package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestTheFirstUserBecomesTheOwnerOfTheDefaultOrganization(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()

		before, err := d.anon().CheckFirstUserWithResponse(ctx)
		require.NoError(t, err)
		requireErrorSentence(t, before.StatusCode(), before.Body, http.StatusNotFound)

		created, err := d.anon().CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
			Email: testenv.OwnerEmail, Username: testenv.OwnerUsername, Password: testenv.OwnerPassword,
		})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))

		after, err := d.anon().CheckFirstUserWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, after.StatusCode(), string(after.Body))
		assert.NotEmpty(t, after.JSON200.Message)

		token := d.login(testenv.OwnerEmail, testenv.OwnerPassword)
		def := d.defaultOrganization(token)
		assert.Equal(t, def.Id, created.JSON201.OrganizationId, "organization_id is the default organization's")
		assert.True(t, def.IsDefault)
		assert.Equal(t, defaultOrgName, def.Name)

		me, err := d.as(token).GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
		assert.Equal(t, created.JSON201.UserId, me.JSON200.Id)
		assert.Contains(t, roleNames(me.JSON200.Roles), ownerRole)
		assert.Contains(t, me.JSON200.OrganizationIds, def.Id)

		t.Run("the owner is already a member of the default organization", func(t *testing.T) {
			resp, err := d.in(t).as(token).AddOrganizationMemberWithResponse(ctx, "default", "me")
			require.NoError(t, err)
			requireErrorSentence(t, resp.StatusCode(), resp.Body, http.StatusConflict)
		})

		t.Run("a second first user is refused", func(t *testing.T) {
			again, err := d.in(t).anon().CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
				Email: "second@example.com", Username: "second", Password: "second-password",
			})
			require.NoError(t, err)
			requireErrorSentence(t, again.StatusCode(), again.Body, http.StatusConflict)

			resp, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: "second@example.com", Password: "second-password",
			})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgBadLogin)
		})
	})
}

func TestTheFirstUserIsValidated(t *testing.T) {
	valid := map[string]any{"email": "owner@example.com", "username": "owner", "password": "owner-password"}
	with := func(field string, value any) map[string]any { return withField(valid, field, value) }
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"an email without an at sign is refused", with("email", "not-an-email"), "email"},
		{"an empty email is refused", with("email", ""), "email"},
		{"a missing email is refused", with("email", nil), "email"},
		{"a password of 7 characters is refused", with("password", "1234567"), "password"},
		{"a missing password is refused", with("password", nil), "password"},
		{"a username with an underscore is refused", with("username", "bad_name"), "username"},
		{"a username with a space is refused", with("username", "bad name"), "username"},
		{"a username with a leading hyphen is refused", with("username", "-owner"), "username"},
		{"a username of 33 characters is refused", with("username", strings.Repeat("u", 33)), "username"},
		{"an empty username is refused", with("username", ""), "username"},
		{"a missing username is refused", with("username", nil), "username"},
		{"the username me is reserved", with("username", "me"), "username"},
		{"the username ME is reserved", with("username", "ME"), "username"},
		{"the username default is reserved", with("username", "default"), "username"},
		{"the username Default is reserved", with("username", "Default"), "username"},
	}
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/users/first", mustJSON(t, tc.body))
				requireValidation(t, r.Status, r.Body, tc.field)
			})
		}
		t.Run("no user was created by the refused requests", func(t *testing.T) {
			resp, err := d.in(t).anon().CheckFirstUserWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusNotFound, resp.StatusCode(), string(resp.Body))
		})
		t.Run("a password of exactly 8 characters is accepted", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/users/first", mustJSON(t, with("password", "12345678")))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		})
	})
}
