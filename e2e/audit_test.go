package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gormsqlite "github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

// Coder's words for the audit log, word for word.
const (
	msgInvalidAuditQuery = "Invalid audit search query."
	// goUserAgent is the User-Agent the generated client sends.
	goUserAgent = "Go-http-client/1.1"
)

// startAudited starts a deployment whose server trusts issuer's key, with whatever else
// configure (if any) sets.
func startAudited(t *testing.T, db testenv.Database, configure ...func(*server.Config)) (*deployment, *testenv.Issuer) {
	t.Helper()
	issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := db.NewConfig(t)
	cfg.LicenseKeysDir = issuer.KeysDir
	for _, c := range configure {
		c(&cfg)
	}
	return watch(t, testenv.Start(t, cfg)), issuer
}

// rememberWhole adds a secret that must never appear in a response, as it is.
func (d *deployment) rememberWhole(secret string) {
	d.secrets.mu.Lock()
	defer d.secrets.mu.Unlock()
	d.secrets.secrets = append(d.secrets.secrets, secret)
}

// addAuditLicense uploads a license granting audit_log, which must succeed, and returns it and
// its token (remembered as a secret: no later response may carry it).
func (d *deployment) addAuditLicense(owner string, issuer *testenv.Issuer) (gen.License, string) {
	d.t.Helper()
	token := issuer.SignValid(d.t, license.Claims{Features: map[string]int64{"audit_log": 1}})
	resp, err := d.as(owner).AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	d.rememberWhole(token)
	return *resp.JSON201, token
}

// waitForAuditLog waits until /entitlements shows audit_log enabled (or not).
func (d *deployment) waitForAuditLog(enabled bool) {
	d.t.Helper()
	eventually(d.t, 5*time.Second, fmt.Sprintf("audit_log enabled=%v", enabled), func() (bool, string) {
		resp, err := d.anon().GetEntitlementsWithResponse(context.Background(), nil)
		require.NoError(d.t, err)
		f := resp.JSON200.Features["audit_log"]
		return f.Enabled == enabled, fmt.Sprintf("%+v", f)
	})
}

// auditLogs reads up to 1000 entries the query selects, as token's user, which must succeed.
func (d *deployment) auditLogs(token, q string) gen.AuditLogResponse {
	d.t.Helper()
	limit := "1000"
	resp, err := d.as(token).GetAuditLogsWithResponse(context.Background(), &gen.GetAuditLogsParams{Q: &q, Limit: &limit})
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

// auditQuery sends GET /audit?<query> as token's user.
func (d *deployment) auditQuery(token, query string) reply {
	d.t.Helper()
	return d.send(http.MethodGet, "/audit?"+query, nil, withSessionHeader(token))
}

// auditCounts scrapes entitle_audit_entries_total from inst: "action resource_type" -> count.
func auditCounts(t *testing.T, inst *testenv.Instance) map[string]float64 {
	t.Helper()
	counts := map[string]float64{}
	for series, v := range scrapeMetrics(t, inst) {
		if m := auditSeriesRE.FindStringSubmatch(series); m != nil {
			counts[m[1]+" "+m[2]] = v
		}
	}
	return counts
}

var auditSeriesRE = regexp.MustCompile(`^entitle_audit_entries_total\{action="([^"]*)",resource_type="([^"]*)"\}$`)

func targets(entries []gen.AuditLog) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, string(e.Action)+" "+string(e.ResourceType)+" "+e.ResourceTarget)
	}
	return out
}

func TestTheAuditLogRecordsOnlyWhileAuditLogIsEnabled(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, issuer := startAudited(t, db)
		owner := d.setupOwner()
		d.createOrganization(owner, "before")
		d.createMember(owner, "early")
		assert.Empty(t, d.auditLogs(owner, "").AuditLogs, "nothing is recorded without audit_log")
		assert.Empty(t, auditCounts(t, d.inst), "nothing is counted without audit_log")

		lic, _ := d.addAuditLicense(owner, issuer)
		assert.Empty(t, d.auditLogs(owner, "").AuditLogs, "the upload that turns audit_log on was made while it was off")
		assert.Empty(t, auditCounts(t, d.inst))

		d.createOrganization(owner, "during")
		assert.Equal(t, []string{"create organization during"}, targets(d.auditLogs(owner, "").AuditLogs))
		assert.Equal(t, map[string]float64{"create organization": 1}, auditCounts(t, d.inst), "an entry recorded is counted")

		resp, err := d.as(owner).DeleteLicenseWithResponse(context.Background(), strconv.Itoa(int(lic.Id)))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		d.waitForAuditLog(false)
		d.createOrganization(owner, "after")
		page := d.auditLogs(owner, "")
		assert.Equal(t, []string{"delete license " + strconv.Itoa(int(lic.Id)), "create organization during"}, targets(page.AuditLogs),
			"the deletion that turned audit_log off was made while it was on")
		assert.EqualValues(t, 2, page.Count)
		assert.Equal(t, map[string]float64{"create organization": 1, "delete license": 1}, auditCounts(t, d.inst),
			"the counter moves with the log, and no further once audit_log is off")
	})
}

// wantEntry is what one audited request must record.
type wantEntry struct {
	action      gen.AuditAction
	resource    gen.AuditResourceType
	target      string
	status      int32
	user        string // the acting user's username; empty for no one
	resourceID  uuid.UUID
	orgID       uuid.UUID
	description string
	// diff holds fields whose change is known exactly; diffKeys, when set, is every field.
	diff     map[string]gen.AuditDiffField
	diffKeys []string
	secrets  []string
	// created: the resource's id (and a license's target) exist only once do has run, so the
	// caller checks them on the entry check returns.
	created bool
}

func TestEveryAuditedChangeIsRecordedOnce(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, issuer := startAudited(t, db)
		ctx := context.Background()
		owner := d.setupOwner()
		ownerUser := d.requireSignedIn(owner)
		d.addAuditLicense(owner, issuer)
		start := time.Now()

		// check runs do, which must add exactly one entry, and compares that entry with want.
		seen := map[uuid.UUID]bool{}
		check := func(t *testing.T, do func(d *deployment), want wantEntry) gen.AuditLog {
			t.Helper()
			d := d.in(t)
			before := d.auditLogs(owner, "").Count
			do(d)
			page := d.auditLogs(owner, "")
			require.EqualValues(t, before+1, page.Count, "exactly one new entry: %v", targets(page.AuditLogs))
			e := page.AuditLogs[0]
			assert.False(t, seen[e.Id], "each entry has an id of its own")
			seen[e.Id] = true
			assert.Equal(t, want.action, e.Action)
			assert.Equal(t, want.resource, e.ResourceType)
			if !want.created {
				assert.Equal(t, want.target, e.ResourceTarget)
				assert.Equal(t, want.orgID, e.OrganizationId)
			}
			assert.Equal(t, want.status, e.StatusCode)
			assert.Equal(t, want.description, e.Description)
			if want.resourceID != uuid.Nil {
				assert.Equal(t, want.resourceID, e.ResourceId)
			}
			if want.user == "" {
				assert.Nil(t, e.User)
			} else if assert.NotNil(t, e.User) {
				assert.Equal(t, want.user, e.User.Username)
			}
			assert.Equal(t, "127.0.0.1", e.Ip)
			assert.Equal(t, goUserAgent, e.UserAgent)
			assert.NotEqual(t, uuid.Nil, e.RequestId)
			assert.WithinRange(t, e.Time, start.Add(-time.Second), time.Now().Add(time.Second))
			for field, change := range want.diff {
				assert.Equal(t, change, e.Diff[field], "diff of %s", field)
			}
			if want.diffKeys != nil {
				keys := make([]string, 0, len(e.Diff))
				for k := range e.Diff {
					keys = append(keys, k)
				}
				assert.ElementsMatch(t, want.diffKeys, keys)
			}
			for _, field := range want.secrets {
				assert.Equal(t, gen.AuditDiffField{Secret: true}, e.Diff[field], "%s is shown only as a secret", field)
			}
			return e
		}

		var acme gen.Organization
		t.Run("creating an organization", func(t *testing.T) {
			e := check(t, func(d *deployment) { acme = d.createOrganization(owner, "acme") }, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeOrganization, status: 201, created: true,
				user: "owner", description: "{user} created organization {target}",
				diff:     map[string]gen.AuditDiffField{"name": {New: "acme"}, "is_default": {New: false}},
				diffKeys: []string{"id", "name", "display_name", "description", "icon", "is_default"},
			})
			assert.Equal(t, "acme", e.ResourceTarget)
			assert.Equal(t, acme.Id, e.ResourceId)
			assert.Equal(t, acme.Id, e.OrganizationId)
			assert.Equal(t, gen.AuditDiffField{New: acme.Id.String()}, e.Diff["id"])
		})
		t.Run("updating an organization records only what changed", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).UpdateOrganizationWithResponse(ctx, "acme", gen.UpdateOrganizationRequest{DisplayName: name("Acme Corp")})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			}, wantEntry{
				action: gen.Write, resource: gen.AuditResourceTypeOrganization, target: "acme", status: 200,
				user: "owner", resourceID: acme.Id, orgID: acme.Id, description: "{user} updated organization {target}",
				diff: map[string]gen.AuditDiffField{"display_name": {Old: "acme", New: "Acme Corp"}}, diffKeys: []string{"display_name"},
			})
		})

		var bob gen.User
		t.Run("creating a user hides the password hash", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).CreateUserWithResponse(ctx, gen.CreateUserRequest{Email: "bob@example.com", Username: "bob", Password: memberPassword})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				bob = *resp.JSON201
			}, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeUser, target: "bob", status: 201, user: "owner",
				description: "{user} created user {target}",
				diff: map[string]gen.AuditDiffField{"username": {New: "bob"}, "email": {New: "bob@example.com"},
					"status": {New: "active"}, "roles": {New: []any{"member"}}},
				secrets: []string{"hashed_password"},
			})
		})
		t.Run("adding a member", func(t *testing.T) {
			check(t, func(d *deployment) { d.addMember(owner, "acme", "bob") }, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeOrganizationMember, target: "bob", status: 200,
				user: "owner", resourceID: bob.Id, orgID: acme.Id, description: "{user} created organization member {target}",
				diff:     map[string]gen.AuditDiffField{"roles": {New: []any{"organization-member"}}},
				diffKeys: []string{"user_id", "organization_id", "roles"},
			})
		})
		t.Run("changing a member's roles", func(t *testing.T) {
			check(t, func(d *deployment) { d.setRoles(owner, "acme", "bob", gen.OrganizationRoleAdmin) }, wantEntry{
				action: gen.Write, resource: gen.AuditResourceTypeOrganizationMember, target: "bob", status: 200,
				user: "owner", resourceID: bob.Id, orgID: acme.Id, description: "{user} updated organization member {target}",
				diff: map[string]gen.AuditDiffField{"roles": {Old: []any{"organization-member"},
					New: []any{"organization-member", "organization-admin"}}},
				diffKeys: []string{"roles"},
			})
		})
		t.Run("removing a member", func(t *testing.T) {
			check(t, func(d *deployment) { d.removeMember(owner, "acme", "bob", http.StatusNoContent) }, wantEntry{
				action: gen.Delete, resource: gen.AuditResourceTypeOrganizationMember, target: "bob", status: 204,
				user: "owner", resourceID: bob.Id, orgID: acme.Id, description: "{user} deleted organization member {target}",
				diff: map[string]gen.AuditDiffField{"roles": {Old: []any{"organization-member", "organization-admin"}}},
			})
		})
		// As Coder's AuditLog: the organization as it is now, beside organization_id; absent
		// for an entry about no organization, and once the organization is deleted.
		organizationsNamed := func(d *deployment) map[string]int {
			named := map[string]int{}
			for _, e := range d.auditLogs(owner, "").AuditLogs {
				switch {
				case e.OrganizationId == uuid.Nil:
					assert.Nil(t, e.Organization, "%s %s names an organization", e.Action, e.ResourceType)
				case e.Organization != nil:
					assert.Equal(t, e.OrganizationId, e.Organization.Id)
					named[e.Organization.Name+"/"+e.Organization.DisplayName]++
				}
			}
			return named
		}
		t.Run("an entry names its organization", func(t *testing.T) {
			assert.Equal(t, 5, organizationsNamed(d.in(t))["acme/Acme Corp"], "the entries about acme and its member")
		})
		t.Run("deleting an organization", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).DeleteOrganizationWithResponse(ctx, "acme")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			}, wantEntry{
				action: gen.Delete, resource: gen.AuditResourceTypeOrganization, target: "acme", status: 200,
				user: "owner", resourceID: acme.Id, orgID: acme.Id, description: "{user} deleted organization {target}",
				diff: map[string]gen.AuditDiffField{"name": {Old: "acme"}, "display_name": {Old: "Acme Corp"}},
			})
		})
		t.Run("an entry about a deleted organization names none", func(t *testing.T) {
			assert.Zero(t, organizationsNamed(d.in(t))["acme/Acme Corp"])
		})
		t.Run("suspending a user", func(t *testing.T) {
			check(t, func(d *deployment) { d.setStatus(owner, "bob", gen.UserStatusSuspended) }, wantEntry{
				action: gen.Write, resource: gen.AuditResourceTypeUser, target: "bob", status: 200, user: "owner",
				resourceID: bob.Id, description: "{user} updated user {target}",
				diff: map[string]gen.AuditDiffField{"status": {Old: "active", New: "suspended"}}, diffKeys: []string{"status"},
			})
		})
		t.Run("a suspended user's sign-in is a failed login", func(t *testing.T) {
			check(t, func(d *deployment) {
				r := d.loginReply("bob@example.com", memberPassword)
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgAccountSuspended)
			}, wantEntry{
				action: gen.Login, resource: gen.AuditResourceTypeApiKey, status: 401, user: "bob", resourceID: bob.Id,
				description: "{user} unsuccessfully attempted to login", diffKeys: []string{},
			})
		})
		t.Run("activating a user", func(t *testing.T) {
			check(t, func(d *deployment) { d.setStatus(owner, "bob", gen.UserStatusActive) }, wantEntry{
				action: gen.Write, resource: gen.AuditResourceTypeUser, target: "bob", status: 200, user: "owner",
				resourceID: bob.Id, description: "{user} updated user {target}",
				diff: map[string]gen.AuditDiffField{"status": {Old: "suspended", New: "active"}}, diffKeys: []string{"status"},
			})
		})
		var bobToken string
		t.Run("signing in", func(t *testing.T) {
			check(t, func(d *deployment) { bobToken = d.login("bob@example.com", memberPassword) }, wantEntry{
				action: gen.Login, resource: gen.AuditResourceTypeApiKey, status: 201, user: "bob", resourceID: bob.Id,
				description: "{user} logged in",
				diff:        map[string]gen.AuditDiffField{"login_type": {New: "password"}, "token_name": {New: ""}},
				secrets:     []string{"hashed_secret"},
			})
		})
		t.Run("signing out", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(bobToken).LogoutWithResponse(ctx)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			}, wantEntry{
				action: gen.Logout, resource: gen.AuditResourceTypeApiKey, status: 200, user: "bob", resourceID: bob.Id,
				description: "{user} logged out", secrets: []string{"hashed_secret"},
			})
		})
		t.Run("a wrong password is a failed login by that user", func(t *testing.T) {
			check(t, func(d *deployment) {
				r := d.loginReply("bob@example.com", "not-bobs-password")
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)
			}, wantEntry{
				action: gen.Login, resource: gen.AuditResourceTypeApiKey, status: 401, user: "bob", resourceID: bob.Id,
				description: "{user} unsuccessfully attempted to login", diffKeys: []string{},
			})
		})
		t.Run("an unknown email is a failed login by no one", func(t *testing.T) {
			e := check(t, func(d *deployment) {
				r := d.loginReply("nobody@example.com", "whatever-password")
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)
			}, wantEntry{
				action: gen.Login, resource: gen.AuditResourceTypeApiKey, status: 401,
				description: "{user} unsuccessfully attempted to login", diffKeys: []string{},
			})
			assert.Equal(t, uuid.Nil, e.ResourceId)
		})
		var ci string
		t.Run("creating a token", func(t *testing.T) {
			e := check(t, func(d *deployment) { ci = d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("ci")}) }, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeApiKey, target: "ci", status: 201, user: "owner",
				resourceID: ownerUser.Id, description: "{user} created token {target}",
				diff:    map[string]gen.AuditDiffField{"token_name": {New: "ci"}, "login_type": {New: "token"}},
				secrets: []string{"hashed_secret"},
			})
			assert.Equal(t, gen.AuditDiffField{New: keyID(ci)}, e.Diff["id"], "the key's id, never its secret")
		})
		t.Run("deleting a token", func(t *testing.T) {
			check(t, func(d *deployment) { d.deleteKey(owner, "me", keyID(ci)) }, wantEntry{
				action: gen.Delete, resource: gen.AuditResourceTypeApiKey, target: "ci", status: 204, user: "owner",
				resourceID: ownerUser.Id, description: "{user} deleted token {target}",
				diff: map[string]gen.AuditDiffField{"token_name": {Old: "ci"}}, secrets: []string{"hashed_secret"},
			})
		})
		t.Run("creating a session key", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).CreateAPIKeyWithResponse(ctx, "bob")
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				d.remember(resp.JSON201.Key)
			}, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeApiKey, status: 201, user: "owner", resourceID: bob.Id,
				description: "{user} created token {target}", diff: map[string]gen.AuditDiffField{"login_type": {New: "password"}},
				secrets: []string{"hashed_secret"},
			})
		})
		var second gen.License
		t.Run("uploading a license hides its token", func(t *testing.T) {
			e := check(t, func(d *deployment) { second, _ = d.addAuditLicense(owner, issuer) }, wantEntry{
				action: gen.Create, resource: gen.AuditResourceTypeLicense, status: 201, user: "owner", created: true,
				description: "{user} created license {target}", secrets: []string{"jwt"},
			})
			assert.Equal(t, strconv.Itoa(int(second.Id)), e.ResourceTarget)
			assert.Equal(t, second.Uuid, e.ResourceId)
			assert.Equal(t, uuid.Nil, e.OrganizationId)
			assert.Equal(t, gen.AuditDiffField{New: float64(second.Id)}, e.Diff["id"])
		})
		t.Run("deleting a license", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).DeleteLicenseWithResponse(ctx, strconv.Itoa(int(second.Id)))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			}, wantEntry{
				action: gen.Delete, resource: gen.AuditResourceTypeLicense, target: strconv.Itoa(int(second.Id)), status: 200,
				user: "owner", resourceID: second.Uuid, description: "{user} deleted license {target}", secrets: []string{"jwt"},
			})
		})
		t.Run("refreshing entitlements", func(t *testing.T) {
			check(t, func(d *deployment) {
				resp, err := d.as(owner).RefreshEntitlementsWithResponse(ctx)
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			}, wantEntry{
				action: gen.Write, resource: gen.AuditResourceTypeLicense, target: "entitlements", status: 201,
				user: "owner", description: "{user} updated license {target}", diffKeys: []string{"refreshed_at"},
			})
		})
		t.Run("a throttled login is recorded with its 429", func(t *testing.T) {
			d := d.in(t)
			before := d.auditLogs(owner, "").Count
			for range 10 {
				r := d.loginReply("ghost@example.com", "guess-password")
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgBadLogin)
			}
			r := d.loginReply("ghost@example.com", "guess-password")
			require.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Body))
			page := d.auditLogs(owner, "")
			require.EqualValues(t, before+11, page.Count)
			e := page.AuditLogs[0]
			assert.Equal(t, gen.Login, e.Action)
			assert.EqualValues(t, http.StatusTooManyRequests, e.StatusCode)
			assert.Nil(t, e.User)
			assert.Equal(t, "{user} unsuccessfully attempted to login", e.Description)
		})
		t.Run("failed attempts at changes record nothing", func(t *testing.T) {
			d := d.in(t)
			before := d.auditLogs(owner, "").Count
			d.createOrganization(owner, "taken")
			resp, err := d.as(owner).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "taken"})
			require.NoError(t, err)
			requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgOrgExists)
			r := d.statusCall(owner, "me", "suspend")
			requireError(t, r.Status, r.Body, http.StatusBadRequest, msgCannotSuspendYourself)
			r = d.send(http.MethodDelete, "/organizations/default", nil, withSessionHeader(owner))
			require.Equal(t, http.StatusBadRequest, r.Status)
			assert.Equal(t, []string{"create organization taken"}, targets(d.auditLogs(owner, "").AuditLogs[:1]))
			assert.EqualValues(t, before+1, d.auditLogs(owner, "").Count)
		})
		t.Run("no secret ever appears in the log", func(t *testing.T) {
			d := d.in(t)
			r := d.auditQuery(owner, "limit=1000") // every response is checked for every token and license handed out
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			body := string(r.Body)
			for _, secret := range []string{testenv.OwnerPassword, memberPassword, "not-bobs-password", "guess-password", "$2a$", "$2b$"} {
				assert.NotContains(t, body, secret)
			}
			var page gen.AuditLogResponse
			require.NoError(t, json.Unmarshal(r.Body, &page))
			for _, e := range page.AuditLogs {
				for field, change := range e.Diff {
					if slices.Contains([]string{"hashed_password", "hashed_secret", "jwt"}, field) {
						assert.True(t, change.Secret, "%s of %s %s", field, e.Action, e.ResourceType)
					}
					if change.Secret {
						assert.Nil(t, change.Old)
						assert.Nil(t, change.New)
					}
				}
			}
		})
		t.Run("an entry carries the request's id and user agent", func(t *testing.T) {
			d := d.in(t)
			id := uuid.New()
			r := d.send(http.MethodPost, "/organizations", []byte(`{"name":"traced"}`), withSessionHeader(owner),
				withHeader("X-Request-ID", id.String()), withHeader("User-Agent", "audit-test/1.0"))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			e := d.auditLogs(owner, "").AuditLogs[0]
			assert.Equal(t, id, e.RequestId)
			assert.Equal(t, "audit-test/1.0", e.UserAgent)

			// A client's own id that is not a UUID still gives one UUID, the same for the same id.
			for _, org := range []string{"plain-one", "plain-two"} {
				r := d.send(http.MethodPost, "/organizations", mustJSON(t, map[string]string{"name": org}), withSessionHeader(owner),
					withHeader("X-Request-ID", "job-42"))
				require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			}
			entries := d.auditLogs(owner, "").AuditLogs
			assert.NotEqual(t, uuid.Nil, entries[0].RequestId)
			assert.Equal(t, entries[0].RequestId, entries[1].RequestId)
		})
	})
}

func TestSearchingTheAuditLog(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, issuer := startAudited(t, db)
		owner := d.setupOwner()
		d.addAuditLicense(owner, issuer)
		_, memberToken := d.createMember(owner, "mia") // create user, then mia's login
		d.createOrganization(owner, "alpha")
		d.createOrganization(owner, "beta")
		resp, err := d.as(owner).DeleteOrganizationWithResponse(context.Background(), "beta")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		all := targets(d.auditLogs(owner, "").AuditLogs)
		require.Equal(t, []string{"delete organization beta", "create organization beta", "create organization alpha",
			"login api_key ", "create user mia"}, all)

		today := time.Now().UTC().Format(time.DateOnly)
		tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
		yesterday := time.Now().UTC().Add(-24 * time.Hour).Format(time.DateOnly)
		searches := []struct {
			q    string
			want []string
		}{
			{"", all},
			{"resource_type:organization", all[:3]},
			{"organization", all[:3]},
			{"RESOURCE_TYPE:Organization", all[:3]},
			{"action:create", []string{all[1], all[2], all[4]}},
			{"resource_type:organization action:delete", all[:1]},
			{"username:owner", []string{all[0], all[1], all[2], all[4]}},
			{"username:mia", all[3:4]},
			{"email:mia@example.com", all[3:4]},
			{"username:nobody", []string{}},
			{"resource_type:template", []string{}},
			{"date_from:" + today, all},
			{"date_to:" + today, all},
			{"date_from:" + yesterday + " date_to:" + today, all},
			{"date_from:" + tomorrow, []string{}},
			{"date_to:" + yesterday, []string{}},
			// The last day a date can name: the day after it is in year 10000, which a
			// time written as text (SQLite) would put before every other.
			{"date_to:9999-12-31", all},
			{"date_from:0001-01-01 date_to:9999-12-31", all},
			// The first days a date can name: the end of 0000-12-31 and the start of
			// 0001-01-01 are Go's zero time, which a filter must not read as no bound.
			{"date_to:0000-12-30", []string{}},
			{"date_to:0000-12-31", []string{}},
			{"date_to:0001-01-01", []string{}},
			{"date_from:0000-01-01", all},
		}
		for _, s := range searches {
			page := d.auditLogs(owner, s.q)
			assert.Equal(t, s.want, targets(page.AuditLogs), "q=%q", s.q)
			assert.EqualValues(t, len(s.want), page.Count, "q=%q", s.q)
		}

		t.Run("username:me is the caller", func(t *testing.T) {
			d := d.in(t)
			assert.Equal(t, []string{all[0], all[1], all[2], all[4]}, targets(d.auditLogs(owner, "username:me").AuditLogs))
		})

		t.Run("a page comes with the count of the whole search", func(t *testing.T) {
			d := d.in(t)
			pages := []struct {
				query string
				want  []string
			}{
				{"limit=2", all[:2]},
				{"limit=2&offset=2", all[2:4]},
				{"offset=4", all[4:]},
				{"offset=5", []string{}},
				{"q=organization&limit=1&offset=1", all[1:2]},
			}
			for _, p := range pages {
				r := d.auditQuery(owner, p.query)
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				var page gen.AuditLogResponse
				require.NoError(t, json.Unmarshal(r.Body, &page))
				assert.Equal(t, p.want, targets(page.AuditLogs), "?%s", p.query)
				want := len(all)
				if strings.Contains(p.query, "q=organization") {
					want = 3
				}
				assert.EqualValues(t, want, page.Count, "?%s", p.query)
			}
			for _, bad := range []struct{ query, field, detail string }{
				{"limit=abc", "limit", badLimitDetail},
				{"limit=0", "limit", limitRange},
				{"offset=-1", "offset", badOffsetDetail},
			} {
				r := d.auditQuery(owner, bad.query)
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgBadQuery)
				require.NotNil(t, env.Validations)
				assert.Equal(t, []gen.ValidationError{{Field: bad.field, Detail: bad.detail}}, *env.Validations, "?%s", bad.query)
			}
		})

		t.Run("a bad query is refused with what is wrong with it", func(t *testing.T) {
			d := d.in(t)
			bad := []struct {
				q    string
				want []gen.ValidationError
			}{
				{"action:nope", []gen.ValidationError{{Field: "action", Detail: `Query param "action" has invalid value: "nope" is not a valid value`}}},
				{"resource_type:spaceship", []gen.ValidationError{{Field: "resource_type", Detail: `Query param "resource_type" has invalid value: "spaceship" is not a valid value`}}},
				{"spaceship", []gen.ValidationError{{Field: "resource_type", Detail: `Query param "resource_type" has invalid value: "spaceship" is not a valid value`}}},
				{"date_from:2024-02-30", []gen.ValidationError{{Field: "date_from", Detail: `Query param "date_from" must be a valid date format (2006-01-02): parsing time "2024-02-30": day out of range`}}},
				{"date_to:yesterday", []gen.ValidationError{{Field: "date_to", Detail: `Query param "date_to" must be a valid date format (2006-01-02): parsing time "yesterday" as "2006-01-02": cannot parse "yesterday" as "2006"`}}},
				{"resource_id:nope", []gen.ValidationError{{Field: "resource_id", Detail: `Query param "resource_id" must be a valid uuid`}}},
				{"colour:red", []gen.ValidationError{{Field: "colour", Detail: `Query param "colour" is not a valid query param`}}},
				{"a:b:c", []gen.ValidationError{{Field: "q", Detail: `Query element "a:b:c" can only contain 1 ':'`}}},
				{":x", []gen.ValidationError{{Field: "q", Detail: `Query element ":x" cannot start or end with ':'`}}},
				{"action:", []gen.ValidationError{{Field: "q", Detail: `Query element "action:" cannot start or end with ':'`}}},
				{"action:login action:nope", []gen.ValidationError{{Field: "action", Detail: `Query param "action" provided more than once, found 2 times. Only provide 1 instance of this query param.`}}},
				{"username:a username:a", []gen.ValidationError{{Field: "username", Detail: `Query param "username" provided more than once, found 2 times. Only provide 1 instance of this query param.`}}},
				{"action:nope colour:red", []gen.ValidationError{
					{Field: "action", Detail: `Query param "action" has invalid value: "nope" is not a valid value`},
					{Field: "colour", Detail: `Query param "colour" is not a valid query param`},
				}},
			}
			for _, b := range bad {
				r := d.auditQuery(owner, "q="+url.QueryEscape(b.q))
				env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgInvalidAuditQuery)
				require.NotNil(t, env.Validations, "q=%q: %s", b.q, r.Body)
				assert.Equal(t, b.want, *env.Validations, "q=%q", b.q)
			}
		})

		t.Run("only the owner reads the log", func(t *testing.T) {
			d := d.in(t)
			r := d.auditQuery(memberToken, "")
			requireError(t, r.Status, r.Body, http.StatusForbidden, "Forbidden.")
			r = d.send(http.MethodGet, "/audit", nil)
			requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
		})

		t.Run("without a limit a page holds 100 entries, as in Coder", func(t *testing.T) {
			d := d.in(t)
			for i := range 100 {
				d.createOrganization(owner, fmt.Sprintf("bulk-%d", i))
			}
			r := d.auditQuery(owner, "")
			require.Equal(t, http.StatusOK, r.Status)
			var page gen.AuditLogResponse
			require.NoError(t, json.Unmarshal(r.Body, &page))
			assert.Len(t, page.AuditLogs, 100)
			assert.EqualValues(t, len(all)+100, page.Count)
		})
	})
}

// rawDatabase opens the database behind cfg directly, for a test that must break it by hand.
func rawDatabase(t *testing.T, cfg server.Config) *gorm.DB {
	t.Helper()
	var (
		db  *gorm.DB
		err error
	)
	if cfg.PostgresURL != "" {
		db, err = gorm.Open(postgres.Open(cfg.PostgresURL), &gorm.Config{})
	} else {
		db, err = gorm.Open(gormsqlite.Open("file:"+filepath.Join(cfg.DataDir, "entitle.db")+"?_pragma=busy_timeout(10000)"), &gorm.Config{})
	}
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

func TestAnAuditEntryStandsOrFallsWithItsChange(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, issuer := startAudited(t, db)
		ctx := context.Background()
		owner := d.setupOwner()
		d.addAuditLicense(owner, issuer)
		d.createMember(owner, "vic")
		raw := rawDatabase(t, d.inst.Config)
		before := d.auditLogs(owner, "").Count
		counted := auditCounts(t, d.inst)
		require.Equal(t, float64(before), sum(counted), "every entry so far was counted")

		t.Run("a change the database refuses leaves no entry", func(t *testing.T) {
			d := d.in(t)
			d.createOrganization(owner, "unique")
			resp, err := d.as(owner).UpdateOrganizationWithResponse(ctx, "default", gen.UpdateOrganizationRequest{Name: name("unique")})
			require.NoError(t, err)
			require.Equal(t, http.StatusConflict, resp.StatusCode(), string(resp.Body))
			page := d.auditLogs(owner, "")
			assert.EqualValues(t, before+1, page.Count)
			assert.Equal(t, "create organization unique", targets(page.AuditLogs)[0])
			counted["create organization"]++
			assert.Equal(t, counted, auditCounts(t, d.inst), "only the change made is counted")
		})

		t.Run("a change whose entry cannot be written is not made", func(t *testing.T) {
			d := d.in(t)
			require.NoError(t, raw.Exec("ALTER TABLE audit_logs RENAME TO audit_logs_away").Error)
			renamed := true
			restore := func() {
				if renamed {
					require.NoError(t, raw.Exec("ALTER TABLE audit_logs_away RENAME TO audit_logs").Error)
					renamed = false
				}
			}
			defer restore()

			resp, err := d.as(owner).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "orphan"})
			require.NoError(t, err)
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode(), string(resp.Body))
			r := d.statusCall(owner, "vic", "suspend")
			require.Equal(t, http.StatusInternalServerError, r.Status, string(r.Body))
			restore()

			got, err := d.as(owner).GetOrganizationWithResponse(ctx, "orphan")
			require.NoError(t, err)
			assert.Equal(t, http.StatusNotFound, got.StatusCode(), "the organization was not created without its entry")
			assert.Equal(t, gen.UserStatusActive, d.memberStatus(owner, "vic"), "vic was not suspended without an entry")
			assert.EqualValues(t, before+1, d.auditLogs(owner, "").Count)
			assert.Equal(t, counted, auditCounts(t, d.inst), "an entry not written is not counted")
		})

		if db.Name != "postgres" {
			return // SQLite has no deferred constraint a test could add to a table
		}
		t.Run("a change whose commit fails after its entry was written leaves no entry and no count", func(t *testing.T) {
			d := d.in(t)
			// PostgreSQL checks a deferred constraint at COMMIT: the entry's INSERT succeeds,
			// then the commit fails and takes the change and the entry with it.
			require.NoError(t, raw.Exec(`CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'refused at commit'; END $$`).Error)
			require.NoError(t, raw.Exec(`CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_logs
				DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()`).Error)
			dropped := false
			drop := func() {
				if !dropped {
					require.NoError(t, raw.Exec(`DROP TRIGGER refuse_commit ON audit_logs`).Error)
					dropped = true
				}
			}
			defer drop()

			resp, err := d.as(owner).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "uncommitted"})
			require.NoError(t, err)
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode(), string(resp.Body))
			drop()

			got, err := d.as(owner).GetOrganizationWithResponse(ctx, "uncommitted")
			require.NoError(t, err)
			assert.Equal(t, http.StatusNotFound, got.StatusCode(), "the organization went with the commit")
			assert.EqualValues(t, before+1, d.auditLogs(owner, "").Count)
			assert.Equal(t, counted, auditCounts(t, d.inst), "an entry rolled back is not counted")
		})
	})
}

func sum(counts map[string]float64) float64 {
	total := 0.0
	for _, n := range counts {
		total += n
	}
	return total
}

func TestAuditEntriesWrittenOnOneReplicaAreListedOnAnother(t *testing.T) {
	t.Parallel()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name)
	issuer := testenv.NewIssuer(t, t.TempDir(), "test-key")
	cfg := db.NewConfig(t)
	cfg.LicenseKeysDir = issuer.KeysDir
	a := watch(t, testenv.Start(t, cfg))
	b := watch(t, testenv.Start(t, cfg))
	owner := a.setupOwner()
	a.addAuditLicense(owner, issuer)
	b.waitForAuditLog(true)

	a.createOrganization(owner, "on-a")
	b.createOrganization(owner, "on-b")
	for _, d := range []*deployment{a, b} {
		assert.Equal(t, []string{"create organization on-b", "create organization on-a"}, targets(d.auditLogs(owner, "organization").AuditLogs))
		assert.Equal(t, map[string]float64{"create organization": 1}, auditCounts(t, d.inst),
			"each replica counts the entries it recorded")
	}
}
