package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The plain-parameter check (validatePlainParams) stands in for the request validator on the
// hot routes, so it must answer exactly as the validator does, for every such operation and
// every kind of value.
func TestPlainParametersAreValidatedAsTheSpecSays(t *testing.T) {
	spec, err := LoadSpec()
	require.NoError(t, err)
	s := &Server{spec: spec}
	require.NotEmpty(t, spec.plainParams, "no operation takes the plain-parameter check")

	values := []string{
		"", "x", "default", "me", "1", "8f0e2d8c-5b1a-4f4e-9c3d-7a6b5c4d3e2f", "not-a-uuid",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("ü", 33), "a b", "%", "é",
		"-", "_", strings.Repeat("9", 100),
	}
	headers := []string{"", "*", `"abc"`, `W/"abc", "def"`, strings.Repeat("x", 5000)}
	var keys []routeKey
	for key, route := range spec.operations {
		if _, ok := spec.plainParams[route]; ok {
			keys = append(keys, key)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].method+" "+keys[i].template < keys[j].method+" "+keys[j].template
	})
	checked, refused := 0, 0
	for _, key := range keys {
		route := spec.operations[key]
		plain := spec.plainParams[route]
		for _, value := range values {
			for _, header := range headers {
				var params pathValues
				req := httptest.NewRequest(route.Method, "/", nil)
				for _, p := range plain {
					if p.In == "path" {
						params.names = append(params.names, p.Name)
						params.values = append(params.values, value)
					} else if header != "" {
						req.Header.Set(p.Name, header)
					}
				}
				ok, fast := s.validatePlainParams(req, plain, params)
				if !ok {
					continue
				}
				checked++
				full := s.validateBySpec(context.Background(), req.Clone(context.Background()), route, params)
				if full == nil {
					assert.NoError(t, fast, "%s with %q, header %q", key, value, header)
					continue
				}
				refused++
				require.Error(t, fast, "%s with %q, header %q: the validator refuses it: %v", key, value, header, full)
				assert.Equal(t, full.Error(), fast.Error(), "%s with %q, header %q", key, value, header)
				assert.Equal(t, full, fast, "%s with %q, header %q", key, value, header)
			}
		}
	}
	assert.Greater(t, checked, 100)
	assert.Positive(t, refused, "no value was refused: the comparison proves little")
	for _, route := range []routeKey{{http.MethodGet, "/api/v2/organizations/:organization"}, {http.MethodGet, "/api/v2/entitlements"}} {
		_, ok := spec.plainParams[spec.operations[route]]
		assert.True(t, ok, "%s does not take the plain-parameter check", route)
	}
}
