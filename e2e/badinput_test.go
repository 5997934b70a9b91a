package e2e

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

func TestUnknownRoutesAreNotFound(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		routes := []struct{ method, path string }{
			{http.MethodGet, "/nope"},
			{http.MethodGet, "/organizations/default/nope"},
			{http.MethodGet, "/users/me/nope"},
			// (POST /organizations/default/members is 405 now that the path lists members.)
			{http.MethodPost, "/organizations/default/members/me/nope"},
			{http.MethodGet, "/!nope"},
			{http.MethodGet, "/!api/v3/organizations"},
		}
		for _, route := range routes {
			for _, signedIn := range []bool{false, true} {
				name := route.method + " " + strings.TrimPrefix(route.path, "/!") + " is not a route"
				if signedIn {
					name += " even when signed in"
				}
				t.Run(name, func(t *testing.T) {
					var edits []requestEdit
					if signedIn {
						edits = append(edits, withSessionHeader(token))
					}
					r := d.in(t).send(route.method, route.path, nil, edits...)
					require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
					assert.JSONEq(t, `{"message":"`+msgRouteNotFound+`"}`, string(r.Body))
					assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
				})
			}
		}
	})
}

func TestUnreadableBodiesAreRefused(t *testing.T) {
	unreadable := []struct {
		name string
		body []byte
	}{
		{"an empty body", []byte{}},
		{"a truncated object", []byte(`{"name":`)},
		{"an open brace", []byte(`{`)},
		{"plain text", []byte(`not json`)},
		{"an object followed by garbage", []byte(`{"name":"a"}}`)},
		{"a single quoted object", []byte(`{'name':'a'}`)},
	}
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)

		// Before any user exists, so that only the body can be what is wrong.
		for _, tc := range unreadable {
			t.Run("creating the first user from "+tc.name+" is refused", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/users/first", tc.body)
				requireError(t, r.Status, r.Body, http.StatusBadRequest, msgInvalidJSON)
				first := d.in(t).send(http.MethodGet, "/users/first", nil)
				require.Equal(t, http.StatusNotFound, first.Status, "no first user was created: %s", first.Body)
			})
		}

		token := d.setupOwner()
		before := d.listOrganizations(token)
		endpoints := []struct {
			name, path string
			auth       bool
		}{
			{"signing in", "/users/login", false},
			{"creating a user", "/users", true},
			{"creating an organization", "/organizations", true},
		}
		for _, ep := range endpoints {
			for _, tc := range unreadable {
				t.Run(ep.name+" from "+tc.name+" is refused", func(t *testing.T) {
					var edits []requestEdit
					if ep.auth {
						edits = append(edits, withSessionHeader(token))
					}
					r := d.in(t).send(http.MethodPost, ep.path, tc.body, edits...)
					requireError(t, r.Status, r.Body, http.StatusBadRequest, msgInvalidJSON)
					d.in(t).requireOrganizationsUnchanged(token, before)
				})
			}
		}
	})
}

func TestWronglyTypedFieldsAreValidationErrors(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		before := d.listOrganizations(token)
		cases := []struct {
			name, path, body, field string
		}{
			{"a number as an organization name", "/organizations", `{"name": 5}`, "name"},
			{"a boolean as an organization name", "/organizations", `{"name": true}`, "name"},
			{"an object as an organization name", "/organizations", `{"name": {"a": "b"}}`, "name"},
			{"a number as an email at sign-in", "/users/login", `{"email": 5, "password": "owner-password"}`, "email"},
			{"a number as a password at sign-in", "/users/login", `{"email": "owner@example.com", "password": 12345678}`, "password"},
			{"a number as a username", "/users", `{"email": "a@example.com", "username": 7, "password": "password1"}`, "username"},
			{"a string as organization ids", "/users", `{"email": "a@example.com", "username": "a", "password": "password1", "organization_ids": "x"}`, "organization_ids"},
		}
		for _, tc := range cases {
			t.Run(tc.name+" is a validation error", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, tc.path, []byte(tc.body), withSessionHeader(token))
				requireValidation(t, r.Status, r.Body, tc.field)
				d.in(t).requireOrganizationsUnchanged(token, before)
			})
		}
		t.Run("a 10,000-character name is a validation error", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, map[string]string{"name": strings.Repeat("a", 10000)}),
				withSessionHeader(token))
			requireValidation(t, r.Status, r.Body, "name")
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
		t.Run("a name with a NUL character is a validation error", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte(`{"name":"a\u0000b"}`), withSessionHeader(token))
			requireValidation(t, r.Status, r.Body, "name")
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
	})
}

// unsized hides a reader's length, so the body is sent chunked with no Content-Length.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestBodiesOverOneMebibyteAreTooLarge(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		before := d.listOrganizations(token)
		huge := mustJSON(t, map[string]string{"name": strings.Repeat("a", 2<<20)})

		t.Run("a 2 MiB body with a Content-Length is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", huge, withSessionHeader(token))
			requireErrorSentence(t, r.Status, r.Body, http.StatusRequestEntityTooLarge)
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
		t.Run("a 2 MiB chunked body is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte{}, withSessionHeader(token), func(req *http.Request) {
				req.Body = io.NopCloser(unsized{bytes.NewReader(huge)})
				req.ContentLength = -1
				req.GetBody = nil
			})
			requireErrorSentence(t, r.Status, r.Body, http.StatusRequestEntityTooLarge)
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
		t.Run("a 2 MiB body without a session is refused for the session first", func(t *testing.T) {
			// A secured route asks who is calling before anything else, as for any other body.
			r := d.in(t).send(http.MethodPost, "/organizations", huge)
			requireErrorSentence(t, r.Status, r.Body, http.StatusUnauthorized)
			r = d.in(t).send(http.MethodPut, "/users/owner/status/suspend", huge)
			requireErrorSentence(t, r.Status, r.Body, http.StatusUnauthorized)
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
		t.Run("a 2 MiB sign-in body is refused before signing in", func(t *testing.T) {
			body := mustJSON(t, map[string]string{"email": testenv.OwnerEmail, "password": strings.Repeat("p", 2<<20)})
			r := d.in(t).send(http.MethodPost, "/users/login", body)
			requireErrorSentence(t, r.Status, r.Body, http.StatusRequestEntityTooLarge)
			d.in(t).requireOrganizationsUnchanged(token, before)
		})
	})
}

func TestSQLInInputIsOnlyData(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, token, before := startWithOrganization(t, db, "victim")

		assertUnchanged := func(t *testing.T) {
			t.Helper()
			d.in(t).requireOrganizationsUnchanged(token, before)
			me := d.in(t).send(http.MethodGet, "/users/me", nil, withSessionHeader(token))
			assert.Equal(t, http.StatusOK, me.Status, "the users table still answers: %s", me.Body)
		}

		bodies := []struct {
			name, path, body, field string
		}{
			{"an organization name that drops a table", "/organizations", `{"name":"x'; DROP TABLE organizations; --"}`, "name"},
			{"an organization name that is always true", "/organizations", `{"name":"x' OR '1'='1"}`, "name"},
			{"a username that drops a table", "/users", `{"email":"m@example.com","username":"m'; DROP TABLE users; --","password":"password1"}`, "username"},
			{"an email that drops a table", "/users", `{"email":"m'; DROP TABLE users; --","username":"m","password":"password1"}`, "email"},
		}
		for _, tc := range bodies {
			t.Run(tc.name+" is a validation error", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, tc.path, []byte(tc.body), withSessionHeader(token))
				requireValidation(t, r.Status, r.Body, tc.field)
				assertUnchanged(t)
			})
		}

		t.Run("a sign-in with an always-true password is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/users/login", []byte(`{"email":"owner@example.com","password":"' OR '1'='1"}`))
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)
		})
		t.Run("a sign-in with an always-true email is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/users/login", []byte(`{"email":"x'or'1'='1@example.com","password":"x"}`))
			if r.Status == http.StatusBadRequest {
				requireValidation(t, r.Status, r.Body, "email")
				return
			}
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)
		})
		t.Run("a sign-in with a NUL in the password is refused", func(t *testing.T) {
			// U+0000 is in no password (no request string may hold it), so this is refused as
			// invalid before any password is compared.
			r := d.in(t).send(http.MethodPost, "/users/login", []byte(`{"email":"owner@example.com","password":"owner\u0000"}`))
			requireValidation(t, r.Status, r.Body, "password")
		})

		paths := []struct {
			name, path string
		}{
			{"an always-true organization", "/organizations/x'%20OR%20'1'='1"},
			{"an organization that drops a table", "/organizations/x';%20DROP%20TABLE%20organizations;%20--"},
			{"an organization with a LIKE wildcard", "/organizations/%25"},
			{"an organization with a LIKE underscore", "/organizations/victi_"},
			{"an organization with a NUL byte", "/organizations/vic%00tim"},
			{"an organization with invalid UTF-8", "/organizations/%ff%fe"},
			{"an always-true member", "/organizations/victim/members/x'%20OR%20'1'='1"},
			{"a member with a NUL byte", "/organizations/victim/members/own%00er"},
			{"a member with invalid UTF-8", "/organizations/victim/members/%c3%28"},
			{"a member with a LIKE wildcard", "/organizations/victim/members/%25"},
		}
		for _, tc := range paths {
			t.Run(tc.name+" in the path is not found", func(t *testing.T) {
				method := http.MethodGet
				if strings.Contains(tc.path, "/members/") {
					method = http.MethodPost
				}
				r := d.in(t).send(method, tc.path, nil, withSessionHeader(token))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
				assertUnchanged(t)
			})
		}
	})
}

// A body that a proxy in front of the server, or another reader, would read as something else
// is refused rather than guessed at: an encoded body (Go's server does not decode
// Content-Encoding, a proxy may) and two Content-Types (the first won here; another reader may
// take the last). A charset is ignored, as RFC 8259 says of application/json; a body that is
// not UTF-8 is refused as such (TestHostileInputCatalogue).
func TestBodiesReadOneWayOnly(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		before := d.listOrganizations(token)
		var gzipped bytes.Buffer
		zw := gzip.NewWriter(&gzipped)
		_, err := zw.Write([]byte(`{"name":"zipped"}`))
		require.NoError(t, err)
		require.NoError(t, zw.Close())

		for _, tc := range []struct {
			name, detail string
			body         []byte
			edit         requestEdit
		}{
			{"a gzip body", `Content-Encoding "gzip"`, gzipped.Bytes(), withHeader("Content-Encoding", "gzip")},
			{"plain JSON said to be brotli", `Content-Encoding "br"`, []byte(`{"name":"brotli"}`), withHeader("Content-Encoding", "br")},
			{"two Content-Types", "Content-Type is given more than once", []byte(`{"name":"twice"}`),
				func(r *http.Request) { r.Header.Add("Content-Type", "text/plain") }},
		} {
			t.Run(tc.name+" is refused", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations", tc.body, withSessionHeader(token), tc.edit)
				env := requireError(t, r.Status, r.Body, http.StatusUnsupportedMediaType, "Request body must be JSON.")
				assert.Contains(t, detailOf(env), tc.detail)
				d.in(t).requireOrganizationsUnchanged(token, before)
			})
		}
		for _, tc := range []struct {
			name, org string
			edit      requestEdit
		}{
			{"an identity Content-Encoding", "identity", withHeader("Content-Encoding", "identity")},
			{"a UTF-8 charset in capitals", "utf-8", withHeader("Content-Type", "application/json; charset=UTF-8")},
		} {
			t.Run(tc.name+" is read", func(t *testing.T) {
				r := d.in(t).send(http.MethodPost, "/organizations", mustJSON(t, map[string]string{"name": tc.org}), withSessionHeader(token), tc.edit)
				require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			})
		}
	})
}
