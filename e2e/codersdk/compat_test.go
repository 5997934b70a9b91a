// Package codersdk checks entitle against Coder's own clients: the response types below are
// declared as Coder's Go SDK (codersdk) and its public API reference define them, field by
// field, and every route of this slice is driven the way the SDK calls it. A missing header,
// route or field, or a field of an unexpected JSON type, fails the test.
package codersdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/license"
)

// kind is a JSON type, with the formats codersdk decodes into Go types.
type kind string

const (
	str      kind = "string"
	uuidKind kind = "uuid"
	timeKind kind = "time"
	boolean  kind = "bool"
	integer  kind = "int"
	object   kind = "object"
	array    kind = "array"
)

// shape is a codersdk type: each JSON field it declares (without omitempty) and its kind.
// Nested types are checked by their own shapes where the test reads them.
type shape map[string]kind

// The types of codersdk for this slice, as Coder's API reference lists their fields.
var (
	sdkResponse        = shape{"message": str}
	sdkBuildInfo       = shape{"external_url": str, "version": str, "dashboard_url": str, "workspace_proxy": boolean, "upgrade_message": str, "deployment_id": str, "telemetry": boolean, "agent_api_version": str, "provisioner_api_version": str}
	sdkCreateFirstUser = shape{"user_id": uuidKind, "organization_id": uuidKind}
	sdkLogin           = shape{"session_token": str}
	sdkUser            = shape{"id": uuidKind, "username": str, "name": str, "email": str, "avatar_url": str, "created_at": timeKind, "updated_at": timeKind, "last_seen_at": timeKind, "status": str, "login_type": str, "theme_preference": str, "organization_ids": array, "roles": array}
	sdkSlimRole        = shape{"name": str, "display_name": str}
	sdkGetUsers        = shape{"users": array, "count": integer}
	sdkOrganization    = shape{"id": uuidKind, "name": str, "display_name": str, "description": str, "icon": str, "created_at": timeKind, "updated_at": timeKind, "is_default": boolean}
	sdkOrgMember       = shape{"user_id": uuidKind, "organization_id": uuidKind, "created_at": timeKind, "updated_at": timeKind, "roles": array}
	sdkOrgMemberUser   = shape{"user_id": uuidKind, "organization_id": uuidKind, "created_at": timeKind, "updated_at": timeKind, "roles": array, "username": str, "name": str, "email": str, "avatar_url": str, "status": str, "login_type": str, "last_seen_at": timeKind, "user_created_at": timeKind, "user_updated_at": timeKind, "global_roles": array}
	sdkPaginatedMember = shape{"members": array, "count": integer}
	sdkGenerateAPIKey  = shape{"key": str}
	sdkAPIKey          = shape{"id": str, "user_id": uuidKind, "last_used": timeKind, "expires_at": timeKind, "created_at": timeKind, "updated_at": timeKind, "login_type": str, "scope": str, "token_name": str, "lifetime_seconds": integer}
	sdkAPIKeyWithOwner = shape{"id": str, "user_id": uuidKind, "last_used": timeKind, "expires_at": timeKind, "created_at": timeKind, "updated_at": timeKind, "login_type": str, "scope": str, "token_name": str, "lifetime_seconds": integer, "username": str}
	sdkTokenConfig     = shape{"max_token_lifetime": integer}
	sdkLicense         = shape{"id": integer, "uuid": uuidKind, "uploaded_at": timeKind, "claims": object}
	sdkEntitlements    = shape{"features": object, "warnings": array, "errors": array, "has_license": boolean, "trial": boolean, "require_telemetry": boolean, "refreshed_at": timeKind}
	sdkFeature         = shape{"entitlement": str, "enabled": boolean}
)

// sdkFeatureNames are codersdk's FeatureNames of the seed era and after.
var sdkFeatureNames = []string{"user_limit", "audit_log", "browser_only", "scim", "template_rbac",
	"high_availability", "multiple_external_auth", "external_provisioner_daemons", "appearance",
	"advanced_template_scheduling", "workspace_proxy", "user_role_management",
	"external_token_encryption", "workspace_batch_actions", "access_control",
	"control_shared_ports", "oauth2_provider", "custom_roles", "multiple_organizations",
	"workspace_prebuilds"}

// sdkClient calls the API as codersdk.Client does: JSON bodies, the Coder-Session-Token
// header, and the build version header checked on every response.
type sdkClient struct {
	t     *testing.T
	url   string
	token string
}

var semver = regexp.MustCompile(`^v\d+\.\d+\.\d+`)

// call sends one request and returns the status and the decoded JSON body (nil when empty).
func (c *sdkClient) call(method, path string, body any) (int, any) {
	c.t.Helper()
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+"/api/v2"+path, reader)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Coder-Session-Token", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	// codersdk refuses a server without it: "missing build version header, not a coder instance".
	assert.Regexp(c.t, semver, resp.Header.Get("X-Coder-Build-Version"), "%s %s: X-Coder-Build-Version", method, path)
	if len(raw) == 0 {
		return resp.StatusCode, nil
	}
	assert.Equal(c.t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), "%s %s", method, path)
	var decoded any
	require.NoError(c.t, json.Unmarshal(raw, &decoded), "%s %s: %s", method, path, raw)
	if resp.StatusCode >= 400 {
		// codersdk.Error decodes the envelope.
		requireShape(c.t, fmt.Sprintf("%s %s (%d)", method, path, resp.StatusCode), decoded, sdkResponse)
	}
	return resp.StatusCode, decoded
}

// expect calls and requires the status, returning the body.
func (c *sdkClient) expect(status int, method, path string, body any) any {
	c.t.Helper()
	got, decoded := c.call(method, path, body)
	require.Equal(c.t, status, got, "%s %s: %v", method, path, decoded)
	return decoded
}

// requireShape checks that v is an object with every field of s, each of its kind.
func requireShape(t *testing.T, what string, v any, s shape) map[string]any {
	t.Helper()
	obj, ok := v.(map[string]any)
	require.True(t, ok, "%s: want an object, got %T", what, v)
	for field, k := range s {
		value, present := obj[field]
		if !assert.True(t, present, "%s: field %q is missing", what, field) {
			continue
		}
		assert.NoError(t, checkKind(value, k), "%s: field %q", what, field)
	}
	return obj
}

func checkKind(v any, k kind) error {
	ok := false
	switch k {
	case str:
		_, ok = v.(string)
	case uuidKind:
		if s, isStr := v.(string); isStr {
			_, err := uuid.Parse(s)
			ok = err == nil && len(s) == 36
		}
	case timeKind:
		if s, isStr := v.(string); isStr {
			_, err := time.Parse(time.RFC3339Nano, s)
			ok = err == nil
		}
	case boolean:
		_, ok = v.(bool)
	case integer:
		f, isNum := v.(float64)
		ok = isNum && f == float64(int64(f))
	case object:
		_, ok = v.(map[string]any)
	case array:
		_, ok = v.([]any)
	}
	if !ok {
		return fmt.Errorf("want %s, got %T %v", k, v, v)
	}
	return nil
}

// requireEach checks every element of an array field against s.
func requireEach(t *testing.T, what string, v any, s shape) []map[string]any {
	t.Helper()
	items, ok := v.([]any)
	require.True(t, ok, "%s: want an array, got %T", what, v)
	out := make([]map[string]any, 0, len(items))
	for i, item := range items {
		out = append(out, requireShape(t, fmt.Sprintf("%s[%d]", what, i), item, s))
	}
	return out
}

// requireRoles checks a list of codersdk.SlimRole. Coder's db2sdk.SlimRole sets organization_id
// on an organization's roles (its id) and leaves it out of site roles (omitempty): clients
// tell the two apart by it.
func requireRoles(t *testing.T, what string, v any, organizationID string) {
	t.Helper()
	for i, role := range requireEach(t, what, v, sdkSlimRole) {
		got, present := role["organization_id"]
		if organizationID == "" {
			assert.False(t, present, "%s[%d] (%v): a site role names no organization", what, i, role["name"])
			continue
		}
		assert.Equal(t, organizationID, got, "%s[%d] (%v): organization_id", what, i, role["name"])
	}
}

func TestCodersSDKWorksAgainstEntitle(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		issuer := testenv.NewIssuer(t, t.TempDir(), "sdk-key")
		cfg := db.NewConfig(t)
		cfg.LicenseKeysDir = issuer.KeysDir
		inst := testenv.Start(t, cfg)
		t.Cleanup(http.DefaultClient.CloseIdleConnections)
		anon := &sdkClient{t: t, url: inst.URL}

		// coder login: HasFirstUser, CreateFirstUser, LoginWithPassword, User("me").
		anon.expect(http.StatusNotFound, http.MethodGet, "/users/first", nil)
		requireShape(t, "BuildInfo", anon.expect(http.StatusOK, http.MethodGet, "/buildinfo", nil), sdkBuildInfo)
		first := requireShape(t, "CreateFirstUserResponse", anon.expect(http.StatusCreated, http.MethodPost, "/users/first",
			map[string]any{"email": "admin@example.com", "username": "admin", "password": "sdk-password-1", "trial": false}), sdkCreateFirstUser)
		anon.expect(http.StatusOK, http.MethodGet, "/users/first", nil)
		login := requireShape(t, "LoginWithPasswordResponse", anon.expect(http.StatusCreated, http.MethodPost, "/users/login",
			map[string]any{"email": "admin@example.com", "password": "sdk-password-1"}), sdkLogin)
		owner := &sdkClient{t: t, url: inst.URL, token: login["session_token"].(string)}
		me := requireShape(t, "User", owner.expect(http.StatusOK, http.MethodGet, "/users/me", nil), sdkUser)
		requireRoles(t, "User.roles", me["roles"], "")
		assert.Equal(t, first["user_id"], me["id"])

		// Organizations, as `coder organizations` and every --org resolution use them.
		myOrgs := requireEach(t, "OrganizationsByUser", owner.expect(http.StatusOK, http.MethodGet, "/users/me/organizations", nil), sdkOrganization)
		require.Len(t, myOrgs, 1)
		requireShape(t, "OrganizationByUserAndName", owner.expect(http.StatusOK, http.MethodGet, "/users/me/organizations/"+myOrgs[0]["name"].(string), nil), sdkOrganization)
		org := requireShape(t, "CreateOrganization", owner.expect(http.StatusCreated, http.MethodPost, "/organizations",
			map[string]any{"name": "sdk-org", "display_name": "SDK Org", "description": "made by the SDK", "icon": "/emojis/1f3e2.png"}), sdkOrganization)
		assert.Equal(t, "SDK Org", org["display_name"])
		orgID := org["id"].(string)
		requireShape(t, "Organization", owner.expect(http.StatusOK, http.MethodGet, "/organizations/"+orgID, nil), sdkOrganization)
		requireShape(t, "OrganizationByName", owner.expect(http.StatusOK, http.MethodGet, "/organizations/sdk-org", nil), sdkOrganization)
		requireEach(t, "Organizations", owner.expect(http.StatusOK, http.MethodGet, "/organizations", nil), sdkOrganization)
		requireShape(t, "UpdateOrganization", owner.expect(http.StatusOK, http.MethodPatch, "/organizations/"+orgID,
			map[string]any{"display_name": "SDK Organization"}), sdkOrganization)

		// Users: CreateUserWithOrgs (organization_ids) and the seed era's organization_id.
		member := requireShape(t, "CreateUser", owner.expect(http.StatusCreated, http.MethodPost, "/users",
			map[string]any{"email": "member@example.com", "username": "member", "name": "Member", "password": "sdk-password-2", "login_type": "password",
				"organization_ids": []string{orgID}}), sdkUser)
		seedEra := requireShape(t, "CreateUser (seed era)", owner.expect(http.StatusCreated, http.MethodPost, "/users",
			map[string]any{"email": "seed@example.com", "username": "seed", "password": "sdk-password-3", "organization_id": orgID}), sdkUser)
		assert.Equal(t, []any{orgID}, seedEra["organization_ids"], "organization_id is honoured")
		users := requireShape(t, "GetUsersResponse", owner.expect(http.StatusOK, http.MethodGet, "/users?q=status:active&limit=25", nil), sdkGetUsers)
		requireEach(t, "GetUsersResponse.users", users["users"], sdkUser)

		// Members. Their organization roles name the organization, their site roles none.
		memberID := member["id"].(string)
		requireShape(t, "User (by id)", owner.expect(http.StatusOK, http.MethodGet, "/users/"+memberID, nil), sdkUser)
		requireShape(t, "User (by username)", owner.expect(http.StatusOK, http.MethodGet, "/users/member", nil), sdkUser)
		// codersdk's OrganizationMembers asks for ".../members/", with the slash.
		for _, m := range requireEach(t, "OrganizationMembers", owner.expect(http.StatusOK, http.MethodGet, "/organizations/"+orgID+"/members/", nil), sdkOrgMemberUser) {
			requireRoles(t, "OrganizationMembers.roles", m["roles"], orgID)
			requireRoles(t, "OrganizationMembers.global_roles", m["global_roles"], "")
		}
		page := requireShape(t, "PaginatedMembersResponse", owner.expect(http.StatusOK, http.MethodGet, "/organizations/"+orgID+"/paginated-members?limit=2", nil), sdkPaginatedMember)
		for _, m := range requireEach(t, "PaginatedMembersResponse.members", page["members"], sdkOrgMemberUser) {
			requireRoles(t, "PaginatedMembersResponse.members.roles", m["roles"], orgID)
		}
		updated := requireShape(t, "UpdateOrganizationMemberRoles", owner.expect(http.StatusOK, http.MethodPut, "/organizations/"+orgID+"/members/"+memberID+"/roles",
			map[string]any{"roles": []string{"organization-admin"}}), sdkOrgMember)
		requireRoles(t, "UpdateOrganizationMemberRoles.roles", updated["roles"], orgID)
		// codersdk.UpdateRoles{} (no roles) marshals as {"roles":null}: every role given is taken away.
		cleared := requireShape(t, "UpdateOrganizationMemberRoles (none)", owner.expect(http.StatusOK, http.MethodPut, "/organizations/"+orgID+"/members/"+memberID+"/roles",
			map[string]any{"roles": nil}), sdkOrgMember)
		assert.NotContains(t, fmt.Sprint(cleared["roles"]), "organization-admin", "UpdateRoles{} takes the admin role away")
		owner.expect(http.StatusNoContent, http.MethodDelete, "/organizations/"+orgID+"/members/"+memberID, nil)
		rejoined := requireShape(t, "PostOrganizationMember", owner.expect(http.StatusOK, http.MethodPost, "/organizations/"+orgID+"/members/"+memberID, nil), sdkOrgMember)
		requireRoles(t, "PostOrganizationMember.roles", rejoined["roles"], orgID)

		// Tokens: `coder tokens create/list/remove`.
		requireShape(t, "GenerateAPIKeyResponse", owner.expect(http.StatusCreated, http.MethodPost, "/users/me/keys", nil), sdkGenerateAPIKey)
		token := requireShape(t, "CreateToken", owner.expect(http.StatusCreated, http.MethodPost, "/users/me/keys/tokens",
			map[string]any{"token_name": "sdk-token", "lifetime": int64(24 * time.Hour), "scope": "all"}), sdkGenerateAPIKey)
		keyID := strings.SplitN(token["key"].(string), "-", 2)[0]
		requireEach(t, "Tokens", owner.expect(http.StatusOK, http.MethodGet, "/users/me/keys/tokens", nil), sdkAPIKeyWithOwner)
		requireEach(t, "Tokens (include_all)", owner.expect(http.StatusOK, http.MethodGet, "/users/me/keys/tokens?include_all=true", nil), sdkAPIKeyWithOwner)
		requireShape(t, "APIKeyByName", owner.expect(http.StatusOK, http.MethodGet, "/users/me/keys/tokens/sdk-token", nil), sdkAPIKey)
		requireShape(t, "APIKeyByID", owner.expect(http.StatusOK, http.MethodGet, "/users/me/keys/"+keyID, nil), sdkAPIKey)
		requireShape(t, "TokenConfig", owner.expect(http.StatusOK, http.MethodGet, "/users/me/keys/tokens/tokenconfig", nil), sdkTokenConfig)
		tokenClient := &sdkClient{t: t, url: inst.URL, token: token["key"].(string)}
		requireShape(t, "User via token", tokenClient.expect(http.StatusOK, http.MethodGet, "/users/me", nil), sdkUser)
		owner.expect(http.StatusNoContent, http.MethodDelete, "/users/me/keys/"+keyID, nil)
		tokenClient.expect(http.StatusUnauthorized, http.MethodGet, "/users/me", nil)

		// Licenses and entitlements: `coder licenses add/list/delete`, `coder features list`.
		now := time.Now()
		lic := issuer.SignValid(t, license.Claims{AllFeatures: true, Features: map[string]int64{"user_limit": 100},
			LicenseExpires: jwt.NewNumericDate(now.Add(60 * 24 * time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(67 * 24 * time.Hour))})
		added := requireShape(t, "AddLicense", owner.expect(http.StatusCreated, http.MethodPost, "/licenses", map[string]any{"license": lic}), sdkLicense)
		claims := added["claims"].(map[string]any)
		assert.NoError(t, checkKind(claims["features"], object), "the CLI and web UI read claims.features as an object")
		requireEach(t, "Licenses", owner.expect(http.StatusOK, http.MethodGet, "/licenses", nil), sdkLicense)
		ent := requireShape(t, "Entitlements", anon.expect(http.StatusOK, http.MethodGet, "/entitlements", nil), sdkEntitlements)
		features := ent["features"].(map[string]any)
		for _, name := range sdkFeatureNames {
			if assert.Contains(t, features, name) {
				requireShape(t, "Feature "+name, features[name], sdkFeature)
			}
		}
		requireShape(t, "RefreshEntitlements", owner.expect(http.StatusCreated, http.MethodPost, "/licenses/refresh-entitlements", nil), sdkResponse)
		owner.expect(http.StatusOK, http.MethodDelete, fmt.Sprintf("/licenses/%d", int64(added["id"].(float64))), nil)

		// Deleting an organization, then logout.
		requireShape(t, "DeleteOrganization", owner.expect(http.StatusOK, http.MethodDelete, "/organizations/"+orgID, nil), sdkResponse)
		owner.expect(http.StatusOK, http.MethodPost, "/users/logout", nil)
		owner.expect(http.StatusUnauthorized, http.MethodGet, "/users/me", nil)
	})
}
