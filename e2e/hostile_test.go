package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/server"
)

// The hostile-input catalogue. Every route of openapi.yaml (walked from the embedded spec, so
// a new route is covered without editing this file) gets each class of hostile input, signed
// in as the owner where the route needs it. Every answer must be what the contract gives, in
// the JSON error envelope, with no SQL, stack trace or secret in it, and a refused request
// must leave every row of users, organizations, members, licenses and sessions as it was.
//
// Where the contract is silent, the expectation chosen is what a client of Coder's API would
// expect, and the class says so. "Harmless" classes expect the route's ordinary answer: the
// status its plain request gets, sent just before.

// want is what the contract says a case must get.
type want struct {
	// status lists the statuses allowed. Empty means any 4xx, unless likePlain or belowFiveHundred.
	status []int
	// messages lists the envelope messages allowed when the status is one of status.
	messages []string
	// likePlain: the input is harmless, so the answer is the plain request's status.
	likePlain bool
	// orPlain: one of status, or the plain request's status (the input may be read either way).
	orPlain bool
	// belowFiveHundred: the contract leaves refusing and accepting open; never a 5xx.
	belowFiveHundred bool
	// fromNetHTTP: Go's HTTP server answers before entitle sees the request, in plain text.
	fromNetHTTP bool
	// names: a 400 must name this field or parameter, in validations or detail.
	names string
	// notSay: the envelope must not contain this (case-insensitive).
	notSay string
	check  func(t *testing.T, q hostileRequest, r reply)
}

func (w want) allows(status int) bool { return slices.Contains(w.status, status) }

// hostileCase is one request of a class aimed at one route.
type hostileCase struct {
	name  string
	build func(t *testing.T) hostileRequest
	// raw sends the request byte for byte on its own connection.
	raw  bool
	want want
}

// hostileClass makes its cases for a route; a class that does not apply to the route makes none.
type hostileClass struct {
	name  string
	cases func(h *hostileEnv, r specRoute) []hostileCase
}

func TestHostileInputCatalogue(t *testing.T) {
	require.GreaterOrEqual(t, len(hostileClasses), 40, "the catalogue has at least 40 classes")
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		h := startHostile(t, db)
		routes := h.routes
		for _, class := range hostileClasses {
			t.Run(class.name, func(t *testing.T) {
				for _, r := range routes {
					for _, c := range class.cases(h, r) {
						name := r.String()
						if c.name != "" {
							name += " " + c.name
						}
						t.Run(name, func(t *testing.T) { h.run(t, r, c) })
					}
				}
			})
		}
	})
}

// run sends one case and checks its answer and the data.
func (h *hostileEnv) run(t *testing.T, r specRoute, c hostileCase) {
	t.Helper()
	plainStatus := 0
	if c.want.likePlain || c.want.orPlain {
		p := h.plain(t, r)
		pr := h.send(t, p)
		h.checkAnswer(t, p, pr, false)
		plainStatus = pr.Status
	}
	q := c.build(t)
	before := h.snapshot(t)
	var got reply
	if c.raw {
		got = h.sendRaw(t, q)
	} else {
		got = h.send(t, q)
	}
	after := h.snapshot(t)
	h.checkAnswer(t, q, got, c.want.fromNetHTTP)
	if got.Status < 200 || got.Status >= 300 {
		requireUnchanged(t, before, after)
	}
	c.want.verify(t, q, got, plainStatus)
}

func (w want) verify(t *testing.T, q hostileRequest, r reply, plainStatus int) {
	t.Helper()
	switch {
	case w.likePlain:
		assert.Equal(t, plainStatus, r.Status, "harmless input gets the route's ordinary answer: %s", r.Body)
	case len(w.status) > 0:
		ok := w.allows(r.Status) || (w.orPlain && r.Status == plainStatus)
		assert.True(t, ok, "status %d, want one of %v (or the plain %d: %v): %s", r.Status, w.status, plainStatus, w.orPlain, r.Body)
	case w.belowFiveHundred:
		// checkAnswer has refused any 5xx.
	default:
		assert.True(t, r.Status >= 400 && r.Status < 500, "status %d, want a 4xx: %s", r.Status, r.Body)
	}
	if w.fromNetHTTP || q.method == http.MethodHead || r.Status < 400 {
		if w.check != nil {
			w.check(t, q, r)
		}
		return
	}
	var env struct {
		Message     string `json:"message"`
		Detail      string `json:"detail"`
		Validations []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"validations"`
	}
	_ = json.Unmarshal(r.Body, &env)
	plainAllowed := w.orPlain && r.Status == plainStatus
	if len(w.messages) > 0 && w.allows(r.Status) && !plainAllowed {
		assert.Contains(t, w.messages, env.Message, "message: %s", r.Body)
	}
	if w.names != "" && r.Status == http.StatusBadRequest {
		text := env.Detail
		for _, v := range env.Validations {
			text += " " + v.Field + " " + v.Detail
		}
		assert.Contains(t, text, w.names, "the error names %q: %s", w.names, r.Body)
	}
	if w.notSay != "" {
		assert.NotContains(t, strings.ToLower(string(r.Body)), strings.ToLower(w.notSay), "body: %s", r.Body)
	}
	if w.check != nil {
		w.check(t, q, r)
	}
}

// Expectations used by many classes.
var (
	badJSON       = want{status: []int{http.StatusBadRequest}, messages: []string{msgInvalidJSON}}
	unreadable    = want{status: []int{http.StatusBadRequest}, messages: []string{msgInvalidJSON, msgValidationFailed}}
	harmless      = want{likePlain: true}
	tooLarge      = want{status: []int{http.StatusRequestEntityTooLarge}}
	notJSONType   = want{status: []int{http.StatusUnsupportedMediaType}, messages: []string{"Request body must be JSON."}}
	namesNothing  = want{status: []int{http.StatusNotFound}, messages: []string{msgNotFound}}
	notFoundAtAll = want{status: []int{http.StatusNotFound}, messages: []string{msgNotFound, msgRouteNotFound}}
	signedOut     = want{status: []int{http.StatusUnauthorized}, messages: []string{msgSignedOut}}
)

// wrongShape: readable JSON that is not the object the route takes is a validation failure.
var wrongShape = want{status: []int{http.StatusBadRequest}, messages: []string{msgValidationFailed}}

// variant is the route's plain request with one edit.
func (h *hostileEnv) variant(r specRoute, edit func(t *testing.T, q *hostileRequest)) func(t *testing.T) hostileRequest {
	return func(t *testing.T) hostileRequest {
		q := h.plain(t, r)
		edit(t, &q)
		return q
	}
}

// contentTypeClass sends the valid body under each of the Content-Types.
func contentTypeClass(name string, w want, types ...string) hostileClass {
	return hostileClass{name: name, cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if r.body == nil {
			return nil
		}
		var cases []hostileCase
		for _, ct := range types {
			cases = append(cases, hostileCase{
				name:  ct,
				build: h.variant(r, func(_ *testing.T, q *hostileRequest) { q.header.Set("Content-Type", ct) }),
				want:  w,
			})
		}
		return cases
	}}
}

// oneCase is a class with one case per route it applies to.
func oneCase(name string, applies func(r specRoute) bool, edit func(h *hostileEnv, r specRoute, t *testing.T, q *hostileRequest), w want) hostileClass {
	return hostileClass{name: name, cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if !applies(r) {
			return nil
		}
		return []hostileCase{{build: h.variant(r, func(t *testing.T, q *hostileRequest) { edit(h, r, t, q) }), want: w}}
	}}
}

func takesBody(r specRoute) bool   { return r.body != nil }
func takesNoBody(r specRoute) bool { return r.body == nil }
func anyRoute(specRoute) bool      { return true }

// bodyClass sends body (made from the route's valid body) in place of the valid one.
func bodyClass(name string, body func(h *hostileEnv, t *testing.T, r specRoute) []byte, w want) hostileClass {
	return oneCase(name, takesBody, func(h *hostileEnv, r specRoute, t *testing.T, q *hostileRequest) {
		q.body = body(h, t, r)
	}, w)
}

func fixedBody(b []byte) func(*hostileEnv, *testing.T, specRoute) []byte {
	return func(*hostileEnv, *testing.T, specRoute) []byte { return b }
}

// validBodyBytes is the route's valid body as JSON text.
func validBodyBytes(h *hostileEnv, t *testing.T, r specRoute) []byte {
	return mustJSON(t, h.validBody(t, r))
}

// withUnknownField adds an unknown field, whose raw JSON text is value, before the valid fields.
func withUnknownField(value []byte) func(*hostileEnv, *testing.T, specRoute) []byte {
	return func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		valid := validBodyBytes(h, t, r)
		out := append([]byte(`{"hostile_unknown":`), value...)
		if len(valid) > 2 {
			out = append(out, ',')
		}
		return append(out, valid[1:]...)
	}
}

// padded is the valid body followed by white space up to exactly size bytes.
func padded(size int) func(*hostileEnv, *testing.T, specRoute) []byte {
	return func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		valid := validBodyBytes(h, t, r)
		return append(valid, bytes.Repeat([]byte(" \n"), size)[:size-len(valid)]...)
	}
}

// rawValue is a field value as raw JSON text, which may be invalid on purpose.
type rawValue struct {
	label string
	raw   []byte
}

// fieldExpectation is what the spec says about a field set to raw. Text that is not JSON is
// unreadable; a value the field's schema refuses is a 400 naming the field (messages say
// which); a value the schema takes is data the handler may accept or refuse, never a 500.
func (h *hostileEnv) fieldExpectation(r specRoute, field string, raw []byte, messages ...string) want {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return unreadable
	}
	if err := r.fieldSchema(field).VisitJSON(v, h.spec.SchemaOptions...); err != nil {
		if len(messages) == 0 {
			messages = []string{msgValidationFailed}
		}
		return want{status: []int{http.StatusBadRequest}, messages: messages, names: field}
	}
	return want{belowFiveHundred: true}
}

// fieldClass sets each field the filter picks to each of the values, one case each.
func fieldClass(name string, picks func(s *openapi3.Schema) bool, values func(s *openapi3.Schema) []rawValue, messages ...string) hostileClass {
	return hostileClass{name: name, cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, field := range r.bodyFields() {
			s := r.fieldSchema(field)
			if !picks(s) {
				continue
			}
			for _, v := range values(s) {
				cases = append(cases, hostileCase{
					name: field + " " + v.label,
					build: h.variant(r, func(t *testing.T, q *hostileRequest) {
						q.body = h.bodyWithRawField(t, r, field, v.raw)
					}),
					want: h.fieldExpectation(r, field, v.raw, messages...),
				})
			}
		}
		return cases
	}}
}

// refusedFieldClass sets each field the filter picks to each of the values, one case each,
// and every case must be a 400 with message, naming the field.
func refusedFieldClass(name string, picks func(s *openapi3.Schema) bool, values func(s *openapi3.Schema) []rawValue, message string) hostileClass {
	class := fieldClass(name, picks, values)
	cases := class.cases
	class.cases = func(h *hostileEnv, r specRoute) []hostileCase {
		made := cases(h, r)
		for i := range made {
			field, _, _ := strings.Cut(made[i].name, " ")
			made[i].want = want{status: []int{http.StatusBadRequest}, messages: []string{message}, names: field}
		}
		return made
	}
	return class
}

func isString(s *openapi3.Schema) bool  { return s.Type.Is("string") }
func isNumeric(s *openapi3.Schema) bool { return s.Type.Is("integer") || s.Type.Is("number") }
func anyField(*openapi3.Schema) bool    { return true }

func stringValues(values ...rawValue) func(*openapi3.Schema) []rawValue {
	return func(*openapi3.Schema) []rawValue { return values }
}

// wrongTypes are values of every JSON type but the field's own.
func wrongTypes(s *openapi3.Schema) []rawValue {
	all := map[string]rawValue{
		"string":  {"as a string", []byte(`"1"`)},
		"integer": {"as an integer", []byte(`5`)},
		"number":  {"as a fraction", []byte(`1.5`)},
		"boolean": {"as a boolean", []byte(`true`)},
		"object":  {"as an object", []byte(`{"a":"b"}`)},
		"array":   {"as an array", []byte(`["a"]`)},
		"null":    {"as null", []byte(`null`)},
	}
	var out []rawValue
	for _, typ := range []string{"string", "integer", "number", "boolean", "object", "array", "null"} {
		if s.Type.Is(typ) || (typ == "number" && s.Type.Is("integer")) || (typ == "integer" && s.Type.Is("number")) {
			continue
		}
		if typ == "null" && s.Nullable {
			continue
		}
		out = append(out, all[typ])
	}
	return out
}

func quoted(s string) []byte { return []byte(strconv.Quote(s)) }

// atMaxLength is a string of letters as long as the field allows, and one longer.
func lengthValues(over bool) func(s *openapi3.Schema) []rawValue {
	return func(s *openapi3.Schema) []rawValue {
		if s.MaxLength == nil {
			return nil
		}
		n := int(*s.MaxLength)
		if over {
			return []rawValue{{fmt.Sprintf("of %d characters", n+1), quoted(strings.Repeat("a", n+1))}}
		}
		return []rawValue{{fmt.Sprintf("of %d characters", n), quoted(strings.Repeat("a", n))}}
	}
}

// pathParamClass sends each value (raw, as it goes on the wire) in each path parameter.
func pathParamClass(name string, values func(p *openapi3.Parameter, plain string) []string, expect func(h *hostileEnv, p *openapi3.Parameter, raw string) want) hostileClass {
	return hostileClass{name: name, cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, p := range r.pathParams {
			for _, raw := range values(p, plainParamValue(p)) {
				cases = append(cases, hostileCase{
					name: p.Name + "=" + abbreviate(raw),
					build: h.variant(r, func(t *testing.T, q *hostileRequest) {
						q.path = r.path(map[string]string{p.Name: raw})
					}),
					want: expect(h, p, raw),
				})
			}
		}
		return cases
	}}
}

func fixed(w want) func(*hostileEnv, *openapi3.Parameter, string) want {
	return func(*hostileEnv, *openapi3.Parameter, string) want { return w }
}

func values(vs ...string) func(*openapi3.Parameter, string) []string {
	return func(*openapi3.Parameter, string) []string { return vs }
}

// paramAccepts says whether the parameter's schema takes the (unescaped) value, read as the
// validator reads it.
func (h *hostileEnv) paramAccepts(p *openapi3.Parameter, value string) bool {
	s := p.Schema.Value
	var v any = value
	switch {
	case s.Type.Is("integer"):
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false
		}
		v = float64(n)
	case s.Type.Is("number"):
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return false
		}
		v = f
	case s.Type.Is("boolean"):
		b, err := strconv.ParseBool(value)
		if err != nil {
			return false
		}
		v = b
	}
	return s.VisitJSON(v, h.spec.SchemaOptions...) == nil
}

// paramByItsSchema: a value the parameter's schema refuses is a 400 that names the parameter
// (and never calls it the request body); one it takes names nothing, 404 (path) or is the
// route's business (query).
func paramByItsSchema(h *hostileEnv, p *openapi3.Parameter, raw string) want {
	value, err := url.PathUnescape(raw)
	if err == nil && h.paramAccepts(p, value) {
		if p.In == openapi3.ParameterInPath {
			return namesNothing
		}
		return want{belowFiveHundred: true}
	}
	return want{status: []int{http.StatusBadRequest}, names: p.Name, notSay: "request body"}
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:20], len(s))
	}
	return s
}

// confusables are values that look like plain (Cyrillic letters, full-width forms, a
// zero-width space, a combining accent) and must name nothing.
func confusables(_ *openapi3.Parameter, plain string) []string {
	lookalike := map[rune]rune{'a': 'а', 'e': 'е', 'o': 'о', 'p': 'р', 'c': 'с', 'x': 'х', '9': '９', '1': '１'}
	var cyrillic []rune
	swapped := false
	for _, c := range plain {
		if l, ok := lookalike[c]; ok && !swapped {
			c, swapped = l, true
		}
		cyrillic = append(cyrillic, c)
	}
	var fullWidth []rune
	for _, c := range plain {
		if c > ' ' && c < 0x7f {
			c += 0xFEE0
		}
		fullWidth = append(fullWidth, c)
	}
	first, rest := plain[:1], plain[1:]
	return []string{
		url.PathEscape(string(cyrillic)),
		url.PathEscape(string(fullWidth)),
		url.PathEscape(first + "\u200b" + rest),
		url.PathEscape(first + "\u0301" + rest),
		url.PathEscape(first + "\u202e" + rest),
	}
}

// tokenPlace is one of the four places a session token is read from.
type tokenPlace struct {
	name string
	put  func(q *hostileRequest, token string)
}

var tokenPlaces = []tokenPlace{
	{"in the header", func(q *hostileRequest, tok string) { q.header.Set(server.SessionHeader, tok) }},
	{"in the cookie", func(q *hostileRequest, tok string) { q.header.Set("Cookie", sessionCookieName+"="+tok) }},
	{"in the query", func(q *hostileRequest, tok string) {
		q.query = joinQuery(q.query, sessionCookieName+"="+url.QueryEscape(tok))
	}},
	{"as a bearer token", func(q *hostileRequest, tok string) { q.header.Set("Authorization", "Bearer "+tok) }},
}

func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}

// badTokenShape makes a token that must not sign anyone in, and says what the 401 must say.
type badTokenShape struct {
	name string
	make func(h *hostileEnv) string
	// detail, when set, must appear in the 401's detail.
	detail string
}

var badTokenShapes = []badTokenShape{
	{"empty", func(*hostileEnv) string { return "" }, ""},
	{"malformed", func(*hostileEnv) string { return "not-a-token" }, ""},
	{"without its hyphen", func(h *hostileEnv) string { return strings.Replace(h.owner, "-", "", 1) + "a" }, ""},
	{"one character too long", func(h *hostileEnv) string { return h.owner + "a" }, ""},
	{"4 KiB long", func(*hostileEnv) string { return strings.Repeat("a", 4096) }, ""},
	{"with non-ASCII letters", func(*hostileEnv) string { return "ünïcödé0ab-ünïcödé012345678901" }, ""},
	{"an SQL string", func(*hostileEnv) string { return "' OR 1=1 --" }, ""},
	{"with a wrong secret", func(h *hostileEnv) string { return h.owner[:11] + strings.Repeat("A", 22) }, ""},
	{"with an unknown id", func(h *hostileEnv) string { return "ZZZZZZZZZZ" + h.owner[10:] }, ""},
	{"expired", func(h *hostileEnv) string { return h.expired }, "expired"},
	{"signed out", func(h *hostileEnv) string { return h.revoked }, ""},
}

// securedIndex is r's position among the secured routes of the walk.
func securedIndex(routes []specRoute, r specRoute) (int, bool) {
	n := 0
	for _, other := range routes {
		if !other.secured {
			continue
		}
		if other.String() == r.String() {
			return n, true
		}
		n++
	}
	return 0, false
}

// withoutToken is the plain request with the owner's token taken away.
func withoutToken(q *hostileRequest) {
	q.header.Del(server.SessionHeader)
	q.token = ""
}

func securedOnly(r specRoute) bool { return r.secured }

// firstOfPath picks one operation per path, for classes about the path rather than an operation.
func firstOfPath(r specRoute) bool { return r.method == r.methods[0] }

// methodsAt lists every method some template of the spec answers at the concrete path r's
// plain request uses: /licenses/refresh-entitlements is its own template (POST) and also
// /licenses/{id} (DELETE), so which of the two a DELETE reaches is the router's choice.
func methodsAt(routes []specRoute, r specRoute) []string {
	segments := strings.Split(r.path(nil), "/")
	var methods []string
	for _, other := range routes {
		tmpl := strings.Split(other.template, "/")
		if len(tmpl) != len(segments) {
			continue
		}
		matches := true
		for i, seg := range tmpl {
			if !strings.HasPrefix(seg, "{") && seg != segments[i] {
				matches = false
			}
		}
		if matches && !slices.Contains(methods, other.method) {
			methods = append(methods, other.method)
		}
	}
	slices.Sort(methods)
	return methods
}

// allowed checks a 405's Allow header: at least the methods of the path's own template, at
// most those of any template the path matches (HEAD and OPTIONS may join).
func allowed(own, atPath []string) func(t *testing.T, q hostileRequest, r reply) {
	return func(t *testing.T, _ hostileRequest, r reply) {
		allow := r.Header.Get("Allow")
		if !assert.NotEmpty(t, allow, "a 405 says which methods the path answers") {
			return
		}
		var got []string
		for m := range strings.SplitSeq(allow, ",") {
			m = strings.TrimSpace(m)
			if m != http.MethodHead && m != http.MethodOptions {
				got = append(got, m)
			}
		}
		for _, m := range own {
			assert.Contains(t, got, m, "Allow: %s", allow)
		}
		for _, m := range got {
			assert.Contains(t, atPath, m, "Allow: %s", allow)
		}
	}
}

func methodNotAllowed(own, atPath []string) want {
	return want{status: []int{http.StatusMethodNotAllowed}, messages: []string{"Method not allowed."}, check: allowed(own, atPath)}
}

// requestIDKept: a short plain X-Request-ID comes back as sent.
func requestIDKept(t *testing.T, q hostileRequest, r reply) {
	assert.Equal(t, q.header.Get("X-Request-ID"), r.Header.Get("X-Request-ID"), "a short plain request id is kept")
}

// requestIDReplaced: a request id that could poison logs or headers is never echoed; the
// server makes a fresh one.
func requestIDReplaced(t *testing.T, q hostileRequest, r reply) {
	got := r.Header.Get("X-Request-ID")
	assert.NotEmpty(t, got, "the answer carries a request id")
	assert.NotEqual(t, q.header.Get("X-Request-ID"), got, "a hostile request id is not echoed")
	assert.LessOrEqual(t, len(got), 128, "the request id is short")
	for _, c := range got {
		assert.True(t, c > ' ' && c < 0x7f, "the request id is plain ASCII: %q", got)
	}
}

// jsonAnswer: whatever was asked for, the API answers JSON.
func jsonAnswer(t *testing.T, _ hostileRequest, r reply) {
	if len(r.Body) > 0 {
		assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "Content-Type %q", r.Header.Get("Content-Type"))
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

func utf16Body(b []byte) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(string(b))) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// duplicatedField is the field the duplicate-key cases write twice: the first required one.
func duplicatedField(r specRoute) string {
	if len(r.body.Required) > 0 {
		return r.body.Required[0]
	}
	return r.bodyFields()[0]
}

// duplicateKey writes a field of the valid body twice: first with a value its schema refuses,
// then with the valid one, so a parser that keeps the first and one that keeps the last read
// two different requests.
func duplicateKey(h *hostileEnv, t *testing.T, r specRoute) []byte {
	valid := validBodyBytes(h, t, r)
	field := duplicatedField(r)
	bad := []byte(`"bad name!"`)
	if r.fieldSchema(field).VisitJSON("bad name!", h.spec.SchemaOptions...) == nil {
		bad = []byte(`12345`)
	}
	body := append([]byte(`{"`+field+`":`), bad...)
	if len(valid) > 2 {
		body = append(body, ',')
	} else {
		body = append(body, []byte(`,"`+field+`":"x"`)...)
	}
	return append(body, valid[1:]...)
}

func requiresKeyNamed(field string) want {
	w := badJSON
	w.names = field
	return w
}

// hostileClasses is the catalogue. Each class says what it sends and what the contract gives.
var hostileClasses = []hostileClass{
	// --- Bodies that are not JSON, or not the object the route takes.
	bodyClass("invalid JSON is unreadable", fixedBody([]byte(`not json`)), badJSON),
	bodyClass("truncated JSON is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		valid := validBodyBytes(h, t, r)
		return valid[:len(valid)-1]
	}, badJSON),
	bodyClass("trailing garbage after the object is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append(validBodyBytes(h, t, r), []byte(`}x`)...)
	}, badJSON),
	bodyClass("two objects one after the other are unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append(validBodyBytes(h, t, r), validBodyBytes(h, t, r)...)
	}, badJSON),
	bodyClass("JSON with comments is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append([]byte("/* hostile */"), validBodyBytes(h, t, r)...)
	}, badJSON),
	bodyClass("NaN is unreadable", withUnknownField([]byte(`NaN`)), badJSON),
	bodyClass("single quotes are unreadable", withUnknownField([]byte(`'hostile'`)), badJSON),
	bodyClass("an empty body is unreadable", fixedBody([]byte{}), badJSON),
	bodyClass("a JSON array instead of the object is refused", fixedBody([]byte(`[]`)), wrongShape),
	bodyClass("a JSON number instead of the object is refused", fixedBody([]byte(`42`)), wrongShape),
	bodyClass("a JSON string instead of the object is refused", fixedBody([]byte(`"hostile"`)), wrongShape),
	bodyClass("JSON null instead of the object is refused", fixedBody([]byte(`null`)), wrongShape),
	bodyClass("JSON true instead of the object is refused", fixedBody([]byte(`true`)), wrongShape),

	// --- Two parsers must never read two different values (contract, 2026-11-27).
	{name: "a duplicate key is unreadable and named", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if r.body == nil || len(r.bodyFields()) == 0 {
			return nil
		}
		return []hostileCase{{
			build: h.variant(r, func(t *testing.T, q *hostileRequest) { q.body = duplicateKey(h, t, r) }),
			want:  requiresKeyNamed(duplicatedField(r)),
		}}
	}},
	{name: "a key repeated in another case never overrides the validated value", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, field := range r.bodyFields() {
			cases = append(cases, hostileCase{
				name: strings.ToUpper(field),
				build: h.variant(r, func(t *testing.T, q *hostileRequest) {
					valid := validBodyBytes(h, t, r)
					extra := `"` + strings.ToUpper(field) + `":"bad name!"}`
					if len(valid) > 2 {
						extra = "," + extra
					}
					q.body = append(valid[:len(valid)-1], extra...)
				}),
				// Unknown fields are ignored, so the upper-case key is an unknown field: the route
				// answers as it answers the valid body, and never stores "bad name!".
				want: want{likePlain: true, check: func(t *testing.T, _ hostileRequest, r reply) {
					assert.NotContains(t, string(r.Body), "bad name!", "the handler read the unvalidated value")
				}},
			})
		}
		return cases
	}},

	// --- Depth and size.
	bodyClass("nesting 10,001 deep is refused", fixedBody([]byte(strings.Repeat("[", 10001)+strings.Repeat("]", 10001))), unreadable),
	bodyClass("nesting 10,001 deep in an unknown field is refused",
		withUnknownField([]byte(strings.Repeat("[", 10001)+strings.Repeat("]", 10001))), unreadable),
	// Harmless: 1,000 levels are well inside what the decoder takes, and the field is unknown.
	bodyClass("nesting 1,000 deep in an unknown field is ignored",
		withUnknownField([]byte(strings.Repeat("[", 1000)+strings.Repeat("]", 1000))), harmless),
	bodyClass("a string over 1 MiB is too large", withUnknownField(quoted(strings.Repeat("a", 1<<20+1))), tooLarge),
	bodyClass("1 MiB of white space is an empty body", fixedBody(bytes.Repeat([]byte(" \n\t\r"), 1<<18)), badJSON),
	// Harmless: the limit is on bodies over 1 MiB; white space around a value is valid JSON.
	bodyClass("a valid body padded with white space to exactly 1 MiB is read", padded(1<<20), harmless),
	bodyClass("a valid body padded to 1 MiB and one byte is too large", padded(1<<20+1), tooLarge),

	// --- Bytes and encodings.
	bodyClass("a raw NUL byte inside a string is unreadable", withUnknownField([]byte("\"a\x00b\"")), badJSON),
	bodyClass("a raw control character inside a string is unreadable", withUnknownField([]byte("\"a\x01b\"")), badJSON),
	bodyClass("a UTF-8 byte order mark is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append([]byte("\xef\xbb\xbf"), validBodyBytes(h, t, r)...)
	}, badJSON),
	bodyClass("a UTF-16 byte order mark is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append([]byte("\xfe\xff"), validBodyBytes(h, t, r)...)
	}, badJSON),
	bodyClass("a UTF-16 encoded body is unreadable", func(h *hostileEnv, t *testing.T, r specRoute) []byte {
		return append([]byte("\xfe\xff"), utf16Body(validBodyBytes(h, t, r))...)
	}, badJSON),
	fieldClass("an escaped NUL in a string field is only data", isString, stringValues(
		rawValue{"holding a NUL", []byte(`"hostile\u0000nul"`)},
		rawValue{"that is a NUL", []byte(`"\u0000"`)},
	)),
	// Invalid UTF-8 is not JSON (RFC 8259 §8.1), and an unpaired surrogate escape stands for no
	// character (I-JSON, RFC 7493, refuses it). Go's decoder (and so Coder's) would read either
	// as U+FFFD and store that, which is not what was sent: refused, naming the field.
	refusedFieldClass("invalid UTF-8 in a string field is refused naming it", isString, stringValues(
		rawValue{"with byte 0xff", []byte("\"hostile\xff\xfe\"")},
		rawValue{"with a truncated sequence", []byte("\"hostile\xe2\x82\"")},
	), msgInvalidJSON),
	refusedFieldClass("overlong UTF-8 in a string field is refused naming it", isString, stringValues(
		rawValue{"with an overlong slash", []byte("\"hostile\xc0\xaf\"")},
		rawValue{"with an overlong NUL", []byte("\"hostile\xc0\x80\"")},
	), msgInvalidJSON),
	refusedFieldClass("a lone surrogate in a string field is refused naming it", isString, stringValues(
		rawValue{"with a lone high surrogate", []byte(`"hostile\ud800"`)},
		rawValue{"with a lone low surrogate", []byte(`"\udc00hostile"`)},
	), msgInvalidJSON),
	fieldClass("unusual Unicode in a string field is only data", isString, stringValues(
		rawValue{"with a right-to-left override", []byte(`"hostile\u202egpj.exe"`)},
		rawValue{"with a zero-width joiner", []byte(`"host\u200dile"`)},
		rawValue{"with an emoji", []byte(`"hostile🔥"`)},
		rawValue{"with a combining accent", []byte(`"hostile\u0301"`)},
	)),
	fieldClass("SQL in a string field is only data", isString, stringValues(
		rawValue{"always true", []byte(`"x' OR '1'='1"`)},
		rawValue{"dropping a table", []byte(`"x'; DROP TABLE users; --"`)},
		rawValue{"with a LIKE wildcard", []byte(`"%"`)},
		rawValue{"with a backslash escape", []byte(`"x\\'; --"`)},
	)),

	// --- Fields of the wrong type, length or range.
	fieldClass("a field of the wrong type is a validation error naming it", anyField, wrongTypes),
	fieldClass("a field at its maximum length is taken or refused by the handler, never a 500", isString, lengthValues(false)),
	fieldClass("a field one over its maximum length is a validation error naming it", isString, lengthValues(true)),
	fieldClass("numbers out of range in a numeric field are refused", isNumeric, stringValues(
		rawValue{"of 1e400", []byte(`1e400`)},
		rawValue{"of 2^63", []byte(`9223372036854775808`)},
		rawValue{"of -2^63-1", []byte(`-9223372036854775809`)},
		rawValue{"of 1.5", []byte(`1.5`)},
		rawValue{"of -0", []byte(`-0`)},
	), msgValidationFailed, msgInvalidJSON),
	// Harmless: unknown request fields are ignored (contract, common rules).
	bodyClass("unknown fields are ignored", withUnknownField([]byte(`{"role":"owner","is_admin":true,"id":"00000000-0000-0000-0000-000000000000"}`)), harmless),

	// --- Content-Type and Content-Encoding.
	contentTypeClass("a body that says it is not JSON is unsupported", notJSONType,
		"text/plain", "multipart/form-data; boundary=hostile", "application/x-www-form-urlencoded",
		"application/xml", "text/json", "application/jsonx", "application/vnd.api+json",
		"application/json-patch+json", ";;;", "application/json, text/plain"),
	// Harmless: media types are case-insensitive and parameters are ignored; the body is read
	// as UTF-8 whatever charset it names, as Coder's server does.
	contentTypeClass("charset and case variants of application/json are read as JSON", harmless,
		"application/json; charset=utf-8", "application/json;charset=UTF-8", "APPLICATION/JSON",
		`application/json ; charset="utf-8"`, "application/json; charset=iso-8859-1", "application/json; hostile=1"),
	// The contract is silent on request content codings: entitle decodes none, so a gzip body
	// is never read as the JSON it hides; 415 (RFC 7694) or an unreadable 400 are both right.
	oneCase("a gzip body with garbage is refused", takesBody, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("Content-Encoding", "gzip")
		q.body = []byte("\x1f\x8b\x08\x00hostile garbage")
	}, want{status: []int{http.StatusBadRequest, http.StatusUnsupportedMediaType}}),
	oneCase("a gzip body is never read as the JSON inside it", takesBody, func(_ *hostileEnv, _ specRoute, t *testing.T, q *hostileRequest) {
		q.header.Set("Content-Encoding", "gzip")
		q.body = gzipped(t, q.body)
	}, want{status: []int{http.StatusBadRequest, http.StatusUnsupportedMediaType}}),
	// Harmless: a route that takes no body ignores one.
	oneCase("a body on a route that takes none is ignored", takesNoBody, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("Content-Type", "application/json")
		q.body = []byte(`{{{ "hostile": `)
	}, harmless),

	// --- Path parameters.
	pathParamClass("a path parameter over its maximum length is a 400 naming the parameter",
		func(p *openapi3.Parameter, _ string) []string {
			n := 1000
			if s := p.Schema.Value; s.MaxLength != nil {
				n = int(*s.MaxLength) + 1
			}
			return []string{strings.Repeat("z", n)}
		}, paramByItsSchema),
	pathParamClass("a path parameter at its maximum length names nothing",
		func(p *openapi3.Parameter, _ string) []string {
			// 'z', not the 'a' the body length classes create names with.
			if s := p.Schema.Value; s.MaxLength != nil {
				return []string{strings.Repeat("z", int(*s.MaxLength))}
			}
			return nil
		}, paramByItsSchema),
	pathParamClass("a NUL in a path parameter names nothing", func(_ *openapi3.Parameter, plain string) []string {
		return []string{"%00", url.PathEscape(plain) + "%00", "a%00b"}
	}, fixed(namesNothing)),
	// One reading of the path (contract, 2026-11-27): an encoded slash is either part of the
	// value, which names nothing, or a separator, which makes a path no route has.
	pathParamClass("an encoded slash in a path parameter is not found", func(_ *openapi3.Parameter, plain string) []string {
		return []string{"a%2Fb", "%2F", url.PathEscape(plain) + "%2F", "%2F" + url.PathEscape(plain), "a%5Cb"}
	}, fixed(notFoundAtAll)),
	pathParamClass("a double-encoded slash in a path parameter is not found", values("a%252Fb", "%252F", "%25"), fixed(notFoundAtAll)),
	// Dot segments are not resolved by entitle; where a client or proxy would resolve them, the
	// path left may exist with other methods, so 405 is right too. Never the other resource.
	pathParamClass("a dot segment as a path parameter is not found", values("..", ".", "%2e%2e", "%2E", ".%2e", "%2e"),
		fixed(want{status: []int{http.StatusNotFound, http.StatusMethodNotAllowed}, messages: []string{msgNotFound, msgRouteNotFound, "Method not allowed."}})),
	// An empty segment is no route; where it was the last, the path left ends in a slash, read
	// as the trailing-slash class reads it: no route, a parameter that names nothing, or a
	// path that answers other methods.
	// An empty last parameter leaves a trailing slash, which is read as the path without it,
	// as Coder's router reads it: a GET of ".../organizations/" is the list, and other methods
	// find no such route on the list.
	{name: "an empty path parameter is not found, or ends the path at the list", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, p := range r.pathParams {
			w := want{status: []int{http.StatusNotFound, http.StatusMethodNotAllowed}, messages: []string{msgNotFound, msgRouteNotFound, "Method not allowed."}}
			if r.method == http.MethodGet && strings.HasSuffix(r.template, "/{"+p.Name+"}") {
				// The list, or a path that answers only other methods (/users/me/keys: POST).
				w = want{status: []int{http.StatusOK, http.StatusMethodNotAllowed}}
			}
			cases = append(cases, hostileCase{
				name:  p.Name + "=",
				build: h.variant(r, func(t *testing.T, q *hostileRequest) { q.path = r.path(map[string]string{p.Name: ""}) }),
				want:  w,
			})
		}
		return cases
	}},
	pathParamClass("a look-alike path parameter names nothing", confusables, fixed(namesNothing)),
	pathParamClass("SQL in a path parameter names nothing", values(
		url.PathEscape("' OR 1=1 --"), url.PathEscape("x'; DROP TABLE users; --"), url.PathEscape(`" OR ""="`), "%25", "_",
	), fixed(namesNothing)),
	pathParamClass("invalid UTF-8 in a path parameter names nothing", values("%ff%fe", "%c0%af", "%ed%a0%80", "a%e2%82"), fixed(namesNothing)),
	pathParamClass("white space around a path parameter names nothing", func(_ *openapi3.Parameter, plain string) []string {
		return []string{"%20" + url.PathEscape(plain), url.PathEscape(plain) + "%20", url.PathEscape(plain) + "%09", "%0a" + url.PathEscape(plain)}
	}, fixed(namesNothing)),
	// A matrix parameter is part of the segment to entitle (it names nothing); a reader that
	// strips it would find the plain value, so the route's ordinary answer is right too.
	pathParamClass("a matrix parameter names nothing", func(_ *openapi3.Parameter, plain string) []string {
		return []string{url.PathEscape(plain) + ";hostile=1", url.PathEscape(plain) + ";"}
	}, fixed(want{status: []int{http.StatusNotFound}, messages: []string{msgNotFound, msgRouteNotFound}, orPlain: true})),
	// Integer look-alikes of license 1 (which exists): only a plain decimal integer is an id,
	// so none of these may reach license 1; nothing is deleted.
	pathParamClass("integer look-alikes of an existing id name nothing", func(_ *openapi3.Parameter, plain string) []string {
		if strings.Trim(plain, "0123456789") != "" {
			return nil
		}
		return []string{"1e0", "1.0", "0x1", "%201", "1%20", "1%00", "4294967297", "2147483649", "-4294967295", "1e400",
			"-0", "9223372036854775808", "１"}
	}, func(h *hostileEnv, p *openapi3.Parameter, raw string) want {
		if s := p.Schema.Value; isNumeric(s) {
			return paramByItsSchema(h, p, raw)
		}
		return namesNothing
	}),
	// A trailing slash is read as the same path without it, as Coder's router reads a
	// collection's (Coder's SDK asks for ".../members/"); never another resource.
	oneCase("a trailing slash is the same route or names nothing", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.path += "/"
	}, want{status: []int{http.StatusNotFound, http.StatusMethodNotAllowed}, messages: []string{msgRouteNotFound, msgNotFound, "Method not allowed."}, orPlain: true}),

	// --- Query strings.
	// Harmless: unknown query parameters are ignored, however many and however long.
	oneCase("a 32 KiB query string is ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.query = joinQuery(q.query, "hostile="+strings.Repeat("a", 32<<10))
	}, harmless),
	// net/http refuses a request line over its header limit (64 KiB) before entitle sees it.
	oneCase("a 100 KiB query string is refused by net/http with 431", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.query = joinQuery(q.query, "hostile="+strings.Repeat("a", 100<<10))
	}, want{status: []int{http.StatusRequestHeaderFieldsTooLarge}, fromNetHTTP: true}),
	oneCase("repeated unknown query parameters are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.query = joinQuery(q.query, strings.Repeat("hostile=1&", 500)+"hostile=2")
	}, harmless),
	oneCase("malformed query escapes are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.query = joinQuery(q.query, "hostile=%zz&%=1&&&==&a=%ff%fe&b=%")
	}, harmless),
	oneCase("NUL and SQL in unknown query parameters are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.query = joinQuery(q.query, "hostile=%00&x="+url.QueryEscape("' OR 1=1 --"))
	}, harmless),
	{name: "hostile values of declared query parameters are refused naming them or taken", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, p := range r.queryParams {
			for _, v := range []string{"1e400", "-0", "9223372036854775808", "1.5", "-1", "' OR 1=1 --", strings.Repeat("a", 10000), "%00", ""} {
				cases = append(cases, hostileCase{
					name: p.Name + "=" + abbreviate(v),
					build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
						q.query = joinQuery(q.query, p.Name+"="+url.QueryEscape(v))
					}),
					want: paramByItsSchema(h, p, url.PathEscape(v)),
				})
			}
			cases = append(cases, hostileCase{
				name: p.Name + " repeated",
				build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
					q.query = joinQuery(q.query, p.Name+"=1&"+p.Name+"=2")
				}),
				want: want{belowFiveHundred: true},
			})
		}
		return cases
	}},

	// --- Headers.
	// net/http refuses headers over its limit before entitle sees them: plain text, noted.
	oneCase("a header over the server's limit is refused by net/http with 431", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Hostile", strings.Repeat("a", 80<<10))
	}, want{status: []int{http.StatusRequestHeaderFieldsTooLarge}, fromNetHTTP: true}),
	// Harmless: headers the server does not read are ignored.
	oneCase("hundreds of unknown headers are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		for i := range 300 {
			q.header.Set(fmt.Sprintf("X-Hostile-%d", i), "hostile")
		}
	}, harmless),
	oneCase("a 16 KiB cookie of junk is ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Add("Cookie", "hostile="+strings.Repeat("a", 16<<10)+"; other=%00; =; ;;")
	}, harmless),
	oneCase("an Accept header for anything but JSON still gets JSON", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("Accept", "text/html, application/xml;q=0.9")
	}, want{likePlain: true, check: jsonAnswer}),
	oneCase("method override headers are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-HTTP-Method-Override", "DELETE")
		q.header.Set("X-HTTP-Method", "DELETE")
		q.header.Set("X-Method-Override", "PUT")
	}, harmless),
	oneCase("spoofed forwarding headers are ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Forwarded-For", "' OR 1=1 --, 999.999.999.999, ::ffff:zz")
		q.header.Set("X-Real-IP", "not an address")
		q.header.Set("Forwarded", `for="_hostile";proto=gopher`)
		q.header.Set("X-Forwarded-Host", "evil.example.com")
	}, harmless),
	oneCase("a foreign Host header is ignored", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("Host", "evil.example.com:666")
	}, harmless),
	// Go's client refuses to send CR, LF or other control characters in a header value, and
	// net/http refuses to read them, with a plain-text 400, before entitle sees the request.
	{name: "a control character inside a header value is refused by net/http", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		var cases []hostileCase
		for _, v := range []string{"a\rb", "a\x00b", "a\x01b", "a\x7fb"} {
			cases = append(cases, hostileCase{
				name:  strconv.Quote(v),
				raw:   true,
				build: h.variant(r, func(_ *testing.T, q *hostileRequest) { q.header.Set("X-Hostile", v) }),
				want:  want{status: []int{http.StatusBadRequest}, fromNetHTTP: true},
			})
		}
		return cases
	}},

	// --- Request ids: a client's id is kept only when it is short and plain.
	oneCase("a short plain X-Request-ID is kept", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Request-ID", "hostile-request-1")
	}, want{likePlain: true, check: requestIDKept}),
	oneCase("a long X-Request-ID is replaced", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Request-ID", strings.Repeat("a", 1024))
	}, want{likePlain: true, check: requestIDReplaced}),
	oneCase("a non-ASCII X-Request-ID is replaced", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Request-ID", "ïd-ünïcödé")
	}, want{likePlain: true, check: requestIDReplaced}),
	oneCase("an X-Request-ID with control characters is replaced", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Request-ID", "id\twith\ttabs")
	}, want{likePlain: true, check: requestIDReplaced}),
	oneCase("an X-Request-ID with spaces and quotes is replaced", anyRoute, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("X-Request-ID", `a" level=ERROR msg="forged`)
	}, want{likePlain: true, check: requestIDReplaced}),

	// --- Tokens: every bad shape, in each of the four places.
	oneCase("no token at all is signed out", securedOnly, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		withoutToken(q)
	}, signedOut),
	// Every shape in every place on the first secured route; on the others (which share one
	// authentication), each place with a shape in turn, so every shape meets every route.
	{name: "a bad token in any of the four places is signed out", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		n, ok := securedIndex(h.routes, r)
		if !ok {
			return nil
		}
		var cases []hostileCase
		for i, shape := range badTokenShapes {
			for j, place := range tokenPlaces {
				if n > 0 && (i+n)%len(badTokenShapes) != j && (i+n+len(tokenPlaces))%len(badTokenShapes) != j {
					continue
				}
				w := signedOut
				if shape.detail != "" {
					w.check = func(t *testing.T, _ hostileRequest, r reply) {
						assert.Contains(t, detailOf(envelope(t, r.Body)), shape.detail, "the 401 says why")
					}
				}
				cases = append(cases, hostileCase{
					name: shape.name + " " + place.name,
					build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
						withoutToken(q)
						q.token = shape.make(h)
						place.put(q, q.token)
					}),
					want: w,
				})
			}
		}
		return cases
	}},
	// Another user's valid token acts as that user: what the member gets, never a 5xx, never
	// signed out.
	{name: "another user's token acts as that user", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		n, ok := securedIndex(h.routes, r)
		if !ok {
			return nil
		}
		var cases []hostileCase
		for j, place := range tokenPlaces {
			if n > 0 && n%len(tokenPlaces) != j {
				continue // all four places on the first secured route, one in turn on the others
			}
			cases = append(cases, hostileCase{
				name: place.name,
				build: h.variant(r, func(t *testing.T, q *hostileRequest) {
					withoutToken(q)
					q.token = h.memberSession(t)
					place.put(q, q.token)
				}),
				want: want{belowFiveHundred: true, check: func(t *testing.T, _ hostileRequest, r reply) {
					assert.NotEqual(t, http.StatusUnauthorized, r.Status, "a valid token signs its user in: %s", r.Body)
				}},
			})
		}
		return cases
	}},
	// First match wins (contract): the header is read before the cookie.
	oneCase("a bad header token is not rescued by a good cookie", securedOnly, func(h *hostileEnv, r specRoute, t *testing.T, q *hostileRequest) {
		q.header.Set("Cookie", sessionCookieName+"="+q.token)
		q.header.Set(server.SessionHeader, "not-a-token")
	}, signedOut),
	oneCase("a good header token is not spoiled by a bad cookie", securedOnly, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		q.header.Set("Cookie", sessionCookieName+"=not-a-token")
	}, harmless),
	oneCase("an Authorization scheme other than Bearer is no token", securedOnly, func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) {
		tok := q.token
		withoutToken(q)
		q.token = tok
		q.header.Set("Authorization", "Basic "+tok)
	}, signedOut),
	// Harmless: a route that needs no sign-in never reads a token, good or bad.
	{name: "bad tokens on a route that needs no sign-in are ignored", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if r.secured {
			return nil
		}
		var cases []hostileCase
		for j, place := range tokenPlaces {
			if j != 0 && r.method != http.MethodGet {
				continue // every place on the reads, the header on the rest
			}
			cases = append(cases, hostileCase{
				name: "expired " + place.name,
				build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
					q.token = h.expired
					place.put(q, q.token)
				}),
				want: harmless,
			})
		}
		return cases
	}},

	// --- Methods.
	{name: "a method the path does not answer is 405 with Allow", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if !firstOfPath(r) {
			return nil
		}
		atPath := methodsAt(h.routes, r)
		var cases []hostileCase
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND", strings.ToLower(r.method)} {
			if slices.Contains(atPath, m) {
				continue
			}
			cases = append(cases, hostileCase{
				name: "as " + m,
				build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
					q.method = m
					q.body = nil
					q.header.Del("Content-Type")
				}),
				want: methodNotAllowed(r.methods, atPath),
			})
		}
		return cases
	}},
	// RFC 9110 lets OPTIONS answer with the methods or refuse it; either way Allow lists them.
	{name: "OPTIONS says which methods the path answers", cases: func(h *hostileEnv, r specRoute) []hostileCase {
		if !firstOfPath(r) {
			return nil
		}
		return []hostileCase{{
			build: h.variant(r, func(_ *testing.T, q *hostileRequest) {
				q.method = http.MethodOptions
				q.body = nil
				q.header.Del("Content-Type")
			}),
			want: want{status: []int{http.StatusOK, http.StatusNoContent, http.StatusMethodNotAllowed}, check: allowed(r.methods, methodsAt(h.routes, r))},
		}}
	}},
	// HEAD is GET without the body (RFC 9110).
	oneCase("HEAD on a GET route answers as GET without a body", func(r specRoute) bool { return r.method == http.MethodGet },
		func(_ *hostileEnv, _ specRoute, _ *testing.T, q *hostileRequest) { q.method = http.MethodHead }, harmless),
}

// The cases above run against the spec as it is; these check that the catalogue really aims
// at every route, so a route that slipped out of the walk fails here rather than silently.
func TestHostileCatalogueCoversEveryRoute(t *testing.T) {
	spec, err := server.LoadSpec()
	require.NoError(t, err)
	routes := specRoutes(t)
	h := &hostileEnv{spec: spec, routes: routes}
	total := 0
	for _, r := range routes {
		n := 0
		for _, class := range hostileClasses {
			n += len(class.cases(h, r))
		}
		assert.GreaterOrEqual(t, n, 20, "%s gets at least 20 hostile requests", r)
		total += n
	}
	t.Logf("%d classes, %d routes, %d cases", len(hostileClasses), len(routes), total)
}
