package server_test

import (
	"net/http"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/api"
	"entitle/server"
)

// TestTheSpecIsWrittenForPeopleAndGenerators checks what Swagger UI shows a person and what
// client generators type, for every operation, so a route added later cannot miss it.
func TestTheSpecIsWrittenForPeopleAndGenerators(t *testing.T) {
	spec, err := server.LoadSpec()
	require.NoError(t, err)
	doc := spec.Doc

	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			name := method + " " + path
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, ref := range params {
				p := ref.Value
				if p.In != openapi3.ParameterInPath {
					continue
				}
				hasExample := p.Example != nil || (p.Schema != nil && p.Schema.Value.Example != nil) || len(p.Examples) > 0
				assert.True(t, hasExample, "%s: path parameter %s has an example value for Swagger UI", name, p.Name)
			}
			assert.NotNil(t, op.Responses.Status(http.StatusMethodNotAllowed), "%s declares 405 so generators type it", name)
			if op.RequestBody != nil {
				assert.NotNil(t, op.Responses.Status(http.StatusUnsupportedMediaType), "%s takes a body, so declares 415", name)
			}
		}
	}

	// Each error response's example is the message that status really carries, never
	// "Validation failed." on a 401.
	wantMessages := map[string]string{
		"BadRequest":           api.MsgValidationFailed,
		"Unauthorized":         api.MsgSignedOut,
		"Forbidden":            api.MsgForbidden,
		"NotFound":             api.MsgNotFound,
		"BadQuery":             api.MsgBadQuery,
		"MethodNotAllowed":     "Method not allowed.",
		"UnsupportedMediaType": "Request body must be JSON.",
		"Error":                api.MsgDatabaseUnavailable,
	}
	for name, want := range wantMessages {
		ref, ok := doc.Components.Responses[name]
		require.True(t, ok, "response %s", name)
		media := ref.Value.Content.Get("application/json")
		require.NotNil(t, media, "response %s is JSON", name)
		example, ok := media.Example.(map[string]any)
		require.True(t, ok, "response %s has an example", name)
		assert.Equal(t, want, example["message"], "response %s's example message", name)
	}
	assert.Nil(t, doc.Components.Schemas["Response"].Value.Properties["message"].Value.Example,
		"the envelope's own example would show one status's message on every status")
}
