package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// Messages the contract fixes word for word.
const (
	msgNotFound         = "Resource not found or you do not have access to this resource"
	msgValidationFailed = "Validation failed."
	msgInvalidJSON      = "Request body must be valid JSON."
	msgSignedOut        = "You are signed out or your session has expired. Please sign in again to continue."
	msgBadLogin         = "Incorrect email or password."
	msgUserExists       = "User already exists."
	msgOrgExists        = "Organization already exists with that name."
	msgRouteNotFound    = "Route not found."
	defaultOrgName      = "first-organization"
	memberPassword      = "member-password"
	sessionCookieName   = "coder_session_token"
	ownerRole           = "owner"
	memberRole          = "member"
	orgAdminRole        = "organization-admin"
	orgMemberRole       = "organization-member"
	loginPath           = "/users/login"
	tokenPatternSource  = `^[0-9A-Za-z]{10}-[0-9A-Za-z]{22}$`
	timestampPatternSrc = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$`
)

var (
	tokenPattern     = regexp.MustCompile(tokenPatternSource)
	timestampPattern = regexp.MustCompile(timestampPatternSrc)
	// leakMarkers must never appear in any response body: they betray SQL, stack traces or panics.
	leakMarkers = []string{"SELECT", "INSERT", "sql", "goroutine", "panic"}
	// randomValues are what the server makes at random (session tokens, UUIDs): a leak marker
	// inside one is chance, not a leak (a session token "3lIhsqlmWj-..." failed a CI run).
	randomValues = regexp.MustCompile(`[0-9A-Za-z]{10}-[0-9A-Za-z]{22}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
)

// deployment is one running server plus the secrets it has handed out, so that every response
// the test receives can be checked for leaks: no SQL, no stack traces, and no session token
// outside the login response that issues it.
type deployment struct {
	t       *testing.T
	inst    *testenv.Instance
	secrets *secretBook
}

// secretBook is the session tokens a deployment has issued, shared by every view of it.
type secretBook struct {
	mu      sync.Mutex
	secrets []string
}

// startDeployment starts a server on a fresh database of kind db.
func startDeployment(t *testing.T, db testenv.Database) *deployment {
	t.Helper()
	return watch(t, testenv.StartOn(t, db))
}

// watch wraps an instance that is already running.
func watch(t *testing.T, inst *testenv.Instance) *deployment {
	return &deployment{t: t, inst: inst, secrets: &secretBook{}}
}

// in is the same deployment reporting to t, for use inside a subtest.
func (d *deployment) in(t *testing.T) *deployment {
	return &deployment{t: t, inst: d.inst, secrets: d.secrets}
}

// Do implements gen.HttpRequestDoer: the spec check of testenv, then the leak check.
func (d *deployment) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.inst.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	d.checkLeaks(req, body)
	return resp, nil
}

func (d *deployment) checkLeaks(req *http.Request, body []byte) {
	d.t.Helper()
	text := string(body)
	withoutRandom := randomValues.ReplaceAllString(text, "")
	for _, marker := range leakMarkers {
		if strings.Contains(withoutRandom, marker) {
			d.t.Errorf("%s %s: response body contains %q: %s", req.Method, req.URL.Path, marker, text)
		}
	}
	if strings.HasSuffix(req.URL.Path, loginPath) {
		return
	}
	d.secrets.mu.Lock()
	secrets := append([]string(nil), d.secrets.secrets...)
	d.secrets.mu.Unlock()
	for _, secret := range secrets {
		if strings.Contains(text, secret) {
			d.t.Errorf("%s %s: response body contains a session token: %s", req.Method, req.URL.Path, text)
		}
	}
}

func (d *deployment) remember(token string) {
	d.secrets.mu.Lock()
	defer d.secrets.mu.Unlock()
	d.secrets.secrets = append(d.secrets.secrets, token)
	if _, secret, ok := strings.Cut(token, "-"); ok && secret != "" {
		d.secrets.secrets = append(d.secrets.secrets, secret)
	}
}

// anon is a client that sends no token.
func (d *deployment) anon() *gen.ClientWithResponses {
	d.t.Helper()
	c, err := gen.NewClientWithResponses(d.inst.APIURL(), gen.WithHTTPClient(d))
	require.NoError(d.t, err)
	return c
}

// as is a client that sends token in the Coder-Session-Token header.
func (d *deployment) as(token string) *gen.ClientWithResponses {
	d.t.Helper()
	c, err := gen.NewClientWithResponses(d.inst.APIURL(), gen.WithHTTPClient(d),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set(server.SessionHeader, token)
			return nil
		}))
	require.NoError(d.t, err)
	return c
}

// setupOwner creates the first user and signs in as them.
func (d *deployment) setupOwner() string {
	d.t.Helper()
	created, err := d.anon().CreateFirstUserWithResponse(context.Background(), gen.CreateFirstUserRequest{
		Email: testenv.OwnerEmail, Username: testenv.OwnerUsername, Password: testenv.OwnerPassword,
	})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, created.StatusCode(), string(created.Body))
	return d.login(testenv.OwnerEmail, testenv.OwnerPassword)
}

// login signs in and returns the session token.
func (d *deployment) login(email, password string) string {
	d.t.Helper()
	resp, err := d.anon().LoginWithPasswordWithResponse(context.Background(),
		gen.LoginWithPasswordRequest{Email: gen.Email(email), Password: password})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	d.remember(resp.JSON201.SessionToken)
	return resp.JSON201.SessionToken
}

// createMember has the owner create a member (in the default organization unless orgIDs are
// given) and signs in as them.
func (d *deployment) createMember(ownerToken, username string, orgIDs ...uuid.UUID) (gen.User, string) {
	d.t.Helper()
	req := gen.CreateUserRequest{Email: gen.Email(username + "@example.com"), Username: username, Password: memberPassword}
	if len(orgIDs) > 0 {
		ids := append([]uuid.UUID(nil), orgIDs...)
		req.OrganizationIds = &ids
	}
	resp, err := d.as(ownerToken).CreateUserWithResponse(context.Background(), req)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201, d.login(username+"@example.com", memberPassword)
}

// createOrganization has token's user create an organization, which must succeed.
func (d *deployment) createOrganization(token, name string) gen.Organization {
	d.t.Helper()
	resp, err := d.as(token).CreateOrganizationWithResponse(context.Background(), gen.CreateOrganizationRequest{Name: name})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201
}

// defaultOrganization fetches the default organization as token's user.
func (d *deployment) defaultOrganization(token string) gen.Organization {
	d.t.Helper()
	resp, err := d.as(token).GetOrganizationWithResponse(context.Background(), "default")
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

// startWithOrganization starts a deployment whose owner has made the organization name, for a
// test that then checks what bad input does not change: the owner's token, and the list of
// organizations as it stands.
func startWithOrganization(t *testing.T, db testenv.Database, name string) (d *deployment, token string, before []byte) {
	t.Helper()
	d = startDeployment(t, db)
	token = d.setupOwner()
	d.createOrganization(token, name)
	return d, token, d.listOrganizations(token)
}

// listOrganizations returns the raw body of GET /organizations as token's user.
func (d *deployment) listOrganizations(token string) []byte {
	d.t.Helper()
	resp, err := d.as(token).ListOrganizationsWithResponse(context.Background(), nil)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return resp.Body
}

// requireOrganizationsUnchanged checks that GET /organizations, as token's user, still
// returns exactly before.
func (d *deployment) requireOrganizationsUnchanged(token string, before []byte) {
	d.t.Helper()
	require.Equal(d.t, string(before), string(d.listOrganizations(token)), "the organizations changed")
}

// reply is a raw response.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// requestEdit changes a raw request before it is sent.
type requestEdit func(*http.Request)

func withHeader(name, value string) requestEdit {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func withSessionHeader(token string) requestEdit { return withHeader(server.SessionHeader, token) }

func withCookie(token string) requestEdit {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookieName, Value: token}) }
}

func withQueryToken(token string) requestEdit {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set(sessionCookieName, token)
		r.URL.RawQuery = q.Encode()
	}
}

func withBearer(token string) requestEdit { return withHeader("Authorization", "Bearer "+token) }

// send makes a raw request. path is under /api/v2 unless it starts with "/!", in which case
// the rest is a path from the server's root.
func (d *deployment) send(method, path string, body []byte, edits ...requestEdit) reply {
	d.t.Helper()
	target := d.inst.APIURL() + path
	if rest, ok := strings.CutPrefix(path, "/!"); ok {
		target = d.inst.URL + "/" + rest
	}
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, reader)
	require.NoError(d.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, edit := range edits {
		edit(req)
	}
	resp, err := d.Do(req)
	require.NoError(d.t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// requireError checks an error response's status and exact message and returns its envelope.
func requireError(t *testing.T, status int, body []byte, wantStatus int, wantMessage string) gen.Response {
	t.Helper()
	require.Equal(t, wantStatus, status, "body: %s", body)
	env := envelope(t, body)
	require.Equal(t, wantMessage, env.Message, "body: %s", body)
	return env
}

// requireErrorSentence checks an error whose message the contract does not fix: the status,
// and a message that is a capitalised sentence.
func requireErrorSentence(t *testing.T, status int, body []byte, wantStatus int) gen.Response {
	t.Helper()
	require.Equal(t, wantStatus, status, "body: %s", body)
	env := envelope(t, body)
	require.NotEmpty(t, env.Message, "body: %s", body)
	first := []rune(env.Message)[0]
	assert.True(t, unicode.IsUpper(first), "message should be a capitalised sentence: %q", env.Message)
	return env
}

// requireValidation checks a 400 "Validation failed." naming field among its validations.
func requireValidation(t *testing.T, status int, body []byte, field string) gen.Response {
	t.Helper()
	env := requireError(t, status, body, http.StatusBadRequest, msgValidationFailed)
	require.Contains(t, validationFields(env), field, "body: %s", body)
	return env
}

func envelope(t *testing.T, body []byte) gen.Response {
	t.Helper()
	var env gen.Response
	require.NoError(t, json.Unmarshal(body, &env), "error body is not the JSON envelope: %s", body)
	return env
}

func validationFields(env gen.Response) []string {
	if env.Validations == nil {
		return nil
	}
	fields := make([]string, 0, len(*env.Validations))
	for _, v := range *env.Validations {
		fields = append(fields, v.Field)
	}
	return fields
}

func detailOf(env gen.Response) string {
	if env.Detail == nil {
		return ""
	}
	return *env.Detail
}

// rawString returns the raw JSON text of a string field of a JSON object, without decoding it,
// so that timestamps can be compared byte for byte.
func rawString(t *testing.T, body []byte, field string) string {
	t.Helper()
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &fields), "body: %s", body)
	raw, ok := fields[field]
	require.True(t, ok, "field %q missing from %s", field, body)
	var s string
	require.NoError(t, json.Unmarshal(raw, &s), "field %q is not a string in %s", field, body)
	return s
}

// rawObjects splits a JSON array of objects into the objects' raw texts.
func rawObjects(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	var items []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &items), "body: %s", body)
	return items
}

func requireTimestamp(t *testing.T, value string) {
	t.Helper()
	require.Regexp(t, timestampPattern, value, "timestamps are RFC 3339 in UTC with at most 6 fractional digits")
}

func roleNames(roles []gen.SlimRole) []string {
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		names = append(names, r.Name)
	}
	return names
}

func organizationNames(orgs []gen.Organization) []string {
	names := make([]string, 0, len(orgs))
	for _, o := range orgs {
		names = append(names, o.Name)
	}
	return names
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func decodeOrganizations(t *testing.T, body []byte) []gen.Organization {
	t.Helper()
	var orgs []gen.Organization
	require.NoError(t, json.Unmarshal(body, &orgs), "body: %s", body)
	return orgs
}

// withField copies a valid request body with one field set to value, or left out when value is nil.
func withField(valid map[string]any, field string, value any) map[string]any {
	body := make(map[string]any, len(valid))
	for k, v := range valid {
		body[k] = v
	}
	if value == nil {
		delete(body, field)
	} else {
		body[field] = value
	}
	return body
}
