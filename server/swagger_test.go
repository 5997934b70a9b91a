package server_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// fetch GETs path from the running server without following redirects.
func fetch(t *testing.T, inst *testenv.Instance, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequest(http.MethodGet, inst.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestSwaggerUI(t *testing.T) {
	inst := testenv.Start(t, testenv.Databases()[0].NewConfig(t))

	t.Run("the page loads the bundle and our initializer under a same-origin policy", func(t *testing.T) {
		resp, body := fetch(t, inst, "/swagger/")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		page := string(body)
		assert.Contains(t, page, `<script src="swagger-ui-bundle.js"></script>`)
		assert.Contains(t, page, `<script src="swagger-initializer.js"></script>`)
		assert.Contains(t, page, `href="swagger-ui.css"`)
		assert.Contains(t, page, `<div id="swagger-ui">`)

		csp := resp.Header.Get("Content-Security-Policy")
		for _, directive := range []string{
			"default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
			"img-src 'self' data:", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
		} {
			assert.Contains(t, csp, directive)
		}
		assert.NotContains(t, csp, "unsafe-eval")
		assert.NotContains(t, csp, "*")
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	})

	t.Run("the initializer points Swagger UI at our spec, not the petstore", func(t *testing.T) {
		resp, body := fetch(t, inst, "/swagger/swagger-initializer.js")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
		js := string(body)
		assert.Contains(t, js, `url: "/api/v2/openapi.json"`)
		assert.Contains(t, js, "persistAuthorization: true")
		assert.Contains(t, js, "deepLinking: true")
		assert.Contains(t, js, "SwaggerUIBundle(")
		assert.NotContains(t, js, "petstore")
	})

	t.Run("every file the page references loads with its content type", func(t *testing.T) {
		_, page := fetch(t, inst, "/swagger/")
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
		require.GreaterOrEqual(t, len(refs), 5)
		wantType := map[string]string{
			".js":  "text/javascript; charset=utf-8",
			".css": "text/css; charset=utf-8",
			".png": "image/png",
		}
		for _, ref := range refs {
			name := ref[1]
			require.NotContains(t, name, ":", "the page loads nothing from another origin")
			resp, body := fetch(t, inst, "/swagger/"+name)
			assert.Equal(t, http.StatusOK, resp.StatusCode, name)
			assert.Equal(t, wantType[name[strings.LastIndex(name, "."):]], resp.Header.Get("Content-Type"), name)
			assert.NotEmpty(t, body, name)
		}
		_, bundle := fetch(t, inst, "/swagger/swagger-ui-bundle.js")
		assert.Contains(t, string(bundle[:4096]), "SwaggerUIBundle")
	})

	t.Run("an unchanged asset revalidates with 304", func(t *testing.T) {
		resp, _ := fetch(t, inst, "/swagger/swagger-ui-bundle.js")
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
		again, body := fetch(t, inst, "/swagger/swagger-ui-bundle.js", "If-None-Match", etag)
		assert.Equal(t, http.StatusNotModified, again.StatusCode)
		assert.Empty(t, body)
	})

	t.Run("files the page does not use are not served", func(t *testing.T) {
		for _, path := range []string{
			"/swagger/swagger-ui.js",           // in the module, unused
			"/swagger/oauth2-redirect.html",    // in the module, no OAuth2 here
			"/swagger/swagger-ui-es-bundle.js", // in the module, unused
			"/swagger/nope.js",                 // nowhere
			"/swagger/../swagger/index.css",    // names are never cleaned into others
		} {
			resp, _ := fetch(t, inst, path)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		}
	})

	t.Run("/swagger redirects to /swagger/", func(t *testing.T) {
		resp, _ := fetch(t, inst, "/swagger")
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		assert.Equal(t, "/swagger/", resp.Header.Get("Location"))
	})

	t.Run("the server's root redirects to /swagger/", func(t *testing.T) {
		resp, _ := fetch(t, inst, "/")
		assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		assert.Equal(t, "/swagger/", resp.Header.Get("Location"))
	})

	t.Run("openapi.json is the embedded spec, served to anyone", func(t *testing.T) {
		resp, body := fetch(t, inst, server.SpecJSONPath)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		embedded, err := gen.GetSpecJSON()
		require.NoError(t, err)
		assert.JSONEq(t, string(embedded), string(body))
		assert.True(t, strings.HasPrefix(string(body), "{\n  \"openapi\": "), "openapi comes first")
		// Swagger UI's Authorize dialog follows the document's order: Coder's header first.
		schemes := strings.Index(string(body), `"securitySchemes"`)
		require.Positive(t, schemes)
		order := []int{}
		for _, name := range []string{`"CoderSessionToken"`, `"CoderSessionCookie"`, `"CoderSessionQuery"`, `"BearerToken"`} {
			order = append(order, strings.Index(string(body[schemes:]), name))
		}
		assert.IsIncreasing(t, order, "security schemes in the order of the spec's security list")
	})

	t.Run("openapi.json has openapi.yaml's paths and its same-origin server", func(t *testing.T) {
		_, body := fetch(t, inst, server.SpecJSONPath)
		var served struct {
			Servers []map[string]any `json:"servers"`
			Paths   map[string]any   `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(body, &served))
		source, err := os.ReadFile("../openapi.yaml")
		require.NoError(t, err)
		var written struct {
			Paths map[string]any `yaml:"paths"`
		}
		require.NoError(t, yaml.Unmarshal(source, &written))
		require.NotEmpty(t, written.Paths)
		assert.Equal(t, slices.Sorted(maps.Keys(written.Paths)), slices.Sorted(maps.Keys(served.Paths)))
		assert.Equal(t, []map[string]any{{"url": "/api/v2"}}, served.Servers)
	})

	t.Run("openapi.yaml is the same document as openapi.json", func(t *testing.T) {
		resp, body := fetch(t, inst, server.SpecYAMLPath)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.Equal(t, "application/yaml", resp.Header.Get("Content-Type"))
		assert.True(t, strings.HasPrefix(string(body), "openapi: 3."), "openapi comes first")
		var fromYAML any
		require.NoError(t, yaml.Unmarshal(body, &fromYAML))
		asJSON, err := json.Marshal(fromYAML)
		require.NoError(t, err)
		_, jsonBody := fetch(t, inst, server.SpecJSONPath)
		assert.JSONEq(t, string(jsonBody), string(asJSON))
	})

	t.Run("the spec middleware finds no operation for the spec routes and lets them through", func(t *testing.T) {
		spec, err := server.LoadSpec()
		require.NoError(t, err)
		for _, path := range []string{server.SpecJSONPath, server.SpecYAMLPath} {
			req, err := http.NewRequest(http.MethodGet, "http://example.test"+path, nil)
			require.NoError(t, err)
			_, _, _, err = spec.Route(req)
			assert.Error(t, err, path)
		}
	})
}
