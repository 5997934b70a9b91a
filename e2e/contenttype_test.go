package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"entitle/internal/testenv"
)

func TestBodiesMustBeJSONAndMethodsMustMatch(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		before := d.listOrganizations(token)
		body := []byte(`{"name":"typed"}`)

		t.Run("a form-encoded body is refused as unsupported", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", body,
				withSessionHeader(token), withHeader("Content-Type", "application/x-www-form-urlencoded"))
			env := requireError(t, r.Status, r.Body, http.StatusUnsupportedMediaType, "Request body must be JSON.")
			if assert.NotNil(t, env.Detail) {
				assert.Contains(t, *env.Detail, "application/json")
			}
		})
		t.Run("a JSON body with a charset is accepted", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte(`{"name":"charset"}`),
				withSessionHeader(token), withHeader("Content-Type", "application/json; charset=utf-8"))
			assert.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		})
		t.Run("a JSON body without a Content-Type is read as JSON", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/organizations", []byte(`{"name":"untyped"}`),
				withSessionHeader(token), func(req *http.Request) { req.Header.Del("Content-Type") })
			assert.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		})
		t.Run("a known path with the wrong method is not allowed", func(t *testing.T) {
			r := d.in(t).send(http.MethodDelete, "/organizations", nil, withSessionHeader(token))
			requireError(t, r.Status, r.Body, http.StatusMethodNotAllowed, "Method not allowed.")
			// HEAD too: every GET route answers it (RFC 9110 lists it in Allow).
			assert.Equal(t, "GET, HEAD, POST", r.Header.Get("Allow"))
			r = d.in(t).send(http.MethodPut, "/organizations/default", nil, withSessionHeader(token))
			requireError(t, r.Status, r.Body, http.StatusMethodNotAllowed, "Method not allowed.")
			assert.Equal(t, "GET, HEAD, PATCH, DELETE", r.Header.Get("Allow"), "templated paths too")
		})
		t.Run("the refused requests changed nothing", func(t *testing.T) {
			after := d.listOrganizations(token)
			assert.NotEqual(t, string(before), string(after), "the two accepted creates show")
			assert.NotContains(t, string(after), `"typed"`)
		})
	})
}
