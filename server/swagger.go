package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	swaggerfiles "github.com/swaggo/files/v2"
	"go.yaml.in/yaml/v3"

	"entitle/gen"
)

// Where the spec and Swagger UI are served. The spec sits beside the API it describes; its
// relative server URL (/api/v2) makes "Try it out" call this same origin.
const (
	// SpecJSONPath serves the embedded openapi spec as JSON; Swagger UI reads it.
	SpecJSONPath = APIPrefix + "/openapi.json"
	// SpecYAMLPath serves the same spec as YAML.
	SpecYAMLPath = APIPrefix + "/openapi.yaml"
	// SwaggerPath is Swagger UI's page; its assets live under it.
	SwaggerPath = "/swagger/"
)

// swaggerCSP allows this origin only. Swagger UI's script and styles are files served from
// here and it fetches the spec and "Try it out" calls from here; what it needs beyond that is
// inline styles (React sets style attributes) and data: images (its icons are data URIs in
// its CSS). No inline or eval'd script, no frames, no foreign form targets.
const swaggerCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

const (
	mimeHTML = "text/html; charset=utf-8"
	mimeJS   = "text/javascript; charset=utf-8"
	mimeCSS  = "text/css; charset=utf-8"
	mimePNG  = "image/png"
	mimeYAML = "application/yaml"
)

// swaggerIndexHTML replaces the module's index.html: our title, and no standalone preset,
// whose top bar would offer to load any spec from any URL.
const swaggerIndexHTML = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>entitle API</title>
  <link rel="stylesheet" href="swagger-ui.css">
  <link rel="stylesheet" href="index.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="swagger-initializer.js"></script>
</body>
</html>
`

// swaggerInitializer replaces the module's, which points at the petstore: it loads our spec,
// keeps the session token across reloads, and never sends the spec to an outside validator.
const swaggerInitializer = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "` + SpecJSONPath + `",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
`

// The page and initializer are constants, so their ETags are too.
var (
	swaggerIndexETag       = etagOf(sha256Sum([]byte(swaggerIndexHTML)))
	swaggerInitializerETag = etagOf(sha256Sum([]byte(swaggerInitializer)))
)

// swaggerAssets are the files served from the module's embedded dist, with their types;
// nothing else from it is reachable (its index.html and initializer least of all).
var swaggerAssets = map[string]string{
	"swagger-ui-bundle.js":     mimeJS,
	"swagger-ui-bundle.js.map": echo.MIMEApplicationJSON,
	"swagger-ui.css":           mimeCSS,
	"swagger-ui.css.map":       echo.MIMEApplicationJSON,
	"index.css":                mimeCSS,
	"favicon-16x16.png":        mimePNG,
	"favicon-32x32.png":        mimePNG,
}

// swaggerAssetETags hashes the assets once per process, so browsers revalidate the 1.4 MB
// bundle with a 304 instead of downloading it on every visit.
var swaggerAssetETags = sync.OnceValues(func() (map[string]string, error) {
	tags := make(map[string]string, len(swaggerAssets))
	for name := range swaggerAssets {
		f, err := swaggerfiles.FS.Open(name)
		if err != nil {
			return nil, fmt.Errorf("swagger ui asset %s: %w", name, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("swagger ui asset %s: %w", name, err)
		}
		tags[name] = etagOf(h.Sum(nil))
	}
	return tags, nil
})

// servedSpec is the embedded spec as the two documents the spec routes answer with.
type servedSpec struct {
	json, yaml         []byte
	jsonETag, yamlETag string
}

// servedSpecs renders the embedded spec once per process; it cannot change while we run.
var servedSpecs = sync.OnceValues(func() (*servedSpec, error) {
	raw, err := gen.GetSpecJSON()
	if err != nil {
		return nil, fmt.Errorf("embedded spec: %w", err)
	}
	ordered, err := orderSpecKeys(raw)
	if err != nil {
		return nil, err
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, ordered, "", "  "); err != nil {
		return nil, fmt.Errorf("indent spec: %w", err)
	}
	asYAML, err := jsonToYAML(ordered)
	if err != nil {
		return nil, err
	}
	return &servedSpec{
		json: indented.Bytes(), jsonETag: etagOf(sha256Sum(indented.Bytes())),
		yaml: asYAML, yamlETag: etagOf(sha256Sum(asYAML)),
	}, nil
})

// registerSwagger adds the spec and Swagger UI. They are registered on e itself, outside the
// API group: the spec middleware would find no operation for them and let them through
// anyway, but they are not API operations and need neither its authentication nor its checks.
func (s *Server) registerSwagger(e *echo.Echo) {
	getOrHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getOrHead, SpecJSONPath, s.specJSON)
	e.Match(getOrHead, SpecYAMLPath, s.specYAML)
	e.Match(getOrHead, strings.TrimSuffix(SwaggerPath, "/"), redirectToSwagger)
	// The server's root is where a person lands first: send them to the API's documentation.
	e.Match(getOrHead, "/", redirectToSwagger)
	e.Match(getOrHead, SwaggerPath+"*", s.swaggerFile)
}

func (s *Server) specJSON(c echo.Context) error {
	spec, err := servedSpecs()
	if err != nil {
		return err
	}
	serveBytes(c, echo.MIMEApplicationJSON, spec.jsonETag, spec.json)
	return nil
}

func (s *Server) specYAML(c echo.Context) error {
	spec, err := servedSpecs()
	if err != nil {
		return err
	}
	serveBytes(c, mimeYAML, spec.yamlETag, spec.yaml)
	return nil
}

// redirectToSwagger adds the slash, so the page's relative asset URLs resolve under it.
func redirectToSwagger(c echo.Context) error {
	target := SwaggerPath
	if q := c.Request().URL.RawQuery; q != "" {
		target += "?" + q
	}
	return c.Redirect(http.StatusMovedPermanently, target)
}

func (s *Server) swaggerFile(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", swaggerCSP)
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	name := c.Param("*")
	switch name {
	case "", "index.html":
		serveBytes(c, mimeHTML, swaggerIndexETag, []byte(swaggerIndexHTML))
		return nil
	case "swagger-initializer.js":
		serveBytes(c, mimeJS, swaggerInitializerETag, []byte(swaggerInitializer))
		return nil
	}
	contentType, ok := swaggerAssets[name]
	if !ok {
		return echo.ErrNotFound
	}
	etags, err := swaggerAssetETags()
	if err != nil {
		return err
	}
	f, err := swaggerfiles.FS.Open(name)
	if err != nil {
		return fmt.Errorf("swagger ui asset %s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	// embed.FS files seek, so the bundle is streamed from the binary, never copied.
	content, ok := f.(io.ReadSeeker)
	if !ok {
		return fmt.Errorf("swagger ui asset %s: not seekable", name)
	}
	h.Set(echo.HeaderContentType, contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etags[name])
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, content)
	return nil
}

// serveBytes answers with body, or 304 when the browser's copy carries etag: "no-cache" means
// "ask every time", which is cheap with an ETag and never serves a stale UI after an upgrade.
func serveBytes(c echo.Context, contentType, etag string, body []byte) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func etagOf(sum []byte) string {
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// specKeyOrder is the conventional order of an OpenAPI document's sections; the embedded JSON
// has its keys sorted, which would put components first.
var specKeyOrder = []string{"openapi", "info", "externalDocs", "servers", "tags", "security", "paths", "webhooks", "components"}

// orderSpecKeys rewrites the spec's top-level object in specKeyOrder, any other keys after,
// and lists the security schemes in the order of the spec's own security list, so Swagger
// UI's Authorize dialog offers CoderSessionToken first rather than alphabetically last.
func orderSpecKeys(raw []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("decode embedded spec: %w", err)
	}
	if components, ok := top["components"]; ok {
		ordered, err := orderSecuritySchemes(components, top["security"])
		if err != nil {
			return nil, err
		}
		top["components"] = ordered
	}
	return writeObject(top, func(k string) int {
		if i := slices.Index(specKeyOrder, k); i >= 0 {
			return i
		}
		return len(specKeyOrder)
	})
}

// orderSecuritySchemes rewrites components.securitySchemes in the order the requirements
// in security name them.
func orderSecuritySchemes(components, security json.RawMessage) (json.RawMessage, error) {
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(components, &parts); err != nil {
		return nil, fmt.Errorf("decode spec components: %w", err)
	}
	schemes, ok := parts["securitySchemes"]
	if !ok {
		return components, nil
	}
	var requirements []map[string]json.RawMessage
	_ = json.Unmarshal(security, &requirements) // none: alphabetical order stays
	var order []string
	for _, req := range requirements {
		for name := range req {
			order = append(order, name)
		}
	}
	var byName map[string]json.RawMessage
	if err := json.Unmarshal(schemes, &byName); err != nil {
		return nil, fmt.Errorf("decode spec security schemes: %w", err)
	}
	orderedSchemes, err := writeObject(byName, func(k string) int {
		if i := slices.Index(order, k); i >= 0 {
			return i
		}
		return len(order)
	})
	if err != nil {
		return nil, err
	}
	parts["securitySchemes"] = orderedSchemes
	return writeObject(parts, func(string) int { return 0 })
}

// writeObject writes m as a JSON object, its keys by rank and then alphabetically.
func writeObject(m map[string]json.RawMessage, rank func(string) int) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(m[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// jsonToYAML re-encodes a JSON document as block-style YAML in the same key order: JSON is
// YAML, so it decodes into a node tree, which is then printed without JSON's flow style.
func jsonToYAML(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("read spec as YAML: %w", err)
	}
	clearStyle(&root)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("write spec as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write spec as YAML: %w", err)
	}
	return out.Bytes(), nil
}

// clearStyle drops the flow and quoting styles JSON gave every node; the encoder then quotes
// only the strings that need it and prints multi-line text as literal blocks.
func clearStyle(n *yaml.Node) {
	n.Style = 0
	for _, child := range n.Content {
		clearStyle(child)
	}
}
