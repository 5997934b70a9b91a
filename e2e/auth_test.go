package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestLogin(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.setupOwner()
		ctx := context.Background()

		t.Run("a correct password gives a token and an HttpOnly SameSite=Lax cookie", func(t *testing.T) {
			resp, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: testenv.OwnerEmail, Password: testenv.OwnerPassword,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
			token := resp.JSON201.SessionToken
			d.remember(token)
			assert.Regexp(t, tokenPattern, token)

			var cookie *http.Cookie
			for _, c := range resp.HTTPResponse.Cookies() {
				if c.Name == sessionCookieName {
					cookie = c
				}
			}
			require.NotNil(t, cookie, "Set-Cookie: %v", resp.HTTPResponse.Header.Values("Set-Cookie"))
			assert.Equal(t, token, cookie.Value)
			assert.True(t, cookie.HttpOnly, "the cookie is HttpOnly")
			assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite, "the cookie is SameSite=Lax")
		})

		t.Run("each sign-in gives a different token", func(t *testing.T) {
			d := d.in(t)
			first := d.login(testenv.OwnerEmail, testenv.OwnerPassword)
			second := d.login(testenv.OwnerEmail, testenv.OwnerPassword)
			assert.NotEqual(t, first, second)
		})

		t.Run("an unknown email and a wrong password are refused alike", func(t *testing.T) {
			unknown, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: "nobody@example.com", Password: testenv.OwnerPassword,
			})
			require.NoError(t, err)
			requireError(t, unknown.StatusCode(), unknown.Body, http.StatusUnauthorized, msgBadLogin)

			wrong, err := d.in(t).anon().LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: testenv.OwnerEmail, Password: "wrong-password",
			})
			require.NoError(t, err)
			requireError(t, wrong.StatusCode(), wrong.Body, http.StatusUnauthorized, msgBadLogin)

			assert.JSONEq(t, string(unknown.Body), string(wrong.Body), "the two refusals must be indistinguishable")
			assert.Empty(t, wrong.HTTPResponse.Cookies(), "a refused sign-in sets no cookie")
		})
	})
}

func TestEveryTokenLocationIsAccepted(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		cases := []struct {
			name string
			edit requestEdit
		}{
			{"the Coder-Session-Token header", withSessionHeader(token)},
			{"the coder_session_token cookie", withCookie(token)},
			{"the coder_session_token query parameter", withQueryToken(token)},
			{"an Authorization Bearer header", withBearer(token)},
		}
		for _, tc := range cases {
			t.Run(tc.name+" signs the caller in", func(t *testing.T) {
				r := d.in(t).send(http.MethodGet, "/users/me", nil, tc.edit)
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				assert.Equal(t, testenv.OwnerUsername, rawString(t, r.Body, "username"))
			})
		}
	})
}

func TestTheFirstTokenLocationWins(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		good := d.setupOwner()
		// Well-formed but unknown: rejected as invalid whenever it is the one read.
		bad := "AAAAAAAAAA-BBBBBBBBBBBBBBBBBBBBBB"
		cases := []struct {
			name  string
			edits []requestEdit
			ok    bool
		}{
			{"a valid header wins over a bad cookie", []requestEdit{withSessionHeader(good), withCookie(bad)}, true},
			{"a bad header wins over a valid cookie", []requestEdit{withSessionHeader(bad), withCookie(good)}, false},
			{"a valid header wins over a bad query parameter", []requestEdit{withSessionHeader(good), withQueryToken(bad)}, true},
			{"a valid header wins over a bad bearer", []requestEdit{withSessionHeader(good), withBearer(bad)}, true},
			{"a bad header wins over a valid bearer", []requestEdit{withSessionHeader(bad), withBearer(good)}, false},
			{"a valid cookie wins over a bad query parameter", []requestEdit{withCookie(good), withQueryToken(bad)}, true},
			{"a bad cookie wins over a valid query parameter", []requestEdit{withCookie(bad), withQueryToken(good)}, false},
			{"a valid cookie wins over a bad bearer", []requestEdit{withCookie(good), withBearer(bad)}, true},
			{"a valid query parameter wins over a bad bearer", []requestEdit{withQueryToken(good), withBearer(bad)}, true},
			{"a bad query parameter wins over a valid bearer", []requestEdit{withQueryToken(bad), withBearer(good)}, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := d.in(t).send(http.MethodGet, "/users/me", nil, tc.edits...)
				if tc.ok {
					require.Equal(t, http.StatusOK, r.Status, string(r.Body))
					return
				}
				requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			})
		}
	})
}

func TestUnauthorizedResponsesSayWhy(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		id, secret, ok := strings.Cut(token, "-")
		require.True(t, ok)
		otherSecret := strings.Repeat("Z", 22)
		if otherSecret == secret {
			otherSecret = strings.Repeat("Y", 22)
		}

		detail := func(t *testing.T, edits ...requestEdit) string {
			t.Helper()
			r := d.in(t).send(http.MethodGet, "/users/me", nil, edits...)
			env := requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
			require.NotEmpty(t, detailOf(env), "a 401 says why in its detail: %s", r.Body)
			return detailOf(env)
		}

		missing := detail(t)
		unknownID := detail(t, withSessionHeader("QQQQQQQQQQ-"+secret))
		wrongSecret := detail(t, withSessionHeader(id+"-"+otherSecret))

		t.Run("an unknown id and a wrong secret give the same detail", func(t *testing.T) {
			assert.Equal(t, unknownID, wrongSecret)
		})
		t.Run("missing and invalid tokens give different details", func(t *testing.T) {
			assert.NotEqual(t, missing, unknownID)
		})

		malformed := []struct {
			name  string
			token string
		}{
			{"a token without a hyphen", "abcdefghij"},
			{"a token with a short secret", id + "-" + secret[:21]},
			{"a token with a long secret", id + "-" + secret + "x"},
			{"a token with a short id", id[:9] + "-" + secret},
			{"a token with punctuation", id[:9] + "!-" + secret},
			{"a token with two hyphens", id + "-" + secret[:10] + "-" + secret[11:]},
		}
		for _, tc := range malformed {
			t.Run(tc.name+" is malformed", func(t *testing.T) {
				got := detail(t, withSessionHeader(tc.token))
				assert.NotEqual(t, missing, got, "malformed differs from missing")
				assert.NotEqual(t, unknownID, got, "malformed differs from invalid")
			})
		}

		t.Run("every protected route gives the same 401 without a token", func(t *testing.T) {
			routes := []struct {
				method, path string
				body         []byte
			}{
				{http.MethodGet, "/users/me", nil},
				{http.MethodPost, "/users/logout", nil},
				{http.MethodPost, "/users", []byte(`{"email":"bob@example.com","username":"bob","password":"bob-password"}`)},
				{http.MethodGet, "/organizations", nil},
				{http.MethodPost, "/organizations", []byte(`{"name":"acme"}`)},
				{http.MethodGet, "/organizations/default", nil},
				{http.MethodPost, "/organizations/default/members/me", nil},
			}
			for _, route := range routes {
				r := d.in(t).send(route.method, route.path, route.body)
				env := requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
				assert.Equal(t, missing, detailOf(env), "%s %s", route.method, route.path)
			}
		})
	})
}

func TestAnExpiredSessionIsRefused(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		cfg := db.NewConfig(t)
		cfg.SessionDuration = time.Second
		d := watch(t, testenv.Start(t, cfg))
		token := d.setupOwner()

		r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(token))
		require.Equal(t, http.StatusOK, r.Status, "a fresh session works: %s", r.Body)

		time.Sleep(1500 * time.Millisecond)

		r = d.send(http.MethodGet, "/users/me", nil, withSessionHeader(token))
		env := requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
		assert.Contains(t, strings.ToLower(detailOf(env)), "expired")
		assert.Regexp(t, `\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}`, detailOf(env), "the detail gives the expiry time")

		invalid := d.send(http.MethodGet, "/users/me", nil, withSessionHeader("QQQQQQQQQQ-"+strings.Repeat("Q", 22)))
		invalidEnv := requireError(t, invalid.Status, invalid.Body, http.StatusUnauthorized, msgSignedOut)
		assert.NotEqual(t, detailOf(invalidEnv), detailOf(env), "expired differs from invalid")
	})
}

// A session slides forward when used, however short --session-duration is: its expiry is
// written at most once a minute, and a session of a few seconds, used every half second,
// once expired all the same at its first end.
func TestAShortSessionInUseSlides(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		cfg := db.NewConfig(t)
		cfg.SessionDuration = 2 * time.Second
		d := watch(t, testenv.Start(t, cfg))
		token := d.setupOwner()

		for range 10 { // five seconds in use, past two ends it had
			r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(token))
			require.Equal(t, http.StatusOK, r.Status, "a session in use stays signed in: %s", r.Body)
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(2500 * time.Millisecond)
		r := d.send(http.MethodGet, "/users/me", nil, withSessionHeader(token))
		requireError(t, r.Status, r.Body, http.StatusUnauthorized, msgSignedOut)
	})
}

func TestLogout(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		other := d.login(testenv.OwnerEmail, testenv.OwnerPassword)
		ctx := context.Background()

		resp, err := d.as(token).LogoutWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		assert.NotEmpty(t, resp.JSON200.Message)

		t.Run("the cookie is cleared", func(t *testing.T) {
			var cookie *http.Cookie
			for _, c := range resp.HTTPResponse.Cookies() {
				if c.Name == sessionCookieName {
					cookie = c
				}
			}
			require.NotNil(t, cookie, "Set-Cookie: %v", resp.HTTPResponse.Header.Values("Set-Cookie"))
			assert.Empty(t, cookie.Value)
			assert.True(t, cookie.MaxAge < 0 || (!cookie.Expires.IsZero() && cookie.Expires.Before(time.Now())),
				"the cookie expires now: %v", resp.HTTPResponse.Header.Values("Set-Cookie"))
		})

		t.Run("the token no longer works", func(t *testing.T) {
			me, err := d.in(t).as(token).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			requireError(t, me.StatusCode(), me.Body, http.StatusUnauthorized, msgSignedOut)

			again, err := d.in(t).as(token).LogoutWithResponse(ctx)
			require.NoError(t, err)
			requireError(t, again.StatusCode(), again.Body, http.StatusUnauthorized, msgSignedOut)
		})

		t.Run("the user's other sessions still work", func(t *testing.T) {
			me, err := d.in(t).as(other).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
		})

		t.Run("signing out without a token is refused", func(t *testing.T) {
			r, err := d.in(t).anon().LogoutWithResponse(ctx)
			require.NoError(t, err)
			requireError(t, r.StatusCode(), r.Body, http.StatusUnauthorized, msgSignedOut)
		})
	})
}

func TestTheCurrentUser(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		def := d.defaultOrganization(ownerToken)
		ctx := context.Background()

		t.Run("the owner has the owner role and belongs to the default organization", func(t *testing.T) {
			me, err := d.in(t).as(ownerToken).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			u := me.JSON200
			assert.Equal(t, testenv.OwnerUsername, u.Username)
			assert.Equal(t, testenv.OwnerEmail, string(u.Email))
			assert.Equal(t, gen.UserStatusActive, u.Status)
			assert.Contains(t, roleNames(u.Roles), ownerRole)
			assert.Contains(t, u.OrganizationIds, def.Id)
			requireTimestamp(t, rawString(t, me.Body, "created_at"))
		})

		t.Run("a member has the member role and not the owner role", func(t *testing.T) {
			d := d.in(t)
			created, token := d.createMember(ownerToken, "alice")
			me, err := d.as(token).GetCurrentUserWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode(), string(me.Body))
			assert.Equal(t, created.Id, me.JSON200.Id)
			assert.Contains(t, roleNames(me.JSON200.Roles), memberRole)
			assert.NotContains(t, roleNames(me.JSON200.Roles), ownerRole)
			assert.Equal(t, []uuid.UUID{def.Id}, me.JSON200.OrganizationIds)
		})
	})
}
