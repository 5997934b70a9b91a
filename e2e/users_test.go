package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestTheOwnerCreatesUsers(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		def := d.defaultOrganization(ownerToken)
		red := d.createOrganization(ownerToken, "red")
		blue := d.createOrganization(ownerToken, "blue")
		ctx := context.Background()

		create := func(t *testing.T, username string, orgIDs *[]uuid.UUID) *gen.CreateUserResult {
			t.Helper()
			resp, err := d.in(t).as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: gen.Email(username + "@example.com"), Username: username, Password: memberPassword,
				OrganizationIds: orgIDs,
			})
			require.NoError(t, err)
			return resp
		}

		t.Run("a user created without organizations joins the default one", func(t *testing.T) {
			resp := create(t, "alice", nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			u := resp.JSON201
			assert.Equal(t, "alice", u.Username)
			assert.Equal(t, "alice@example.com", string(u.Email))
			assert.Equal(t, gen.UserStatusActive, u.Status)
			assert.Equal(t, []uuid.UUID{def.Id}, u.OrganizationIds)
			assert.Contains(t, roleNames(u.Roles), memberRole)
			assert.NotContains(t, roleNames(u.Roles), ownerRole)
			requireTimestamp(t, rawString(t, resp.Body, "created_at"))

			d := d.in(t)
			token := d.login("alice@example.com", memberPassword)
			me, err := d.as(token).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Equal(t, u.Id, me.JSON200.Id)
			assert.Equal(t, rawString(t, resp.Body, "created_at"), rawString(t, me.Body, "created_at"),
				"created_at is the same byte for byte on every read")
		})

		t.Run("a user created with an empty list of organizations joins the default one", func(t *testing.T) {
			resp := create(t, "carol", &[]uuid.UUID{})
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, []uuid.UUID{def.Id}, resp.JSON201.OrganizationIds)
		})

		t.Run("a user created with organizations joins exactly those", func(t *testing.T) {
			resp := create(t, "bob", &[]uuid.UUID{red.Id, blue.Id})
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			assert.ElementsMatch(t, []uuid.UUID{red.Id, blue.Id}, resp.JSON201.OrganizationIds)

			d := d.in(t)
			token := d.login("bob@example.com", memberPassword)
			list, err := d.as(token).ListOrganizationsWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, list.StatusCode(), string(list.Body))
			assert.ElementsMatch(t, []string{"red", "blue"}, organizationNames(*list.JSON200))
		})

		t.Run("an email taken in another case is refused", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "ALICE@Example.COM", Username: "alice2", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgUserExists)
		})

		t.Run("an email with letters beyond ASCII is taken in another case too, and signs in in any", func(t *testing.T) {
			d := d.in(t)
			resp, err := d.as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "éloïse@exämple.com", Username: "eloise", Password: memberPassword,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			again, err := d.as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "ÉLOÏSE@EXÄMPLE.COM", Username: "eloise2", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, again.StatusCode(), again.Body, http.StatusConflict, msgUserExists)
			d.login("Éloïse@Exämple.com", memberPassword)
			search := d.send(http.MethodGet, "/users?q="+url.QueryEscape("ÉLOÏSE"), nil, withSessionHeader(ownerToken))
			require.Equal(t, http.StatusOK, search.Status, string(search.Body))
			assert.Contains(t, string(search.Body), `"count":1`, "a search ignores case beyond ASCII too")
		})

		t.Run("the owner's email is taken too", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: testenv.OwnerEmail, Username: "owner2", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgUserExists)
		})

		t.Run("a username taken in another case is refused", func(t *testing.T) {
			resp, err := d.in(t).as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "alice.other@example.com", Username: "ALICE", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgUserExists)
			login, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: "alice.other@example.com", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, login.StatusCode(), login.Body, http.StatusUnauthorized, msgBadLogin)
		})

		t.Run("an unknown organization is refused and no user is created", func(t *testing.T) {
			resp := create(t, "dave", &[]uuid.UUID{uuid.New()})
			requireValidation(t, resp.StatusCode(), resp.Body, "organization_ids")
			again := create(t, "dave", &[]uuid.UUID{red.Id, uuid.New()})
			requireValidation(t, again.StatusCode(), again.Body, "organization_ids")

			login, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: "dave@example.com", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, login.StatusCode(), login.Body, http.StatusUnauthorized, msgBadLogin)
		})

		t.Run("a member may not create users", func(t *testing.T) {
			d := d.in(t)
			_, memberToken := d.createMember(ownerToken, "erin")
			resp, err := d.as(memberToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "frank@example.com", Username: "frank", Password: memberPassword,
			})
			require.NoError(t, err)
			requireErrorSentence(t, resp.StatusCode(), resp.Body, http.StatusForbidden)
			login, err := d.anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: "frank@example.com", Password: memberPassword,
			})
			require.NoError(t, err)
			requireError(t, login.StatusCode(), login.Body, http.StatusUnauthorized, msgBadLogin)
		})
	})
}

func TestNewUsersAreValidated(t *testing.T) {
	valid := map[string]any{"email": "gina@example.com", "username": "gina", "password": "gina-password"}
	with := func(field string, value any) map[string]any { return withField(valid, field, value) }
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"an invalid email is refused", with("email", "gina.example.com"), "email"},
		{"a missing email is refused", with("email", nil), "email"},
		{"a short password is refused", with("password", "short"), "password"},
		{"a missing password is refused", with("password", nil), "password"},
		{"a username with a trailing hyphen is refused", with("username", "gina-"), "username"},
		{"a username with a double hyphen is refused", with("username", "gi--na"), "username"},
		{"a non-ASCII username is refused", with("username", "gïna"), "username"},
		{"a username of 33 characters is refused", with("username", strings.Repeat("g", 33)), "username"},
		{"the username me is reserved", with("username", "me"), "username"},
		{"the username default is reserved", with("username", "default"), "username"},
		{"the username DEFAULT is reserved", with("username", "DEFAULT"), "username"},
		{"organization ids that are not a list are refused", with("organization_ids", "x"), "organization_ids"},
	}
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/users", mustJSON(t, tc.body), withSessionHeader(ownerToken))
				requireValidation(t, r.Status, r.Body, tc.field)
			})
		}
		t.Run("an organization id that is not a UUID is refused", func(t *testing.T) {
			body := with("organization_ids", []string{uuid.NewString(), "not-a-uuid"})
			r := d.in(t).send(http.MethodPost, "/users", mustJSON(t, body), withSessionHeader(ownerToken))
			env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgValidationFailed)
			// The field may name the element (organization_ids.1) or the list itself.
			fields := validationFields(env)
			require.Len(t, fields, 1, "body: %s", r.Body)
			assert.Regexp(t, `^organization_ids(\.1|\[1\])?$`, fields[0])
		})
		t.Run("a username of exactly 32 characters is accepted", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/users", mustJSON(t, with("username", strings.Repeat("g", 32))),
				withSessionHeader(ownerToken))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		})
	})
}
