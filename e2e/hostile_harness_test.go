package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
	"entitle/session"
)

// This file is the harness shared by the hostile-input catalogue (hostile_test.go) and the
// escape walk (escapes_test.go): the routes of openapi.yaml, a server with every kind of
// credential the catalogue needs, raw requests sent exactly as written, and the checks every
// answer must pass (status, envelope, no leaks, no rows left behind).

// specRoute is one operation of openapi.yaml.
type specRoute struct {
	method      string
	template    string // under /api/v2, e.g. /organizations/{organization}
	operationID string
	pathParams  []*openapi3.Parameter // in the order they appear in template
	queryParams []*openapi3.Parameter
	body        *openapi3.Schema // nil when the operation takes no body
	secured     bool
	// methods are all the methods the template answers, for the 405 checks.
	methods []string
}

func (r specRoute) String() string { return r.method + " " + r.template }

// specRoutes walks the embedded spec, so a route added to openapi.yaml is covered without
// touching the tests.
func specRoutes(t *testing.T) []specRoute {
	t.Helper()
	doc, err := gen.GetSwagger()
	require.NoError(t, err)
	var routes []specRoute
	for _, template := range doc.Paths.Keys() {
		item := doc.Paths.Value(template)
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := ops[method]
			r := specRoute{method: method, template: template, operationID: op.OperationID, methods: methods}
			params := map[string]*openapi3.Parameter{}
			var order []string
			for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range list {
					key := ref.Value.In + ":" + ref.Value.Name
					if _, seen := params[key]; !seen {
						order = append(order, key)
					}
					params[key] = ref.Value
				}
			}
			for _, key := range order {
				p := params[key]
				switch p.In {
				case openapi3.ParameterInQuery:
					r.queryParams = append(r.queryParams, p)
				case openapi3.ParameterInPath:
					r.pathParams = append(r.pathParams, p)
				}
			}
			sort.Slice(r.pathParams, func(i, j int) bool {
				return strings.Index(template, "{"+r.pathParams[i].Name+"}") < strings.Index(template, "{"+r.pathParams[j].Name+"}")
			})
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					r.body = mt.Schema.Value
				}
			}
			if op.Security != nil {
				r.secured = len(*op.Security) > 0
			} else {
				r.secured = len(doc.Security) > 0
			}
			routes = append(routes, r)
		}
	}
	require.NotEmpty(t, routes)
	return routes
}

// plainParamValue is a well-formed value for a path parameter, chosen so that the route's
// answer does not change from one request to the next: the default organization (which
// cannot be deleted), the caller (`me`), and ids that name nothing.
func plainParamValue(p *openapi3.Parameter) string {
	switch p.Name {
	case "organization":
		return "default"
	case "user":
		return "me"
	}
	if s := p.Schema; s != nil && s.Value != nil {
		switch {
		case s.Value.Format == "uuid":
			return "7d9a1a5e-0000-4000-8000-000000000000"
		case s.Value.Type.Is("integer"), s.Value.Type.Is("number"):
			return "999999"
		}
	}
	if p.Name == "id" || strings.HasSuffix(p.Name, "id") {
		return "999999"
	}
	return "nothing-here"
}

// path fills the template: raw values (already escaped as the caller wants them on the
// wire) for the named parameters, plain values for the rest.
func (r specRoute) path(raw map[string]string) string {
	p := r.template
	for _, param := range r.pathParams {
		v, ok := raw[param.Name]
		if !ok {
			v = url.PathEscape(plainParamValue(param))
		}
		p = strings.Replace(p, "{"+param.Name+"}", v, 1)
	}
	return p
}

// bodyFields lists the properties of an object body, sorted.
func (r specRoute) bodyFields() []string {
	if r.body == nil || !r.body.Type.Is("object") {
		return nil
	}
	fields := make([]string, 0, len(r.body.Properties))
	for name := range r.body.Properties {
		fields = append(fields, name)
	}
	sort.Strings(fields)
	return fields
}

func (r specRoute) fieldSchema(field string) *openapi3.Schema {
	return r.body.Properties[field].Value
}

// hostileRequest is a request written exactly as it goes on the wire.
type hostileRequest struct {
	method string
	// path is under /api/v2 and already escaped; it goes on the request line as is.
	path string
	// rootPath, when set, replaces APIPrefix+path: a path from the server's root.
	rootPath string
	query    string
	header   http.Header
	body     []byte
	// token is the credential sent, so the answer can be checked for an echo of it.
	token string
}

func (q hostileRequest) target() string {
	p := server.APIPrefix + q.path
	if q.rootPath != "" {
		p = q.rootPath
	}
	if q.query != "" {
		p += "?" + q.query
	}
	return p
}

// Credentials used by the catalogue besides the owner's.
const (
	hostilePassword       = "hostile-password"
	hostileMemberUsername = "hostile-member"
	hostileMemberEmail    = hostileMemberUsername + "@example.com"
	// The sign-in route's plain body signs this user in; nothing else does, so the throttle
	// that refused sign-ins earn never stands in the way of the member's or the owner's.
	hostileLoginUsername = "hostile-login"
	hostileLoginEmail    = hostileLoginUsername + "@example.com"
)

// hostileEnv is one running server set up for the catalogue: an owner, a member, a license
// (id 1), an expired and a signed-out session, and the secrets no answer may carry.
type hostileEnv struct {
	t    *testing.T
	inst *testenv.Instance
	db   *sql.DB
	// dataState is dataStateQuery, prepared once: parsing it is most of what it costs.
	dataState *sql.Stmt
	client    *http.Client
	issuer    *testenv.Issuer
	logs      *testenv.LockedBuffer
	spec      *server.Spec
	routes    []specRoute
	owner     string
	expired   string
	revoked   string
	// secrets must never appear in an answer (beyond the login that issues a token).
	secrets []string
	seq     int
}

func startHostile(t *testing.T, db testenv.Database) *hostileEnv {
	t.Helper()
	cfg := db.NewConfig(t)
	// Refreshes always run, so the route's ordinary answer is the same every time.
	cfg.EntitlementsRefreshCooldown = 0
	issuer := testenv.NewIssuer(t, filepath.Join(t.TempDir(), "keys"), "hostile")
	cfg.LicenseKeysDir = issuer.KeysDir
	logs := &testenv.LockedBuffer{}
	inst := testenv.StartWithLogger(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	sqlDB, err := inst.Server().Store().SQLDB()
	require.NoError(t, err)
	spec, err := server.LoadSpec()
	require.NoError(t, err)
	h := &hostileEnv{
		spec:   spec,
		routes: specRoutes(t),
		t:      t,
		inst:   inst,
		db:     sqlDB,
		issuer: issuer,
		logs:   logs,
		client: &http.Client{
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		},
	}
	t.Cleanup(h.client.CloseIdleConnections)
	h.dataState, err = sqlDB.PrepareContext(context.Background(), dataStateQuery)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.dataState.Close() })

	h.owner = inst.SetupOwner(t)
	_, member := inst.CreateMember(t, h.owner, hostileMemberUsername)
	_, signIn := inst.CreateMember(t, h.owner, hostileLoginUsername)
	h.expired = inst.Login(t, testenv.OwnerEmail, testenv.OwnerPassword)
	expiredTok, err := session.Parse(h.expired)
	require.NoError(t, err)
	past := time.Now().Add(-time.Hour)
	require.NoError(t, inst.Server().Store().TouchAPIKey(context.Background(), expiredTok.ID, past, past))
	h.revoked = inst.Login(t, testenv.OwnerEmail, testenv.OwnerPassword)
	out, err := inst.ClientWithToken(t, h.revoked).LogoutWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, out.StatusCode(), string(out.Body))
	lic, err := inst.ClientWithToken(t, h.owner).AddLicenseWithResponse(context.Background(),
		gen.AddLicenseRequest{License: issuer.SignValid(t, license.Claims{})})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, lic.StatusCode(), string(lic.Body))
	require.EqualValues(t, 1, lic.JSON201.Id, "the integer look-alike cases aim at license 1")

	for _, tok := range []string{h.owner, member, signIn, h.expired, h.revoked} {
		h.addSecret(tok)
	}
	h.secrets = append(h.secrets, testenv.OwnerPassword, memberPassword, hostilePassword)
	t.Cleanup(h.checkLogs)
	return h
}

func (h *hostileEnv) addSecret(token string) {
	h.secrets = append(h.secrets, token)
	if _, secret, ok := strings.Cut(token, "-"); ok {
		h.secrets = append(h.secrets, secret)
	}
}

// checkLogs: no secret and no stack trace in any line the server logged.
func (h *hostileEnv) checkLogs() {
	logs := h.logs.String()
	for _, secret := range h.secrets {
		assert.NotContains(h.t, logs, secret, "the server logged a secret")
	}
	for _, marker := range []string{"goroutine ", ".go:"} {
		assert.NotContains(h.t, logs, marker, "the server logged a stack trace")
	}
	for line := range strings.Lines(logs) {
		if strings.HasPrefix(line, "level=ERROR") || strings.Contains(strings.SplitN(line, " msg=", 2)[0], "level=ERROR") {
			h.t.Errorf("the server logged an error: %s", line)
		}
	}
}

// freshOwnerSession signs the owner in again, for routes whose success ends the session.
func (h *hostileEnv) freshOwnerSession(t *testing.T) string {
	t.Helper()
	tok := h.inst.Login(t, testenv.OwnerEmail, testenv.OwnerPassword)
	h.addSecret(tok)
	return tok
}

// memberSession signs the member in afresh: "another user's token" must still be valid when
// it is sent, even after a case signed that user out.
func (h *hostileEnv) memberSession(t *testing.T) string {
	t.Helper()
	tok := h.inst.Login(t, hostileMemberEmail, memberPassword)
	h.addSecret(tok)
	return tok
}

// sessionEnding lists the operations whose success ends the session that made them.
var sessionEnding = map[string]bool{"logout": true}

// ownerToken is the owner's token for a request to r.
func (h *hostileEnv) ownerToken(t *testing.T, r specRoute) string {
	if sessionEnding[r.operationID] {
		return h.freshOwnerSession(t)
	}
	return h.owner
}

// plain is the route's ordinary request: valid path, valid body, the owner's token.
func (h *hostileEnv) plain(t *testing.T, r specRoute) hostileRequest {
	t.Helper()
	q := hostileRequest{method: r.method, path: r.path(nil), header: http.Header{}}
	if r.secured {
		q.token = h.ownerToken(t, r)
		q.header.Set(server.SessionHeader, q.token)
	}
	if r.body != nil {
		q.body = mustJSON(t, h.validBody(t, r))
		q.header.Set("Content-Type", "application/json")
	}
	return q
}

// validBody is a body the route accepts: the required fields with fresh values, so that
// creating twice never conflicts. Signing in signs in a user of its own.
func (h *hostileEnv) validBody(t *testing.T, r specRoute) map[string]any {
	t.Helper()
	if r.operationID == "loginWithPassword" {
		return map[string]any{"email": hostileLoginEmail, "password": memberPassword}
	}
	body := map[string]any{}
	for _, field := range r.body.Required {
		body[field] = h.validValue(t, field, r.fieldSchema(field))
	}
	return body
}

func (h *hostileEnv) validValue(t *testing.T, field string, s *openapi3.Schema) any {
	h.seq++
	switch field {
	case "name", "username", "token_name":
		return fmt.Sprintf("hostile%d", h.seq)
	case "email":
		return fmt.Sprintf("hostile%d@example.com", h.seq)
	case "password":
		return hostilePassword
	case "license":
		return h.issuer.SignValid(t, license.Claims{})
	}
	if s.Example != nil {
		return s.Example
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("string"):
		switch s.Format {
		case "uuid":
			return "7d9a1a5e-0000-4000-8000-000000000000"
		case "email":
			return fmt.Sprintf("hostile%d@example.com", h.seq)
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		}
		return strings.Repeat("a", max(int(s.MinLength), 1))
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 0
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("array"):
		items := []any{}
		if s.MinItems > 0 && s.Items != nil {
			items = append(items, h.validValue(t, "", s.Items.Value))
		}
		return items
	case s.Type.Is("object"):
		obj := map[string]any{}
		for _, f := range s.Required {
			obj[f] = h.validValue(t, f, s.Properties[f].Value)
		}
		return obj
	}
	return nil
}

// bodyWithRawField is the valid body with field set to raw, bytes that go into the JSON text
// exactly as given (even when they are not valid UTF-8 or not valid JSON).
func (h *hostileEnv) bodyWithRawField(t *testing.T, r specRoute, field string, raw []byte) []byte {
	t.Helper()
	const placeholder = "\"hostile-placeholder-4f1c\""
	body := h.validBody(t, r)
	if r.operationID == "loginWithPassword" && field != "email" {
		// Each refused sign-in is for an address of its own, so the per-email throttle
		// (10 failures) never trips; the per-address one (50) is far away.
		body["email"] = h.validValue(t, "email", r.fieldSchema("email"))
	}
	body[field] = json.RawMessage(placeholder)
	return bytes.Replace(mustJSON(t, body), []byte(placeholder), raw, 1)
}

// send writes q on a new request through the client and returns the answer.
func (h *hostileEnv) send(t *testing.T, q hostileRequest) reply {
	t.Helper()
	base, err := url.Parse(h.inst.URL)
	require.NoError(t, err)
	target := q.target()
	path, rawQuery, _ := strings.Cut(target, "?")
	u := &url.URL{Scheme: base.Scheme, Host: base.Host, Opaque: path, RawQuery: rawQuery}
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), q.method, h.inst.URL, body)
	require.NoError(t, err)
	req.URL = u // the request line goes out exactly as written, escapes and all
	for name, values := range q.header {
		if strings.EqualFold(name, "Host") {
			req.Host = values[0]
			continue
		}
		req.Header[name] = values
	}
	resp, err := h.client.Do(req)
	require.NoError(t, err, "%s %s", q.method, target)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// sendRaw writes q byte for byte on its own connection, for what Go's client refuses to send
// (control characters in header values).
func (h *hostileEnv) sendRaw(t *testing.T, q hostileRequest) reply {
	t.Helper()
	base, err := url.Parse(h.inst.URL)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", base.Host, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", q.method, q.target(), base.Host)
	for name, values := range q.header {
		for _, v := range values {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(q.body))
	b.Write(q.body)
	_, err = conn.Write(b.Bytes())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: q.method})
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// bodyLeakMarkers betray SQL, a stack trace or a panic; no answer may carry one. ("DELETE"
// alone is not one: a 405 names the method.)
// Markers are long enough that a random session token in a login answer never holds one.
var bodyLeakMarkers = []string{
	"SELECT ", "INSERT INTO", "DELETE FROM", "UPDATE \"", "SQLSTATE", "sqlite", "pgconn", "pgx:", "gorm.",
	"syntax error", "goroutine ", ".go:", "panic:", "runtime error",
}

// checkAnswer checks what every answer must be, whatever was asked: never a 5xx, the JSON
// envelope on errors (net/http's own refusals aside), no leak of SQL, stack traces or secrets.
func (h *hostileEnv) checkAnswer(t *testing.T, q hostileRequest, r reply, fromNetHTTP bool) {
	t.Helper()
	assert.Less(t, r.Status, 500, "never a 5xx for hostile input: %s", r.Body)
	text := string(r.Body)
	for _, marker := range bodyLeakMarkers {
		assert.NotContains(t, text, marker, "the answer leaks internals")
	}
	for _, secret := range h.secrets {
		assert.NotContains(t, text, secret, "the answer carries a secret")
	}
	if len(q.token) >= 8 {
		assert.NotContains(t, text, q.token, "the answer echoes the token sent")
	}
	if fromNetHTTP {
		return
	}
	if q.method == http.MethodHead {
		assert.Empty(t, r.Body, "a HEAD answer has no body")
		return
	}
	if r.Status >= 400 {
		assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"),
			"errors are JSON, not %q", r.Header.Get("Content-Type"))
		var fields map[string]json.RawMessage
		if assert.NoError(t, json.Unmarshal(r.Body, &fields), "the error is not the JSON envelope: %s", r.Body) {
			for name := range fields {
				assert.Contains(t, []string{"message", "detail", "validations"}, name, "the envelope has no field %q: %s", name, r.Body)
			}
			env := envelope(t, r.Body)
			assert.NotEmpty(t, env.Message, "the envelope has a message: %s", r.Body)
		}
	}
}

// dataState is what the catalogue watches in the database, read in one query (the catalogue
// reads it twice per request, so it must be cheap even under the race detector): the rows
// of users, organizations, members, licenses and sessions, and, for the tables whose rows
// an update changes, the latest update, so a refused request that rewrote a row shows too.
// (Users are counted only: signing in may stamp them; sessions grow with every sign-in.)
type dataState struct {
	values []any
}

var dataStateQuery = `SELECT
	(SELECT count(*) FROM users),
	(SELECT count(*) FROM organizations),
	(SELECT max(updated_at) FROM organizations),
	(SELECT count(*) FROM organization_members),
	(SELECT max(updated_at) FROM organization_members),
	(SELECT count(*) FROM licenses),
	(SELECT max(id) FROM licenses),
	(SELECT count(*) FROM api_keys)`

var dataStateNames = []string{
	"users", "organizations", "latest organization update", "members", "latest member update",
	"licenses", "highest license id", "sessions",
}

func (h *hostileEnv) snapshot(t *testing.T) dataState {
	t.Helper()
	values := make([]any, len(dataStateNames))
	ptrs := make([]any, len(values))
	for i := range values {
		ptrs[i] = &values[i]
	}
	require.NoError(t, h.dataState.QueryRowContext(context.Background()).Scan(ptrs...))
	for i, v := range values {
		if b, ok := v.([]byte); ok {
			values[i] = string(b)
		}
	}
	return dataState{values: values}
}

// requireUnchanged fails when a refused request left, changed or removed a row.
func requireUnchanged(t *testing.T, before, after dataState) {
	t.Helper()
	for i, name := range dataStateNames {
		if fmt.Sprint(before.values[i]) != fmt.Sprint(after.values[i]) {
			t.Errorf("a refused request changed the data: %s %v before, %v after", name, before.values[i], after.values[i])
		}
	}
}
