package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"entitle/api"
	"entitle/gen"
	"entitle/jsontext"
)

// APIPrefix is where the API's routes live; openapi.yaml's server URL.
const APIPrefix = "/api/v2"

// Spec is the embedded openapi.yaml: its operations by Echo route template, a router that
// finds an operation for a bare request (for clients such as the test harness), and the format
// checkers the spec's schemas name.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
	// operations maps each method and Echo route template (/api/v2/echo/:template) to the spec's operation, so the server
	// decides a request's operation from the route Echo matched: one reading of the path.
	operations map[routeKey]*routers.Route
	// SchemaOptions carry the string formats; pass them to any validation of this spec.
	SchemaOptions []openapi3.SchemaValidationOption
	// plainParams holds, for each operation without a body whose parameters are all plain
	// strings (see plainParameters), those parameters: a request to it without a query string
	// is validated by checking its path and header values against their schemas directly.
	plainParams map[*routers.Route][]*openapi3.Parameter
	// paramOptions are the options the request validator checks a parameter's value with
	// (SchemaOptions, every error, and the spec's JSON Schema dialect), made once.
	paramOptions []openapi3.SchemaValidationOption
}

// LoadSpec loads the embedded spec and indexes its operations by Echo route template.
func LoadSpec() (*Spec, error) {
	doc, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	// Matching servers with a relative URL is unreliable; requests are matched by path alone.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build spec router: %w", err)
	}
	spec := &Spec{
		Doc:         doc,
		router:      router,
		operations:  map[routeKey]*routers.Route{},
		plainParams: map[*routers.Route][]*openapi3.Parameter{},
		SchemaOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("email", openapi3.NewCallbackValidator(validateEmail)),
			openapi3.WithStringFormatValidator("uuid", openapi3.NewCallbackValidator(validateUUID)),
		},
	}
	spec.paramOptions = append([]openapi3.SchemaValidationOption{openapi3.MultiErrors()}, spec.SchemaOptions...)
	if doc.IsOpenAPI31OrLater() {
		spec.paramOptions = append(spec.paramOptions, openapi3.EnableJSONSchema2020())
	}
	for path, item := range doc.Paths.Map() {
		template := EchoTemplate(path)
		for _, method := range specMethods {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			spec.operations[routeKey{method: method, template: template}] = route
			if params, ok := plainParameters(route); ok {
				spec.plainParams[route] = params
			}
		}
	}
	return spec, nil
}

// specMethods are the methods the spec's operations use.
var specMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// EchoTemplate turns a spec path such as /organizations/{organization} into the route Echo
// registers for it under the API prefix, /api/v2/organizations/:organization.
func EchoTemplate(specPath string) string {
	return APIPrefix + specParam.ReplaceAllString(specPath, ":$1")
}

var specParam = regexp.MustCompile(`\{([^}/]+)\}`)

// isTemplate says whether template is the Echo route of one of the spec's paths, under any
// method.
func (s *Spec) isTemplate(template string) bool {
	for _, method := range specMethods {
		if _, ok := s.operations[routeKey{method: method, template: template}]; ok {
			return true
		}
	}
	return false
}

// Operation is the spec's operation for a method and the Echo route template that matched.
func (s *Spec) Operation(method, template string) (*routers.Route, bool) {
	route, ok := s.operations[routeKey{method: method, template: template}]
	return route, ok
}

// Route finds the operation for a bare request by its decoded path, for clients that have no
// Echo match (the test harness validating responses). The server never uses it: it decides
// the operation from Echo's match. The returned request is a shallow copy with the prefix
// removed, as the router expects.
func (s *Spec) Route(req *http.Request) (*routers.Route, map[string]string, *http.Request, error) {
	stripped := *req
	u := *req.URL
	u.Path = strings.TrimPrefix(u.Path, APIPrefix)
	u.RawPath = ""
	stripped.URL = &u
	route, params, err := s.router.FindRoute(&stripped)
	if err != nil {
		return nil, nil, &stripped, err
	}
	for _, v := range params {
		// The router matches "/organizations" to "/organizations/{organization}" with an empty
		// organization; a path parameter is never empty, so that is no match at all.
		if v == "" {
			return nil, nil, &stripped, routers.ErrPathNotFound
		}
	}
	return route, params, &stripped, nil
}

// validateEmail accepts a bare address only: the generated models parse emails with
// net/mail, which would also take "Name <a@b.c>" and silently drop the name.
func validateEmail(s string) error {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s {
		return errors.New("must be an email address")
	}
	return nil
}

// validateUUID accepts what the generated models decode (uuid.UUID's UnmarshalText, as
// Coder's own JSON decoding): canonical, braces, urn:uuid: or 32 hex digits.
func validateUUID(s string) error {
	if _, err := uuid.Parse(s); err != nil {
		return errors.New("must be a UUID")
	}
	return nil
}

// requiresSession says whether the operation is secured, by its own security or the spec's.
func requiresSession(doc *openapi3.T, op *openapi3.Operation) bool {
	if op.Security != nil {
		return len(*op.Security) > 0
	}
	return len(doc.Security) > 0
}

// apiMiddleware runs after Echo has routed the request. It takes the operation from the
// route template Echo matched and the path parameters from Echo's match, decoded once, so the
// route, authentication and validation all read the path the same way: an escape such as %2F
// can neither reach a handler unauthenticated nor skip validation. It authenticates secured
// operations first (a signed-out caller gets 401 before any 400), then validates the request
// against the spec. Requests for templates that are not the API's pass through untouched.
func (s *Server) apiMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		route, ok := s.spec.Operation(req.Method, c.Path())
		if !ok {
			if err := s.methodNotAllowed(c); err != nil {
				return err
			}
			if s.spec.isTemplate(c.Path()) {
				// Echo matched an API template under another method, but only by letting a
				// parameter take several segments (/licenses/x/y as DELETE /licenses/:id):
				// no method answers this path. Echo's own answer would be a 405 (or, for
				// OPTIONS, a 204) with an Allow that names that method.
				return echo.ErrNotFound
			}
			return next(c)
		}
		params, ok := pathParams(c)
		if !ok {
			// "/organizations/x/members/" names no user, "%zz" names nothing, and a value
			// holding a "/" means Echo matched across segments for want of a route with this
			// method: the path may exist with others.
			if err := s.methodNotAllowed(c); err != nil {
				return err
			}
			return echo.ErrNotFound
		}
		// One copy of the request carries what the handlers take from its context: the
		// request's details for the audit log and the login throttle, on a request that may
		// change something (a GET or HEAD records nothing), and the signed-in actor.
		ctx := req.Context()
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			ctx = s.withClientAddress(ctx, c)
		}
		if requiresSession(s.spec.Doc, route.Operation) {
			actor, err := s.authenticate(ctx, req)
			if err != nil {
				return err
			}
			ctx = api.WithActor(ctx, actor)
			if actor.IsOwner() {
				for _, warning := range s.entitlements.Current().Warnings {
					c.Response().Header().Add(EntitlementsWarningHeader, warning)
				}
			}
		}
		if ctx != req.Context() {
			req = req.WithContext(ctx)
		}
		if err := s.validateRequest(ctx, req, route, params); err != nil {
			return err
		}
		// Validation leaves the body it read on the request for the strict handler to bind.
		c.SetRequest(req)
		return next(c)
	}
}

// methodNotAllowed is the 405, with Allow, when the request's path routes to an operation under
// some other method; nil when no method has one (not a route, or not the API's).
func (s *Server) methodNotAllowed(c echo.Context) error {
	allowed := s.probeAllowedMethods(c)
	if len(allowed) == 0 {
		return nil
	}
	req := c.Request()
	// Every GET route answers HEAD too (head.go), so Allow names it beside GET.
	header := make([]string, 0, len(allowed)+1)
	for _, method := range allowed {
		header = append(header, method)
		if method == http.MethodGet {
			header = append(header, http.MethodHead)
		}
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(header, ", "))
	return &api.Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed.",
		Detail: fmt.Sprintf("%s answers %s, not %s.", req.URL.Path, strings.Join(allowed, " and "), req.Method)}
}

// probeAllowedMethods asks Echo's router which methods route this request's path to an
// operation whose parameters are well formed: the Allow list when the method used found none.
func (s *Server) probeAllowedMethods(c echo.Context) []string {
	var allowed []string
	path := echo.GetPath(c.Request())
	for _, method := range specMethods {
		probe := s.echo.NewContext(c.Request(), nil)
		s.echo.Router().Find(method, path, probe)
		if _, ok := s.spec.Operation(method, probe.Path()); ok {
			if _, ok := pathParams(probe); ok {
				allowed = append(allowed, method)
			}
		}
	}
	return allowed
}

// pathParams reads Echo's path parameters as the generated wrapper will bind them: Echo
// matched on the escaped path when the request has one (RawPath), and then each value is
// decoded once; otherwise the values are already decoded. An empty or undecodable value names
// nothing.
func pathParams(c echo.Context) (pathValues, bool) {
	names, values := c.ParamNames(), c.ParamValues()
	if len(names) == 0 {
		return pathValues{}, true
	}
	if len(values) < len(names) {
		return pathValues{}, false
	}
	values = values[:len(names)]
	escaped := c.Request().URL.RawPath != ""
	if escaped {
		// Decoded into a slice of its own: Echo's values stay as matched.
		values = append([]string(nil), values...)
	}
	for i, v := range values {
		if v == "" || strings.Contains(v, "/") {
			return pathValues{}, false // one segment's value never holds a separator
		}
		if escaped {
			var err error
			if values[i], err = url.PathUnescape(v); err != nil || values[i] == "" {
				return pathValues{}, false
			}
		}
	}
	return pathValues{names: names, values: values}, true
}

// pathValues is a request's path parameters, names beside values, read from Echo's own slices
// (a map per request would cost an allocation on every read of an organization).
type pathValues struct{ names, values []string }

// get is the value of the named parameter.
func (p pathValues) get(name string) (string, bool) {
	for i, n := range p.names {
		if n == name {
			return p.values[i], true
		}
	}
	return "", false
}

// asMap is the parameters as kin-openapi's request validator takes them.
func (p pathValues) asMap() map[string]string {
	m := make(map[string]string, len(p.names))
	for i, n := range p.names {
		m[n] = p.values[i]
	}
	return m
}

func (s *Server) validateRequest(ctx context.Context, req *http.Request, route *routers.Route, params pathValues) error {
	if !takesInput(route) {
		// Nothing the spec could refuse: no body, no parameters (GET /users/me).
		return nil
	}
	if plain, ok := s.spec.plainParams[route]; ok && req.URL.RawQuery == "" {
		if checked, err := s.validatePlainParams(req, plain, params); checked {
			return err
		}
	}
	return s.validateBySpec(ctx, req, route, params)
}

// validateBySpec reads the body, if the operation takes one, and checks the whole request
// against the operation with kin-openapi's request validator.
func (s *Server) validateBySpec(ctx context.Context, req *http.Request, route *routers.Route, params pathValues) error {
	if route.Operation.RequestBody != nil {
		body, err := readJSONBody(req)
		if err != nil {
			return err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := unreadableQueryValues(req.URL.RawQuery, route); err != nil {
		return err
	}
	if err := singleQueryValues(req, route); err != nil {
		return err
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params.asMap(),
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			MultiError:              true,
			KeepValidatedValue:      true,
			SchemaValidationOptions: s.spec.SchemaOptions,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
		return validationError(err)
	}
	return nil
}

// plainParameters lists the parameters of an operation without a request body when each is a
// plain string (a schema of type string, no default, no content) and none in the query is
// required: then a request without a query string carries nothing to check but its path
// values and header values, each against its own schema (validatePlainParams), and the
// request validator, which walks the whole operation and decodes every parameter, is not
// needed. The answers are the same either way (see TestPlainParametersAreValidatedAsTheSpecSays).
func plainParameters(route *routers.Route) ([]*openapi3.Parameter, bool) {
	if route.Operation.RequestBody != nil {
		return nil, false
	}
	var plain []*openapi3.Parameter
	for _, params := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, ref := range params {
			p := ref.Value
			if p == nil || p.Content != nil || p.Schema == nil || p.Schema.Value == nil {
				return nil, false
			}
			schema := p.Schema.Value
			if !schema.Type.Is(openapi3.TypeString) || schema.Default != nil || len(schema.AllOf) > 0 {
				return nil, false
			}
			switch p.In {
			case openapi3.ParameterInPath, openapi3.ParameterInHeader:
				plain = append(plain, p)
			case openapi3.ParameterInQuery:
				if p.Required {
					return nil, false
				}
			default:
				return nil, false
			}
		}
	}
	return plain, true
}

// validatePlainParams checks a request without a query string or body against the plain
// parameters of its operation, as the request validator would, and says false (checked
// nothing) where it would answer differently: a required header that is missing, or a path
// parameter or header sent empty.
func (s *Server) validatePlainParams(req *http.Request, plain []*openapi3.Parameter, params pathValues) (checked bool, err error) {
	var problems openapi3.MultiError
	for _, p := range plain {
		var value string
		if p.In == openapi3.ParameterInPath {
			v, ok := params.get(p.Name)
			if !ok || v == "" {
				return false, nil
			}
			value = v
		} else {
			values := req.Header.Values(p.Name)
			if len(values) == 0 {
				if p.Required {
					return false, nil
				}
				continue
			}
			if value = values[0]; value == "" {
				return false, nil
			}
		}
		if withinLength(p.Schema.Value, value) {
			continue
		}
		if err := p.Schema.Value.VisitJSON(value, s.spec.paramOptions...); err != nil {
			problems = append(problems, &openapi3filter.RequestError{Parameter: p, Err: err})
		}
	}
	if len(problems) > 0 {
		return true, validationError(problems)
	}
	return true, nil
}

// withinLength says that value plainly satisfies schema, a string schema whose only constraints
// are a minimum and a maximum length, without asking the schema validator (which builds its
// settings on every call): the value is ASCII, so its length is the same in bytes, runes and
// UTF-16 units, and within both. Anything else is left to the validator.
func withinLength(schema *openapi3.Schema, value string) bool {
	if schema.Pattern != "" || schema.Format != "" || len(schema.Enum) > 0 || uint64(len(value)) < schema.MinLength ||
		schema.Not != nil || len(schema.OneOf) > 0 || len(schema.AnyOf) > 0 || len(schema.AllOf) > 0 ||
		schema.Const != nil || (schema.MaxLength != nil && uint64(len(value)) > *schema.MaxLength) {
		return false
	}
	for i := 0; i < len(value); i++ {
		if value[i] >= 0x80 {
			return false
		}
	}
	return true
}

// takesInput says whether the operation has a request body or any parameter to validate.
func takesInput(route *routers.Route) bool {
	return route.Operation.RequestBody != nil || len(route.Operation.Parameters) > 0 ||
		(route.PathItem != nil && len(route.PathItem.Parameters) > 0)
}

// unreadableQueryValues refuses a value of a query parameter the operation declares that cannot
// be read as it was sent. Go's query parser drops a pair with a bad escape or a ";" in it, so
// ?limit=%zz would quietly mean no limit at all; a NUL or bytes that are not UTF-8 would reach
// the database, where PostgreSQL refuses them with an error of its own (a 500). Parameters the
// operation does not declare are ignored, junk and all, as unknown parameters always are.
func unreadableQueryValues(rawQuery string, route *routers.Route) error {
	if rawQuery == "" {
		return nil
	}
	var problems []gen.ValidationError
	for pair := range strings.SplitSeq(rawQuery, "&") {
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !declaresQueryParam(route, key) ||
			slices.ContainsFunc(problems, func(p gen.ValidationError) bool { return p.Field == key }) {
			continue
		}
		detail := ""
		value, err := url.QueryUnescape(rawValue)
		switch {
		case strings.Contains(pair, ";"):
			detail = fmt.Sprintf("Query param %q cannot be read: \";\" does not separate query parameters; use \"&\".", key)
		case err != nil:
			detail = fmt.Sprintf("Query param %q cannot be read: %s.", key, err)
		case strings.ContainsRune(value, 0):
			detail = fmt.Sprintf("Query param %q must not contain the character U+0000.", key)
		case !utf8.ValidString(value):
			detail = fmt.Sprintf("Query param %q must be UTF-8 text.", key)
		default:
			continue
		}
		problems = append(problems, gen.ValidationError{Field: key, Detail: detail})
	}
	if len(problems) > 0 {
		return &api.Error{Status: http.StatusBadRequest, Message: api.MsgBadQuery, Validations: problems}
	}
	return nil
}

// declaresQueryParam says whether the operation takes a query parameter named name.
func declaresQueryParam(route *routers.Route, name string) bool {
	lists := []openapi3.Parameters{route.Operation.Parameters}
	if route.PathItem != nil {
		lists = append(lists, route.PathItem.Parameters)
	}
	for _, params := range lists {
		for _, ref := range params {
			if p := ref.Value; p != nil && p.In == openapi3.ParameterInQuery && p.Name == name {
				return true
			}
		}
	}
	return false
}

// singleQueryValues refuses a query parameter given more than once where the operation takes
// one value, with Coder's words. The schema validator reads only the first value, and the
// generated binder would refuse the request as if its body were not JSON.
func singleQueryValues(req *http.Request, route *routers.Route) error {
	query := req.URL.Query()
	var problems []gen.ValidationError
	check := func(params openapi3.Parameters) {
		for _, ref := range params {
			p := ref.Value
			if p == nil || p.In != openapi3.ParameterInQuery ||
				(p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is(openapi3.TypeArray)) {
				continue
			}
			if n := len(query[p.Name]); n > 1 {
				problems = append(problems, gen.ValidationError{Field: p.Name, Detail: fmt.Sprintf(
					"Query param %q provided more than once, found %d times. Only provide 1 instance of this query param.", p.Name, n)})
			}
		}
	}
	if route.PathItem != nil {
		check(route.PathItem.Parameters)
	}
	check(route.Operation.Parameters)
	if len(problems) > 0 {
		return &api.Error{Status: http.StatusBadRequest, Message: api.MsgBadQuery, Validations: problems}
	}
	return nil
}

// unsupportedBody is the 415 for a body entitle does not read, saying why.
func unsupportedBody(detail string) *api.Error {
	return &api.Error{Status: http.StatusUnsupportedMediaType, Message: "Request body must be JSON.", Detail: detail}
}

// notReadOneWay refuses a body whose headers let two readers read it differently: an encoded
// body (net/http does not decode Content-Encoding, a proxy in front may), or two Content-Types
// (Header.Get takes the first, another reader the last).
func notReadOneWay(h http.Header) *api.Error {
	for _, coding := range h.Values("Content-Encoding") {
		for part := range strings.SplitSeq(coding, ",") {
			if part = strings.TrimSpace(part); part != "" && !strings.EqualFold(part, "identity") {
				return unsupportedBody(fmt.Sprintf("Content-Encoding %q is not accepted: send the JSON body as it is.", part))
			}
		}
	}
	if len(h.Values(echo.HeaderContentType)) > 1 {
		return unsupportedBody("Content-Type is given more than once.")
	}
	return nil
}

// readJSONBody reads the whole body, at most bodyLimit bytes of it (413 past that, read no
// further), and checks that it is JSON before the schema is consulted, so each failure gets
// its own clear message.
func readJSONBody(req *http.Request) ([]byte, error) {
	if req.ContentLength > bodyLimit {
		return nil, echo.ErrStatusRequestEntityTooLarge
	}
	if e := notReadOneWay(req.Header); e != nil {
		return nil, e
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, bodyLimit+1))
	if err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: "The request body could not be read."}
	}
	if len(body) > bodyLimit {
		return nil, echo.ErrStatusRequestEntityTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: "The request body is empty."}
	}
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		// A charset parameter is ignored: JSON text is UTF-8, and RFC 8259 defines none for
		// application/json ("adding one really has no effect on compliant recipients"). A body
		// that is not UTF-8 is refused below as such, whatever the header says.
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || mediaType != echo.MIMEApplicationJSON {
			return nil, unsupportedBody(fmt.Sprintf("Content-Type must be application/json, not %q.", ct))
		}
	} else {
		// Be forgiving like Coder: a JSON body without a Content-Type is read as JSON.
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	// The validator decodes the body next; here a cheap check suffices, and only a body that
	// fails it is decoded again to say where.
	if !json.Valid(body) {
		var v any
		return nil, &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: jsonErrorDetail(json.Unmarshal(body, &v))}
	}
	if detail, found := notUnicodeText(body); found {
		return nil, &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: detail}
	}
	if key, where, found := jsontext.DuplicateKey(body); found {
		return nil, &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: duplicateKeyDetail(key, where)}
	}
	if field, found := nulField(body); found {
		e := &api.Error{Status: http.StatusBadRequest, Message: api.MsgValidationFailed}
		if field == "" {
			e.Detail = "request body must not contain the character U+0000"
		} else {
			e.Validations = []gen.ValidationError{{Field: field, Detail: "must not contain the character U+0000"}}
		}
		return nil, e
	}
	return body, nil
}

func jsonErrorDetail(err error) string {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("%s (at byte %d).", syntaxErr.Error(), syntaxErr.Offset)
	}
	return err.Error()
}

// validationError turns kin-openapi's errors into a 400 naming each bad field: Coder's
// "Query parameters have invalid values." when every problem is a query parameter's, else
// "Validation failed.".
func validationError(err error) *api.Error {
	byField := map[string]string{}
	var general []string
	collectValidations(err, nil, byField, &general)
	e := &api.Error{Status: http.StatusBadRequest, Message: api.MsgValidationFailed}
	if onlyAboutQuery(err) {
		e.Message = api.MsgBadQuery
	}
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		e.Validations = append(e.Validations, gen.ValidationError{Field: f, Detail: byField[f]})
	}
	if len(general) > 0 {
		e.Detail = strings.Join(general, "; ")
	}
	if len(e.Validations) == 0 && e.Detail == "" {
		e.Detail = "The request does not match the API's schema."
	}
	return e
}

// onlyAboutQuery says whether every problem in err, kin-openapi's error or list of them, is
// about a query parameter.
func onlyAboutQuery(err error) bool {
	if multi, ok := err.(openapi3.MultiError); ok { //nolint:errorlint // the list itself, not one it wraps
		for _, e := range multi {
			if !onlyAboutQuery(e) {
				return false
			}
		}
		return len(multi) > 0
	}
	var reqErr *openapi3filter.RequestError
	return errors.As(err, &reqErr) && reqErr.Parameter != nil && reqErr.Parameter.In == openapi3.ParameterInQuery
}

// collectValidations walks kin-openapi's nested errors; the first problem found for a field
// wins. param is the parameter the error is about, nil for the body.
func collectValidations(err error, param *openapi3.Parameter, byField map[string]string, general *[]string) {
	// A parameter's RequestError wraps a MultiError of schema errors: it must be unwrapped
	// first, or errors.As finds the MultiError inside it and the parameter's name is lost.
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) && (reqErr.Parameter != nil || !isMulti(err)) {
		if reqErr.Parameter != nil {
			param = reqErr.Parameter
		}
		if reqErr.Err == nil {
			addValidation(param, "", reqErr.Reason, byField, general)
			return
		}
		collectValidations(reqErr.Err, param, byField, general)
		return
	}
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		for _, e := range multi {
			collectValidations(e, param, byField, general)
		}
		return
	}
	var schemaErr *openapi3.SchemaError
	if errors.As(err, &schemaErr) {
		addValidation(param, strings.Join(schemaErr.JSONPointer(), "."), schemaDetail(schemaErr), byField, general)
		return
	}
	var parseErr *openapi3filter.ParseError
	if errors.As(err, &parseErr) {
		addValidation(param, "", "could not be parsed", byField, general)
		return
	}
	addValidation(param, "", "is invalid", byField, general)
}

// addValidation records detail for a body field, or for a parameter (a field inside it when
// the parameter is an object). Details about parameters say where the parameter is (path,
// query, header), so a path segment that is too long never reads as a body problem.
// isMulti says whether err itself (not something it wraps) is a MultiError.
func isMulti(err error) bool {
	_, ok := err.(openapi3.MultiError) //nolint:errorlint // only err itself counts here
	return ok
}

func addValidation(param *openapi3.Parameter, field, detail string, byField map[string]string, general *[]string) {
	if param != nil {
		field = strings.TrimSuffix(param.Name+"."+field, ".")
		detail = param.In + " parameter " + detail
	}
	if field == "" {
		*general = append(*general, "request body "+detail)
		return
	}
	if _, seen := byField[field]; !seen {
		byField[field] = detail
	}
}

// schemaDetail says in a few words what the schema wanted, never echoing the value or the schema.
func schemaDetail(e *openapi3.SchemaError) string {
	s := e.Schema
	switch e.SchemaField {
	case "required":
		return "is required"
	case "type":
		if s != nil && s.Type != nil && len(*s.Type) > 0 {
			return "must be " + article((*s.Type)[0])
		}
		return "has the wrong type"
	case "minLength":
		if s.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters", s.MinLength)
	case "maxLength":
		if s.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters", *s.MaxLength)
		}
	case "pattern":
		// The spec words each pattern for people (x-pattern-detail); a regular expression is
		// the last resort.
		if detail, ok := s.Extensions["x-pattern-detail"].(string); ok {
			return detail
		}
		return "must match " + s.Pattern
	case "format":
		if s.Format == "int64" || s.Format == "int32" {
			return wholeNumberDetail(s.Format)
		}
		return "must be " + article(s.Format)
	case "enum":
		return "must be one of the allowed values"
	case "maxItems":
		if s.MaxItems != nil {
			return fmt.Sprintf("must have at most %d items", *s.MaxItems)
		}
	case "nullable":
		return "must not be null"
	}
	return e.Reason
}

func article(noun string) string {
	switch noun {
	case "email":
		return "an email address"
	case "uuid":
		return "a UUID"
	case "integer", "object", "array":
		return "an " + noun
	}
	return "a " + noun
}

// wholeNumberDetail is what an integer field of the format takes, for a number it could not hold.
func wholeNumberDetail(format string) string {
	switch format {
	case "int64":
		return "must be a whole number from -9223372036854775808 to 9223372036854775807, written in digits without a fraction or exponent"
	case "int32":
		return "must be a whole number from -2147483648 to 2147483647, written in digits without a fraction or exponent"
	}
	return "must be a whole number in range, written in digits without a fraction or exponent"
}
