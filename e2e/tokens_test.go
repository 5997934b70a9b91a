package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/store"
)

// Messages and values of the API tokens section of the contract.
const (
	msgTokenLifetimeInvalid = "Failed to validate create API key request."
	defaultTokenLifetime    = 30 * 24 * time.Hour
	defaultMaxTokenLifetime = 720 * time.Hour
)

func msgTokenExists(name string) string { return `A token with name "` + name + `" already exists.` }

// createToken has token's user create an API token for user, which must succeed, and returns
// the new key (remembered as a secret, so no later response may carry it).
func (d *deployment) createToken(token, user string, req gen.CreateTokenRequest) string {
	d.t.Helper()
	resp, err := d.as(token).CreateTokenWithResponse(context.Background(), user, req)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	key := resp.JSON201.Key
	require.Regexp(d.t, tokenPattern, key, "a token has the session token format")
	d.remember(key)
	return key
}

// apiKey fetches the key with id as token's user, which must succeed.
func (d *deployment) apiKey(token, user, id string) (gen.APIKey, []byte) {
	d.t.Helper()
	resp, err := d.as(token).GetAPIKeyWithResponse(context.Background(), user, id)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200, resp.Body
}

// listTokens lists the tokens as token's user, which must succeed.
func (d *deployment) listTokens(token, user string, includeAll bool) []gen.APIKeyWithOwner {
	d.t.Helper()
	var params *gen.ListTokensParams
	if includeAll {
		params = &gen.ListTokensParams{IncludeAll: &includeAll}
	}
	resp, err := d.as(token).ListTokensWithResponse(context.Background(), user, params)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	return *resp.JSON200
}

// deleteKey deletes a key as token's user, which must succeed with 204 and no body.
func (d *deployment) deleteKey(token, user, id string) {
	d.t.Helper()
	resp, err := d.as(token).DeleteAPIKeyWithResponse(context.Background(), user, id)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusNoContent, resp.StatusCode(), string(resp.Body))
	require.Empty(d.t, resp.Body)
}

// requireRefused checks that key no longer signs anyone in.
func (d *deployment) requireRefused(key string) {
	d.t.Helper()
	r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
	requireError(d.t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
}

// keyID is the id part of a key, the part before the hyphen.
func keyID(key string) string {
	id, _, _ := strings.Cut(key, "-")
	return id
}

func tokenNames(keys []gen.APIKeyWithOwner) []string {
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k.Username+"/"+k.TokenName)
	}
	return names
}

func lifetime(d time.Duration) *int64 {
	ns := int64(d)
	return &ns
}

func name(s string) *string { return &s }

func TestCreatingAndReadingTokens(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()
		me, err := d.as(owner).GetCurrentUserWithResponse(ctx)
		require.NoError(t, err)
		ownerID := me.JSON200.Id

		before := store.Now()
		ci := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("ci"), Lifetime: lifetime(7 * 24 * time.Hour)})

		t.Run("a token reads back by name and by id with its fixed lifetime", func(t *testing.T) {
			d := d.in(t)
			byName, err := d.as(owner).GetTokenByNameWithResponse(ctx, "me", "ci")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, byName.StatusCode(), string(byName.Body))
			k := byName.JSON200
			assert.Equal(t, keyID(ci), k.Id)
			assert.Equal(t, ownerID, k.UserId)
			assert.Equal(t, gen.APIKeyLoginTypeToken, k.LoginType)
			assert.Equal(t, gen.APIKeyScopeAll, k.Scope)
			assert.Equal(t, "ci", k.TokenName)
			assert.Equal(t, int64(7*24*3600), k.LifetimeSeconds)
			assert.WithinDuration(t, before.Add(7*24*time.Hour), k.ExpiresAt, 10*time.Second)
			for _, field := range []string{"created_at", "updated_at", "last_used", "expires_at"} {
				requireTimestamp(t, rawString(t, byName.Body, field))
			}

			_, byID := d.apiKey(owner, "me", keyID(ci))
			assert.Equal(t, string(byName.Body), string(byID), "by name and by id give the same bytes")
		})

		t.Run("the user is named by username or UUID as well as me", func(t *testing.T) {
			d := d.in(t)
			for _, ref := range []string{testenv.OwnerUsername, ownerID.String(), "me"} {
				names := tokenNames(d.listTokens(owner, ref, false))
				assert.Equal(t, []string{"owner/ci"}, names, "GET /users/%s/keys/tokens", ref)
				_, body := d.apiKey(owner, ref, keyID(ci))
				assert.Equal(t, "ci", rawString(t, body, "token_name"))
			}
		})

		t.Run("the list holds tokens only, never sessions", func(t *testing.T) {
			d := d.in(t)
			for _, k := range d.listTokens(owner, "me", false) {
				assert.Equal(t, gen.APIKeyLoginTypeToken, k.LoginType)
				assert.NotEqual(t, keyID(owner), k.Id, "the session is not a token")
			}
		})

		t.Run("an empty or absent name gets a generated one and the default lifetime of 30 days", func(t *testing.T) {
			d := d.in(t)
			for _, req := range []gen.CreateTokenRequest{{}, {TokenName: name(""), Lifetime: lifetime(0)}} {
				key := d.createToken(owner, "me", req)
				k, _ := d.apiKey(owner, "me", keyID(key))
				assert.NotEmpty(t, k.TokenName)
				assert.Regexp(t, `^[a-zA-Z0-9][a-zA-Z0-9_-]*$`, k.TokenName)
				assert.Equal(t, int64(defaultTokenLifetime/time.Second), k.LifetimeSeconds)
				assert.WithinDuration(t, store.Now().Add(defaultTokenLifetime), k.ExpiresAt, 10*time.Second)
			}
		})

		t.Run("a lifetime of exactly the maximum is accepted", func(t *testing.T) {
			d := d.in(t)
			key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("longest"), Lifetime: lifetime(defaultMaxTokenLifetime)})
			k, _ := d.apiKey(owner, "me", keyID(key))
			assert.Equal(t, int64(defaultMaxTokenLifetime/time.Second), k.LifetimeSeconds)
		})

		t.Run("a lifetime above the maximum or not positive is refused", func(t *testing.T) {
			cases := []struct {
				name     string
				lifetime time.Duration
				detail   string
			}{
				{"one nanosecond above the maximum", defaultMaxTokenLifetime + 1, "lifetime must be less than 720h0m0s"},
				{"a year", 365 * 24 * time.Hour, "lifetime must be less than 720h0m0s"},
				{"a negative lifetime", -time.Second, "lifetime must be positive number greater than 0"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					d := d.in(t)
					resp, err := d.as(owner).CreateTokenWithResponse(ctx, "me", gen.CreateTokenRequest{TokenName: name("refused"), Lifetime: lifetime(tc.lifetime)})
					require.NoError(t, err)
					env := requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, msgTokenLifetimeInvalid)
					assert.Equal(t, tc.detail, detailOf(env))
					r, err := d.as(owner).GetTokenByNameWithResponse(ctx, "me", "refused")
					require.NoError(t, err)
					requireError(t, r.StatusCode(), r.Body, http.StatusNotFound, msgNotFound)
				})
			}
		})

		t.Run("a name the user already has is a conflict and changes nothing", func(t *testing.T) {
			d := d.in(t)
			before := d.listTokens(owner, "me", false)
			resp, err := d.as(owner).CreateTokenWithResponse(ctx, "me", gen.CreateTokenRequest{TokenName: name("ci")})
			require.NoError(t, err)
			env := requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgTokenExists("ci"))
			assert.Equal(t, []string{"name"}, validationFields(env))
			assert.Equal(t, tokenNames(before), tokenNames(d.listTokens(owner, "me", false)))
		})

		t.Run("names are unique per user, not across users", func(t *testing.T) {
			d := d.in(t)
			_, alice := d.createMember(owner, "alice")
			key := d.createToken(alice, "me", gen.CreateTokenRequest{TokenName: name("ci")})
			k, _ := d.apiKey(alice, "me", keyID(key))
			assert.Equal(t, "ci", k.TokenName)
		})

		t.Run("names outside the rule are refused", func(t *testing.T) {
			for _, bad := range []string{"has space", "-leading-hyphen", "slash/inside", "tokenconfig", strings.Repeat("x", 65), "é"} {
				t.Run(bad, func(t *testing.T) {
					r := d.in(t).send(http.MethodPost, "/users/me/keys/tokens", mustJSON(t, map[string]any{"token_name": bad}), withSessionHeader(owner))
					requireValidation(t, r.Status, r.Body, "token_name")
				})
			}
		})

		t.Run("a scope other than all is refused", func(t *testing.T) {
			r := d.in(t).send(http.MethodPost, "/users/me/keys/tokens", []byte(`{"token_name":"scoped","scope":"application_connect"}`), withSessionHeader(owner))
			requireValidation(t, r.Status, r.Body, "scope")
		})

		t.Run("the token config gives the maximum lifetime in nanoseconds", func(t *testing.T) {
			resp, err := d.in(t).as(owner).GetTokenConfigWithResponse(ctx, "me")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, int64(defaultMaxTokenLifetime), resp.JSON200.MaxTokenLifetime)
		})

		t.Run("unknown keys and names are not found", func(t *testing.T) {
			d := d.in(t)
			for _, path := range []string{
				"/users/me/keys/tokens/nope",
				"/users/me/keys/AAAAAAAAAA",
				"/users/me/keys/tokens/bad%00name",
				"/users/me/keys/bad%00id",
				"/users/me/keys/" + keyID(owner) + "-x",
				"/users/nobody/keys/tokens",
				"/users/00000000-0000-0000-0000-000000000000/keys/tokens/ci",
			} {
				r := d.send(http.MethodGet, path, nil, withSessionHeader(owner))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			}
			r := d.send(http.MethodDelete, "/users/me/keys/AAAAAAAAAA", nil, withSessionHeader(owner))
			requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
		})

		t.Run("every key route wants a signed-in caller", func(t *testing.T) {
			d := d.in(t)
			for _, route := range []struct{ method, path, body string }{
				{http.MethodPost, "/users/me/keys", ""},
				{http.MethodPost, "/users/me/keys/tokens", `{"token_name":"x"}`},
				{http.MethodGet, "/users/me/keys/tokens", ""},
				{http.MethodGet, "/users/me/keys/tokens/tokenconfig", ""},
				{http.MethodGet, "/users/me/keys/tokens/ci", ""},
				{http.MethodGet, "/users/me/keys/" + keyID(ci), ""},
				{http.MethodDelete, "/users/me/keys/" + keyID(ci), ""},
			} {
				var body []byte
				if route.body != "" {
					body = []byte(route.body)
				}
				r := d.send(route.method, route.path, body)
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			}
			// The token survived all that.
			d.apiKey(owner, "me", keyID(ci))
		})
	})
}

func TestTheMaximumTokenLifetimeCapsTheDefault(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		cfg := db.NewConfig(t)
		cfg.MaxTokenLifetime = time.Hour
		d := watch(t, testenv.Start(t, cfg))
		owner := d.setupOwner()
		ctx := context.Background()

		key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("short")})
		k, _ := d.apiKey(owner, "me", keyID(key))
		assert.Equal(t, int64(3600), k.LifetimeSeconds, "the 30-day default is cut to the maximum")
		assert.WithinDuration(t, store.Now().Add(time.Hour), k.ExpiresAt, 10*time.Second)

		resp, err := d.as(owner).CreateTokenWithResponse(ctx, "me", gen.CreateTokenRequest{Lifetime: lifetime(2 * time.Hour)})
		require.NoError(t, err)
		env := requireError(t, resp.StatusCode(), resp.Body, http.StatusBadRequest, msgTokenLifetimeInvalid)
		assert.Equal(t, "lifetime must be less than 1h0m0s", detailOf(env))

		cfgResp, err := d.as(owner).GetTokenConfigWithResponse(ctx, "me")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, cfgResp.StatusCode(), string(cfgResp.Body))
		assert.Equal(t, int64(time.Hour), cfgResp.JSON200.MaxTokenLifetime)
	})
}

func TestTokensAreVisibleToTheirUserAndTheOwnerOnly(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()
		alice, aliceSession := d.createMember(owner, "alice")
		_, bob := d.createMember(owner, "bob")
		ownerKey := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("owner-ci")})
		aliceKey := d.createToken(aliceSession, "me", gen.CreateTokenRequest{TokenName: name("alice-ci")})

		t.Run("a member gets 404 for every route on another user's keys", func(t *testing.T) {
			d := d.in(t)
			for _, route := range []struct{ method, path, body string }{
				{http.MethodPost, "/users/owner/keys", ""},
				{http.MethodPost, "/users/owner/keys/tokens", `{"token_name":"sneaky"}`},
				{http.MethodGet, "/users/owner/keys/tokens", ""},
				{http.MethodGet, "/users/owner/keys/tokens?include_all=true", ""},
				{http.MethodGet, "/users/owner/keys/tokens/tokenconfig", ""},
				{http.MethodGet, "/users/owner/keys/tokens/owner-ci", ""},
				{http.MethodGet, "/users/owner/keys/" + keyID(ownerKey), ""},
				{http.MethodDelete, "/users/owner/keys/" + keyID(ownerKey), ""},
				{http.MethodGet, "/users/alice/keys/tokens", ""},
				// Another user's key under one's own path is not found either.
				{http.MethodGet, "/users/me/keys/" + keyID(ownerKey), ""},
				{http.MethodDelete, "/users/me/keys/" + keyID(ownerKey), ""},
			} {
				var body []byte
				if route.body != "" {
					body = []byte(route.body)
				}
				r := d.send(route.method, route.path, body, withSessionHeader(bob))
				requireError(t, r.Status, r.Body, http.StatusNotFound, msgNotFound)
			}
			// Nothing changed: the owner's token still works and bob has no token.
			me := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(ownerKey))
			require.Equal(t, http.StatusOK, me.Status, string(me.Body))
			assert.Empty(t, d.listTokens(bob, "me", false))
			assert.Equal(t, []string{"owner/owner-ci"}, tokenNames(d.listTokens(owner, "me", false)))
		})

		t.Run("a member with include_all sees only their own tokens", func(t *testing.T) {
			assert.Equal(t, []string{"alice/alice-ci"}, tokenNames(d.in(t).listTokens(aliceSession, "me", true)))
		})

		t.Run("the owner sees and reads another user's tokens", func(t *testing.T) {
			d := d.in(t)
			for _, ref := range []string{"alice", alice.Id.String()} {
				assert.Equal(t, []string{"alice/alice-ci"}, tokenNames(d.listTokens(owner, ref, false)))
				k, _ := d.apiKey(owner, ref, keyID(aliceKey))
				assert.Equal(t, alice.Id, k.UserId)
			}
			byName, err := d.as(owner).GetTokenByNameWithResponse(ctx, "alice", "alice-ci")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, byName.StatusCode(), string(byName.Body))
			assert.Equal(t, keyID(aliceKey), byName.JSON200.Id)
		})

		t.Run("the owner with include_all sees every user's tokens", func(t *testing.T) {
			assert.ElementsMatch(t, []string{"owner/owner-ci", "alice/alice-ci"}, tokenNames(d.in(t).listTokens(owner, "me", true)))
		})

		t.Run("the owner creates a token for another user, which signs in as them", func(t *testing.T) {
			d := d.in(t)
			key := d.createToken(owner, "alice", gen.CreateTokenRequest{TokenName: name("made-by-owner")})
			me, err := d.as(key).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Equal(t, alice.Id, me.JSON200.Id)
		})

		t.Run("the owner deletes another user's token", func(t *testing.T) {
			d := d.in(t)
			victim := d.createToken(aliceSession, "me", gen.CreateTokenRequest{TokenName: name("to-delete")})
			d.deleteKey(owner, "alice", keyID(victim))
			d.requireRefused(victim)
		})
	})
}

func TestACreatedTokenIsAcceptedInEveryTokenLocation(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		_, aliceSession := d.createMember(owner, "alice")
		key := d.createToken(aliceSession, "me", gen.CreateTokenRequest{TokenName: name("everywhere")})
		for _, tc := range []struct {
			name string
			edit requestEdit
		}{
			{"the Coder-Session-Token header", withSessionHeader(key)},
			{"the coder_session_token cookie", withCookie(key)},
			{"the coder_session_token query parameter", withQueryToken(key)},
			{"an Authorization Bearer header", withBearer(key)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := d.in(t).send(http.MethodGet, "/users/me", nil, tc.edit)
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				assert.Equal(t, "alice", rawString(t, r.Body, "username"))
			})
		}
	})
}

func TestADeletedKeyIsRefusedAtOnce(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()

		t.Run("a token", func(t *testing.T) {
			d := d.in(t)
			key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("short-lived")})
			me := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
			require.Equal(t, http.StatusOK, me.Status, string(me.Body))

			d.deleteKey(owner, "me", keyID(key))

			d.requireRefused(key)
			again, err := d.as(owner).DeleteAPIKeyWithResponse(ctx, "me", keyID(key))
			require.NoError(t, err)
			requireError(t, again.StatusCode(), again.Body, http.StatusNotFound, msgNotFound)
			byName, err := d.as(owner).GetTokenByNameWithResponse(ctx, "me", "short-lived")
			require.NoError(t, err)
			requireError(t, byName.StatusCode(), byName.Body, http.StatusNotFound, msgNotFound)
		})

		t.Run("a token deleting itself", func(t *testing.T) {
			d := d.in(t)
			key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("self-deleting")})
			d.deleteKey(key, "me", keyID(key))
			d.requireRefused(key)
		})

		t.Run("a session", func(t *testing.T) {
			d := d.in(t)
			session := d.login(testenv.OwnerEmail, testenv.OwnerPassword)
			d.deleteKey(owner, "me", keyID(session))
			d.requireRefused(session)
		})

		t.Run("signing out with a token ends that token", func(t *testing.T) {
			d := d.in(t)
			key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("signs-out")})
			out, err := d.as(key).LogoutWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, out.StatusCode(), string(out.Body))
			d.requireRefused(key)
			assert.NotContains(t, tokenNames(d.listTokens(owner, "me", false)), "owner/signs-out")
		})
	})
}

// TestDeletingAKeyRefusesItOnEveryReplica is written so that it also catches a cache of keys:
// replica B uses the token first (so its cache holds it), A deletes it, and A's very next
// request with it must be refused, and B's within the contract's second (B learns of the
// deletion by an announcement, milliseconds later: it cannot know before).
func TestDeletingAKeyRefusesItOnEveryReplica(t *testing.T) {
	t.Parallel()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name, "testenv.Databases()[1] must be PostgreSQL")
	cfg := db.NewConfig(t)
	a := watch(t, testenv.Start(t, cfg))
	b := &deployment{t: t, inst: testenv.Start(t, cfg), secrets: a.secrets}
	owner := a.setupOwner()
	ctx := context.Background()

	for _, round := range []struct{ name, kind string }{{"a token", "token"}, {"a session key", "session"}} {
		t.Run(round.name, func(t *testing.T) {
			a, b := a.in(t), b.in(t)
			var key string
			if round.kind == "token" {
				key = a.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("replicated")})
			} else {
				resp, err := a.as(owner).CreateAPIKeyWithResponse(ctx, "me")
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				key = resp.JSON201.Key
				a.remember(key)
			}
			for range 3 {
				r := b.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
				require.Equal(t, http.StatusOK, r.Status, "replica B accepts the key: %s", r.Body)
			}

			a.deleteKey(owner, "me", keyID(key))

			a.requireRefused(key)
			pollUntil(t, propagation, "B refusing the key deleted on A", func() (bool, string) {
				r := b.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
				return r.Status == http.StatusUnauthorized, strconv.Itoa(r.Status) + " " + string(r.Body)
			})
			b.requireRefused(key)
		})
	}
}

func TestTokensKeepTheirExpiryWhenUsed(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()
		st := d.inst.Server().Store()
		key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("fixed"), Lifetime: lifetime(time.Hour)})
		created, _ := d.apiKey(owner, "me", keyID(key))

		// As if the token was last used two minutes ago: the next use is recorded.
		lastUsed := store.Now().Add(-2 * time.Minute)
		require.NoError(t, st.TouchAPIKey(ctx, keyID(key), lastUsed, created.ExpiresAt))
		r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		used, _ := d.apiKey(owner, "me", keyID(key))
		assert.True(t, used.LastUsed.After(lastUsed), "the use is recorded")
		assert.Equal(t, created.ExpiresAt, used.ExpiresAt, "a token's expiry does not slide")
		assert.Equal(t, int64(3600), used.LifetimeSeconds)
	})
}

func TestSessionKeysFromTheKeysRouteAreSessions(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		ctx := context.Background()
		st := d.inst.Server().Store()

		resp, err := d.as(owner).CreateAPIKeyWithResponse(ctx, "me")
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		key := resp.JSON201.Key
		require.Regexp(t, tokenPattern, key)
		d.remember(key)
		assert.Empty(t, resp.HTTPResponse.Cookies(), "the key is not set as a cookie")

		t.Run("it is a password-type session of the session duration", func(t *testing.T) {
			k, body := d.in(t).apiKey(owner, "me", keyID(key))
			assert.Equal(t, gen.APIKeyLoginTypePassword, k.LoginType)
			assert.Equal(t, "", k.TokenName)
			assert.Equal(t, gen.APIKeyScopeAll, k.Scope)
			assert.Equal(t, int64(d.inst.Config.SessionDuration/time.Second), k.LifetimeSeconds)
			assert.WithinDuration(t, store.Now().Add(d.inst.Config.SessionDuration), k.ExpiresAt, 10*time.Second)
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &fields))
			assert.Equal(t, `""`, string(fields["token_name"]))
		})

		t.Run("it signs in and is not listed among the tokens", func(t *testing.T) {
			d := d.in(t)
			r := d.send(http.MethodGet, "/users/me", nil, withBearer(key))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			for _, k := range d.listTokens(owner, "me", true) {
				assert.NotEqual(t, keyID(key), k.Id)
			}
		})

		t.Run("it slides forward when used", func(t *testing.T) {
			d := d.in(t)
			lastUsed := store.Now().Add(-2 * time.Minute)
			require.NoError(t, st.TouchAPIKey(ctx, keyID(key), lastUsed, store.Now().Add(time.Hour)))
			r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			k, _ := d.apiKey(owner, "me", keyID(key))
			assert.True(t, k.LastUsed.After(lastUsed), "the use is recorded")
			assert.WithinDuration(t, store.Now().Add(d.inst.Config.SessionDuration), k.ExpiresAt, 10*time.Second,
				"the expiry slides to a full session duration from now")
		})

		t.Run("the owner makes one for a member; a member cannot for the owner", func(t *testing.T) {
			d := d.in(t)
			alice, aliceSession := d.createMember(owner, "alice")
			made, err := d.as(owner).CreateAPIKeyWithResponse(ctx, "alice")
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, made.StatusCode(), string(made.Body))
			d.remember(made.JSON201.Key)
			me, err := d.as(made.JSON201.Key).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Equal(t, alice.Id, me.JSON200.Id)

			refused, err := d.as(aliceSession).CreateAPIKeyWithResponse(ctx, "owner")
			require.NoError(t, err)
			requireError(t, refused.StatusCode(), refused.Body, http.StatusNotFound, msgNotFound)
		})
	})
}

func TestConcurrentCreatesOfOneTokenNameGiveOneWinner(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		closeSpareConnectionsAtEnd(t)
		owner := d.setupOwner()
		client := d.as(owner)
		ctx := context.Background()

		outcomes := race(16, func(int) outcome {
			resp, err := client.CreateTokenWithResponse(ctx, "me", gen.CreateTokenRequest{TokenName: name("stampede")})
			if err != nil {
				return outcome{err: err}
			}
			return outcome{status: resp.StatusCode(), body: string(resp.Body)}
		})
		requireOneWinner(t, outcomes, http.StatusCreated, msgTokenExists("stampede"))
		assert.Equal(t, []string{"owner/stampede"}, tokenNames(d.listTokens(owner, "me", false)))
	})
}

func TestATokenIsRefusedOnceItsFixedLifetimeEnds(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("brief"), Lifetime: lifetime(time.Second)})
		r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
		require.Equal(t, http.StatusOK, r.Status, "a fresh token works: %s", r.Body)

		time.Sleep(1500 * time.Millisecond)

		r = d.send(http.MethodGet, "/users/me", nil, withSessionHeader(key))
		env := requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
		assert.Contains(t, strings.ToLower(detailOf(env)), "expired")
	})
}

func TestTokensNeverReachTheLog(t *testing.T) {
	logs := &testenv.LockedBuffer{}
	cfg := testenv.Databases()[0].NewConfig(t)
	d := watch(t, testenv.StartWithLogger(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	owner := d.setupOwner()
	key := d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: name("quiet")})
	for _, edit := range []requestEdit{withSessionHeader(key), withCookie(key), withQueryToken(key), withBearer(key)} {
		r := d.send(http.MethodGet, "/users/me", nil, edit)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	_, secret, _ := strings.Cut(key, "-")
	require.Contains(t, logs.String(), "/users/me/keys/tokens", "the requests were logged")
	assert.NotContains(t, logs.String(), secret, "no log line carries the token's secret")
}

// A lifetime is in nanoseconds, but stored times keep microseconds (all PostgreSQL keeps): an
// expiry is cut to the microsecond when the token is made, so it reads back the same on both
// databases and in the audit entry.
func TestATokenExpiryKeepsMicroseconds(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		for _, lifetime := range []string{"3600000000999", "1500"} {
			r := d.send(http.MethodPost, "/users/me/keys/tokens", []byte(`{"token_name":"ns`+lifetime+`","lifetime":`+lifetime+`}`), withSessionHeader(owner))
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			r = d.send(http.MethodGet, "/users/me/keys/tokens/ns"+lifetime, nil, withSessionHeader(owner))
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var key struct {
				ExpiresAt string `json:"expires_at"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &key))
			assert.Regexp(t, `^[0-9-]+T[0-9:]+(\.[0-9]{1,6})?Z$`, key.ExpiresAt, "lifetime %s ns", lifetime)
		}
	})
}
