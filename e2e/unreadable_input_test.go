package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/api"
	"entitle/internal/testenv"
)

// Input the server cannot read as it was sent is refused, with a 400 that names what was wrong,
// rather than read some other way: dropped (a query value Go cannot unescape), altered (text
// that is not Unicode, replaced by U+FFFD) or passed to the database (a NUL, which PostgreSQL
// refuses with an error of its own, a 500).

func TestQueryValuesThatCannotBeReadAreRefusedNamingTheirParameter(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		cases := []struct{ path, param, says string }{
			{"/users?q=%00", "q", "U+0000"},
			{"/users?q=a%00b", "q", "U+0000"},
			{"/users?q=%ff", "q", "UTF-8"},
			{"/audit?q=username:a%00b", "q", "U+0000"},
			{"/users?limit=%zz", "limit", "escape"},
			{"/organizations?limit=%zz", "limit", "escape"},
			{"/users?limit=1&limit=%zz", "limit", "escape"},
			{"/users?limit=1;offset=2", "limit", ";"},
			{"/organizations?offset=%", "offset", "escape"},
			// Values the spec refuses are a query problem too, in Coder's words, not a body's.
			{"/users/me/keys/tokens?include_all=yes", "include_all", "could not be parsed"},
			{"/users?q=" + strings.Repeat("a", 1025), "q", "at most 1024"},
		}
		for _, c := range cases {
			t.Run(c.path, func(t *testing.T) {
				r := d.in(t).send(http.MethodGet, c.path, nil, withSessionHeader(token))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, api.MsgBadQuery)
				require.Contains(t, validationFields(env), c.param, "body: %s", r.Body)
				assert.Contains(t, string(r.Body), c.says)
			})
		}
		t.Run("junk in a parameter the route does not take is still ignored", func(t *testing.T) {
			r := d.in(t).send(http.MethodGet, "/users?hostile=%zz&x=%00&y=a;b", nil, withSessionHeader(token))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		})
	})
}

func TestPathsBelowAParameterRouteAreNotFound(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		for _, path := range []string{"/licenses/x/y", "/licenses/2/y", "/licenses/preview/x", "/licenses/a/b/c/d"} {
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodOptions} {
				for _, signedIn := range []bool{false, true} {
					var edits []requestEdit
					if signedIn {
						edits = append(edits, withSessionHeader(token))
					}
					r := d.in(t).send(method, path, nil, edits...)
					require.Equal(t, http.StatusNotFound, r.Status, "%s %s (signed in: %v): %s", method, path, signedIn, r.Body)
					assert.JSONEq(t, `{"message":"`+msgRouteNotFound+`"}`, string(r.Body))
					assert.Empty(t, r.Header.Get("Allow"), "%s %s: no method answers this path", method, path)
				}
			}
		}
	})
}

func TestBodyTextThatIsNotUnicodeIsRefused(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, token, before := startWithOrganization(t, db, "plain")
		cases := []struct {
			name, method, path string
			body               []byte
		}{
			{"a byte that is not UTF-8", http.MethodPatch, "/organizations/plain", []byte("{\"description\":\"a\xffb\"}")},
			{"a truncated UTF-8 sequence", http.MethodPatch, "/organizations/plain", []byte("{\"description\":\"a\xe2\x82\"}")},
			{"a lone high surrogate escape", http.MethodPatch, "/organizations/plain", []byte(`{"description":"a\ud800b"}`)},
			{"a lone low surrogate escape", http.MethodPatch, "/organizations/plain", []byte(`{"display_name":"\uDC00"}`)},
			{"a high surrogate escape before a letter", http.MethodPatch, "/organizations/plain", []byte(`{"description":"\ud83dx"}`)},
			{"not UTF-8 in a key", http.MethodPatch, "/organizations/plain", []byte("{\"descr\xffiption\":\"a\"}")},
			{"not UTF-8 in a new user's name", http.MethodPost, "/users", []byte("{\"email\":\"n1@example.com\",\"username\":\"n1\",\"password\":\"password123\",\"name\":\"a\xffb\"}")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := d.in(t).send(c.method, c.path, c.body, withSessionHeader(token))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, api.MsgInvalidJSON)
				require.NotNil(t, env.Detail)
				assert.Regexp(t, `UTF-8|surrogate`, *env.Detail)
			})
		}
		d.requireOrganizationsUnchanged(token, before)
		r := d.send(http.MethodGet, "/users?q=n1", nil, withSessionHeader(token))
		require.Equal(t, http.StatusOK, r.Status)
		assert.Contains(t, string(r.Body), `"count":0`, "no user was created")

		t.Run("a surrogate pair and U+FFFD itself are text", func(t *testing.T) {
			r := d.in(t).send(http.MethodPatch, "/organizations/plain", []byte(`{"description":"\ud83c\udfe2 \ufffd �"}`), withSessionHeader(token))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			assert.Contains(t, string(r.Body), `"description":"🏢 � �"`)
		})
	})
}

func TestIntegersWrittenWithAnExponentOrPastInt64AreValidationErrors(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		for _, lifetime := range []string{"3.6e12", "3600000000000.0", "9223372036854775808", "-9223372036854775809", "1e300"} {
			t.Run(lifetime, func(t *testing.T) {
				body := []byte(`{"token_name":"t` + strings.NewReplacer(".", "", "-", "m", "+", "").Replace(lifetime) + `","lifetime":` + lifetime + `}`)
				r := d.in(t).send(http.MethodPost, "/users/me/keys/tokens", body, withSessionHeader(token))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, api.MsgValidationFailed)
				assert.Equal(t, []string{"lifetime"}, validationFields(env), "body: %s", r.Body)
				assert.NotContains(t, strings.ToLower(string(r.Body)), "unmarshal")
				assert.NotContains(t, string(r.Body), "expected=", "the decoder's own words are not the client's business")
			})
		}
	})
}

func TestDisplayNamesRefuseUnicodeWhiteSpaceAtEitherEnd(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, token, before := startWithOrganization(t, db, "spaced")
		for _, name := range []string{`\u000bx`, `x\u2003`, `\u3000x`, `\u00a0padded\u00a0`, `\u2028x`, `\ufeffx`, `\u1680x`, `x\u202f`} {
			t.Run(name, func(t *testing.T) {
				r := d.in(t).send(http.MethodPatch, "/organizations/spaced", []byte(`{"display_name":"`+name+`"}`), withSessionHeader(token))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, api.MsgValidationFailed)
				assert.Equal(t, []string{"display_name"}, validationFields(env), "body: %s", r.Body)
				r = d.in(t).send(http.MethodPost, "/organizations", []byte(`{"name":"spaced-new","display_name":"`+name+`"}`), withSessionHeader(token))
				env = requireError(t, r.Status, r.Body, http.StatusBadRequest, api.MsgValidationFailed)
				assert.Equal(t, []string{"display_name"}, validationFields(env), "body: %s", r.Body)
			})
		}
		d.requireOrganizationsUnchanged(token, before)
		r := d.send(http.MethodPatch, "/organizations/spaced", []byte(`{"display_name":"a\u00a0b\u3000c"}`), withSessionHeader(token))
		require.Equal(t, http.StatusOK, r.Status, "white space inside is fine: %s", r.Body)
	})
}
