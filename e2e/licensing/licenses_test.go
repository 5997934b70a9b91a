package licensing

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
)

const (
	msgNotFound         = "Resource not found or you do not have access to this resource"
	msgValidationFailed = "Validation failed."
	msgInvalidLicense   = "Invalid license"
	msgWrongDeployment  = "License cannot be used on this deployment."
	msgAlreadyAdded     = "License has already been added."
	msgRefreshed        = "Entitlements updated."
	msgKeysUnreadable   = "The license keys cannot be read."
)

// bigUserLimit is 2^53+1, the smallest integer a float64 cannot hold: a server that decodes
// claims into float64 and re-encodes them would print ...992.
const bigUserLimit = 9007199254740993

// rawRequest sends a request with the given JSON body (or none) as the holder of token, through
// the validating client, and returns status and body.
func rawRequest(t *testing.T, inst *testenv.Instance, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, inst.APIURL()+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(server.SessionHeader, token)
	}
	resp, err := inst.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, buf.Bytes()
}

// envelope decodes an error body.
func envelope(t *testing.T, body []byte) gen.Response {
	t.Helper()
	var r gen.Response
	require.NoError(t, json.Unmarshal(body, &r), "error body is not the envelope: %s", body)
	return r
}

func detailOf(r gen.Response) string {
	if r.Detail == nil {
		return ""
	}
	return *r.Detail
}

// requireValidationOfLicense checks a 400 "Validation failed." that names the license field.
func requireValidationOfLicense(t *testing.T, status int, body []byte) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, status, string(body))
	env := envelope(t, body)
	assert.Equal(t, msgValidationFailed, env.Message, string(body))
	require.NotNil(t, env.Validations, "no validations in %s", body)
	fields := make([]string, 0, len(*env.Validations))
	for _, v := range *env.Validations {
		fields = append(fields, v.Field)
		assert.NotEmpty(t, v.Detail, "validation of %s has no detail", v.Field)
	}
	assert.Equal(t, []string{"license"}, fields, string(body))
}

// uploadedAtRE is RFC 3339 in UTC with at most microsecond precision.
var uploadedAtRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$`)

func TestAddingALicense(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()

		t.Run("the owner gets 201 with id, uuid, uploaded_at and the claims exactly as signed", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.Features["user_limit"] = bigUserLimit
				c.Features["audit_log"] = 1
			}))
			before := time.Now().Add(-time.Second)
			resp, err := d.owner.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))

			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(resp.Body, &fields))
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			assert.Equal(t, []string{"claims", "id", "uploaded_at", "uuid"}, keys, "body: %s", resp.Body)
			assert.Regexp(t, `^[1-9][0-9]*$`, string(fields["id"]), "id must be a JSON integer")

			var uploadedAt string
			require.NoError(t, json.Unmarshal(fields["uploaded_at"], &uploadedAt))
			assert.Regexp(t, uploadedAtRE, uploadedAt)
			parsed, err := time.Parse(time.RFC3339Nano, uploadedAt)
			require.NoError(t, err)
			assert.WithinRange(t, parsed, before, time.Now().Add(time.Second))

			payload := payloadOf(t, token)
			assert.Equal(t, string(payload), string(resp.JSON201.Claims), "claims must be the payload byte for byte")
			assert.Contains(t, string(resp.Body), `"user_limit":9007199254740993`, "the large integer must keep every digit")
		})

		t.Run("uuid is the jti when the jti is a UUID", func(t *testing.T) {
			jti := uuid.New()
			got := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.ID = jti.String() })))
			assert.Equal(t, jti, got.Uuid)
		})

		t.Run("uuid is a fresh valid UUID when the jti is not one", func(t *testing.T) {
			first := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.ID = "license-42"; c.AccountID = "one" })))
			second := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.ID = "license-42"; c.AccountID = "two" })))
			none := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.ID = "" })))
			for _, l := range []gen.License{first, second, none} {
				assert.NotEqual(t, uuid.Nil, l.Uuid)
				assert.Equal(t, uuid.Version(4), l.Uuid.Version(), "uuid %s", l.Uuid)
			}
			assert.NotEqual(t, first.Uuid, second.Uuid, "two licenses with the same non-UUID jti need distinct uuids")
		})

		t.Run("claims are the payload verbatim even when it has spaces", func(t *testing.T) {
			now := time.Now().Unix()
			payload := `{ "version": 3,  "exp": ` + strconv.FormatInt(now+3600, 10) +
				`, "license_expires": ` + strconv.FormatInt(now+1800, 10) +
				`, "iat": ` + strconv.FormatInt(now, 10) + `, "features": { "user_limit": 9007199254740993 } }`
			token := d.issuer.SignRaw(`{"alg":"EdDSA","typ":"JWT","kid":"test-key"}`, payload)
			got := d.upload(t, token)
			assert.Equal(t, payload, string(got.Claims))
		})

		t.Run("claims are the payload verbatim even when it has characters JSON encoders like to escape", func(t *testing.T) {
			// json.Marshal would write \u0026 for &, so the payload is written by hand.
			now := time.Now().Unix()
			payload := `{"version":3,"exp":` + strconv.FormatInt(now+3600, 10) +
				`,"license_expires":` + strconv.FormatInt(now+1800, 10) +
				`,"account_id":"Smith & Sons <ops>"}`
			got := d.upload(t, d.issuer.SignRaw(`{"alg":"EdDSA","typ":"JWT","kid":"test-key"}`, payload))
			assert.Equal(t, payload, string(got.Claims))
		})

		t.Run("the identical token a second time is 409", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = "twice" }))
			d.upload(t, token)
			resp, err := d.owner.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
			require.NoError(t, err)
			require.Equal(t, http.StatusConflict, resp.StatusCode(), string(resp.Body))
			assert.Equal(t, msgAlreadyAdded, resp.JSON409.Message)
		})

		t.Run("a license with a trailing newline is accepted and stored trimmed", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = "newline" }))
			got := d.upload(t, token+"\n")
			assert.Equal(t, string(payloadOf(t, token)), string(got.Claims))

			resp, err := d.owner.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
			require.NoError(t, err)
			assert.Equal(t, http.StatusConflict, resp.StatusCode(), "the trimmed token is the same license: %s", resp.Body)
		})

		t.Run("the token appears in no response body", func(t *testing.T) {
			token := d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = "secret-token" }))
			signature := token[strings.LastIndex(token, ".")+1:]
			added, err := d.owner.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, added.StatusCode(), string(added.Body))
			listed, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, listed.StatusCode(), string(listed.Body))
			for name, body := range map[string][]byte{"POST /licenses": added.Body, "GET /licenses": listed.Body} {
				assert.NotContains(t, string(body), token, "%s returned the token", name)
				assert.NotContains(t, string(body), signature, "%s returned the token's signature", name)
			}
		})

		t.Run("a missing license field is 400 validation naming license", func(t *testing.T) {
			status, body := rawRequest(t, d.inst, d.ownerToken, http.MethodPost, "/licenses", `{}`)
			requireValidationOfLicense(t, status, body)
		})

		t.Run("an empty license is 400 validation naming license", func(t *testing.T) {
			status, body := rawRequest(t, d.inst, d.ownerToken, http.MethodPost, "/licenses", `{"license":""}`)
			requireValidationOfLicense(t, status, body)
		})

		t.Run("a license of only white space is 400 validation naming license", func(t *testing.T) {
			status, body := rawRequest(t, d.inst, d.ownerToken, http.MethodPost, "/licenses", `{"license":" \n"}`)
			requireValidationOfLicense(t, status, body)
		})
	})
}

// rejectedUpload is a license an upload must refuse, and how.
type rejectedUpload struct {
	name        string
	token       string
	wantMessage string
	wantDetail  []string // each must appear in the detail
}

// rejectedUploads makes, for d, a token that fails each upload check.
func rejectedUploads(t *testing.T, d *deployment) []rejectedUpload {
	t.Helper()
	ownID := deploymentID(t, d.inst.Client)
	stranger := testenv.NewIssuer(t, t.TempDir(), "stranger") // a key the server does not trust
	impostor := testenv.NewIssuer(t, t.TempDir(), "test-key") // the trusted kid, the wrong private key
	now := time.Now()
	otherDeployment := "00000000-0000-4000-8000-000000000001"
	exp := now.Add(-time.Hour).Truncate(time.Second)

	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"version": 3}).SignedString([]byte("secret"))
	require.NoError(t, err)
	noKid := d.issuer.SignRaw(`{"alg":"EdDSA","typ":"JWT"}`, `{"version":3}`)
	valid, err := json.Marshal(claims())
	require.NoError(t, err)
	withClaims := func(extra string) string { return string(valid[:len(valid)-1]) + "," + extra + "}" }
	twice := withClaims(`"features":{"scim":1},"features":{"audit_log":1}`)
	notUTF8 := withClaims("\"iss\":\"\xff\"")
	// Go's decoder reads "EXP" as exp (it matches field names ignoring case); the echoed claims
	// and every other reader say exp is the other one.
	otherCase := withClaims(`"EXP":` + strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10))
	// Coder's SDK reads claims as map[string]any: a number no float64 holds fails the whole list.
	outOfRange := withClaims(`"note":1e400`)

	return []rejectedUpload{
		{
			name: "a license signed by an unknown kid is rejected naming the kid", token: stranger.Sign(t, claims()),
			wantMessage: msgInvalidLicense, wantDetail: []string{"stranger"},
		},
		{
			name: "a license with a bad signature is rejected naming the signature", token: impostor.Sign(t, claims()),
			wantMessage: msgInvalidLicense, wantDetail: []string{"signature"},
		},
		{
			name: "an expired license is rejected giving the expiry time",
			token: d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.ExpiresAt = jwt.NewNumericDate(exp)
				c.LicenseExpires = jwt.NewNumericDate(exp.Add(-time.Hour))
			})),
			wantMessage: msgInvalidLicense, wantDetail: []string{"expired", exp.UTC().Format(time.RFC3339)},
		},
		{
			name: "a license for another deployment is rejected listing both ids",
			token: d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.DeploymentIDs = []string{otherDeployment}
			})),
			wantMessage: msgWrongDeployment, wantDetail: []string{otherDeployment, ownID},
		},
		{
			name: "a malformed token is rejected", token: "not-a-license",
			wantMessage: msgInvalidLicense, wantDetail: []string{"malformed"},
		},
		{
			name: "an HS256 token is rejected naming the algorithm", token: hs256,
			wantMessage: msgInvalidLicense, wantDetail: []string{"HS256"},
		},
		{
			name:        "an unsigned alg none token is rejected naming the algorithm",
			token:       "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoidGVzdC1rZXkifQ.eyJ2ZXJzaW9uIjozfQ.",
			wantMessage: msgInvalidLicense, wantDetail: []string{"none"},
		},
		{
			name: "a token without a kid is rejected naming the kid", token: noKid,
			wantMessage: msgInvalidLicense, wantDetail: []string{"kid"},
		},
		{
			name:        "a license of version 2 is rejected naming the version",
			token:       d.issuer.Sign(t, claims(func(c *license.Claims) { c.Version = 2 })),
			wantMessage: msgInvalidLicense, wantDetail: []string{"version"},
		},
		{
			name:        "a license without exp is rejected naming exp",
			token:       d.issuer.Sign(t, claims(func(c *license.Claims) { c.ExpiresAt = nil })),
			wantMessage: msgInvalidLicense, wantDetail: []string{"exp"},
		},
		{
			name:        "a license without license_expires is rejected naming it",
			token:       d.issuer.Sign(t, claims(func(c *license.Claims) { c.LicenseExpires = nil })),
			wantMessage: msgInvalidLicense, wantDetail: []string{"license_expires"},
		},
		{
			name: "a license whose license_expires is after exp is rejected naming both",
			token: d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.LicenseExpires = jwt.NewNumericDate(c.ExpiresAt.Add(time.Hour))
			})),
			wantMessage: msgInvalidLicense, wantDetail: []string{"license_expires", "exp"},
		},
		{
			name:        "a license issued an hour in the future is rejected naming iat",
			token:       d.issuer.Sign(t, claims(func(c *license.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
			wantMessage: msgInvalidLicense, wantDetail: []string{"future"},
		},
		{
			// golang-jwt merged the two objects (scim and audit_log both entitled) while a
			// browser reading the echoed claims saw only the last.
			name:        "a license giving a claim twice is rejected naming it",
			token:       d.issuer.SignRaw(`{"alg":"EdDSA","kid":"`+d.issuer.Kid+`","typ":"JWT"}`, twice),
			wantMessage: msgInvalidLicense, wantDetail: []string{`"features" more than once`},
		},
		{
			name:        "a license whose claims are not UTF-8 is rejected naming the claim",
			token:       d.issuer.SignRaw(`{"alg":"EdDSA","kid":"`+d.issuer.Kid+`","typ":"JWT"}`, notUTF8),
			wantMessage: msgInvalidLicense, wantDetail: []string{"not UTF-8", `"iss"`},
		},
		{
			name:        "a license giving a claim's name in another case is rejected naming both",
			token:       d.issuer.SignRaw(`{"alg":"EdDSA","kid":"`+d.issuer.Kid+`","typ":"JWT"}`, otherCase),
			wantMessage: msgInvalidLicense, wantDetail: []string{`"EXP"`, `"exp" only in case`},
		},
		{
			name:        "a license holding a number beyond a float64 is rejected naming the claim",
			token:       d.issuer.SignRaw(`{"alg":"EdDSA","kid":"`+d.issuer.Kid+`","typ":"JWT"}`, outOfRange),
			wantMessage: msgInvalidLicense, wantDetail: []string{"1e400", `"note"`},
		},
	}
}

func TestRejectedLicenses(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		now := time.Now()
		cases := rejectedUploads(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := d.owner.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: tc.token})
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode(), string(resp.Body))
				env := envelope(t, resp.Body)
				assert.Equal(t, tc.wantMessage, env.Message)
				detail := detailOf(env)
				require.NotEmpty(t, detail, "the detail must name the cause")
				for _, want := range tc.wantDetail {
					assert.Contains(t, detail, want)
				}
			})
		}

		t.Run("no rejected license was stored", func(t *testing.T) {
			resp, err := d.owner.GetLicensesWithResponse(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Empty(t, *resp.JSON200)
		})

		t.Run("a license whose nbf is in the future is accepted", func(t *testing.T) {
			d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) {
				c.NotBefore = jwt.NewNumericDate(now.Add(24 * time.Hour))
			})))
		})
	})
}

func TestListingLicenses(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)

		t.Run("licenses are listed by id, each as its upload returned it", func(t *testing.T) {
			var uploaded []json.RawMessage
			for _, account := range []string{"first", "second", "third"} {
				token := d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = account }))
				resp, err := d.owner.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
				uploaded = append(uploaded, json.RawMessage(bytes.TrimSpace(resp.Body)))
			}

			resp, err := d.owner.GetLicensesWithResponse(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			var listed []json.RawMessage
			require.NoError(t, json.Unmarshal(resp.Body, &listed))
			require.Len(t, listed, len(uploaded))

			ids := make([]int32, 0, len(listed))
			for _, l := range *resp.JSON200 {
				ids = append(ids, l.Id)
			}
			assert.True(t, slices.IsSorted(ids), "ids %v are not ascending", ids)
			for i := range uploaded {
				assert.JSONEq(t, string(uploaded[i]), string(listed[i]), "license %d", i)
				assert.Equal(t, string(uploaded[i]), string(listed[i]), "license %d is not byte for byte what its upload returned", i)
			}
		})
	})
}

func TestDeletingLicenses(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()

		t.Run("deleting a license gives 200 and deleting it again gives 404", func(t *testing.T) {
			keep := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = "keep" })))
			gone := d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = "gone" })))
			id := strconv.Itoa(int(gone.Id))

			resp, err := d.owner.DeleteLicenseWithResponse(ctx, id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))

			again, err := d.owner.DeleteLicenseWithResponse(ctx, id)
			require.NoError(t, err)
			require.Equal(t, http.StatusNotFound, again.StatusCode(), string(again.Body))
			assert.Equal(t, msgNotFound, again.JSON404.Message)

			listed, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, listed.StatusCode(), string(listed.Body))
			require.Len(t, *listed.JSON200, 1)
			assert.Equal(t, keep.Id, (*listed.JSON200)[0].Id)
		})

		t.Run("an id written other than in plain digits names no license", func(t *testing.T) {
			kept := d.upload(t, d.issuer.Sign(t, claims(allFeatures)))
			n := strconv.Itoa(int(kept.Id))
			for _, id := range []string{"+" + n, "0" + n, " " + n, n + " "} {
				resp, err := d.owner.DeleteLicenseWithResponse(ctx, id)
				require.NoError(t, err)
				require.Equal(t, http.StatusNotFound, resp.StatusCode(), "%q: %s", id, resp.Body)
			}
			listed, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			assert.Contains(t, string(listed.Body), kept.Uuid.String(), "the license is still there")
		})

		for _, id := range []string{"abc", "-1", "0", "99999999999", "1.0", "1e3"} {
			t.Run("deleting license "+id+" gives 404", func(t *testing.T) {
				resp, err := d.owner.DeleteLicenseWithResponse(ctx, id)
				require.NoError(t, err)
				require.Equal(t, http.StatusNotFound, resp.StatusCode(), string(resp.Body))
				assert.Equal(t, msgNotFound, envelope(t, resp.Body).Message)
			})
		}
	})
}

func TestMembersCannotManageLicenses(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()
		_, memberToken := d.inst.CreateMember(t, d.ownerToken, "bob")
		member := d.inst.ClientWithToken(t, memberToken)
		stored := d.upload(t, d.issuer.Sign(t, claims()))

		t.Run("a member adding a license gets 403", func(t *testing.T) {
			resp, err := member.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: d.issuer.Sign(t, claims())})
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode(), string(resp.Body))
		})
		t.Run("a member listing licenses gets 403", func(t *testing.T) {
			resp, err := member.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode(), string(resp.Body))
		})
		t.Run("a member deleting a license gets 403 and the license stays", func(t *testing.T) {
			resp, err := member.DeleteLicenseWithResponse(ctx, strconv.Itoa(int(stored.Id)))
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode(), string(resp.Body))
			listed, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, listed.StatusCode(), string(listed.Body))
			assert.Len(t, *listed.JSON200, 1)
		})
		t.Run("a member refreshing entitlements gets 403 and does not use up the cooldown", func(t *testing.T) {
			resp, err := member.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode(), string(resp.Body))
			owner, err := d.owner.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusCreated, owner.StatusCode(), string(owner.Body))
		})
	})
}

// refreshOutcome is one refresh call's result, gathered so assertions run on the test goroutine.
type refreshOutcome struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// refreshAtOnce fires one refresh per client, all released together.
func refreshAtOnce(clients []*gen.ClientWithResponses) []refreshOutcome {
	out := make([]refreshOutcome, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			resp, err := c.RefreshEntitlementsWithResponse(context.Background())
			if err != nil {
				out[i] = refreshOutcome{err: err}
				return
			}
			out[i] = refreshOutcome{status: resp.StatusCode(), retryAfter: resp.HTTPResponse.Header.Get("Retry-After"), body: string(resp.Body)}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// requireOneRefreshWins checks exactly one 201 and 429s with a valid Retry-After otherwise.
func requireOneRefreshWins(t *testing.T, outcomes []refreshOutcome, cooldown time.Duration) {
	t.Helper()
	created, limited := 0, 0
	for i, o := range outcomes {
		require.NoError(t, o.err, "refresh %d", i)
		require.Less(t, o.status, 500, "refresh %d: %s", i, o.body)
		switch o.status {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			limited++
			requireRetryAfter(t, o.retryAfter, cooldown)
		default:
			t.Errorf("refresh %d: status %d: %s", i, o.status, o.body)
		}
	}
	assert.Equal(t, 1, created, "exactly one refresh must win")
	assert.Equal(t, len(outcomes)-1, limited, "every other refresh must be rate limited")
}

// requireRetryAfter checks a Retry-After of whole seconds, at least 1 and at most the cooldown.
func requireRetryAfter(t *testing.T, value string, cooldown time.Duration) {
	t.Helper()
	seconds, err := strconv.Atoi(value)
	require.NoError(t, err, "Retry-After %q is not an integer number of seconds", value)
	assert.GreaterOrEqual(t, seconds, 1, "Retry-After")
	assert.LessOrEqual(t, seconds, int(cooldown/time.Second), "Retry-After")
}

func TestRefreshingEntitlements(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()

		t.Run("a refresh gives 201 and one right after it gives 429 with Retry-After within the cooldown", func(t *testing.T) {
			const cooldown = 30 * time.Second
			d := startDeployment(t, db, func(c *server.Config) { c.EntitlementsRefreshCooldown = cooldown })
			ctx := context.Background()

			first, err := d.owner.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, first.StatusCode(), string(first.Body))
			assert.JSONEq(t, `{"message":"`+msgRefreshed+`"}`, string(first.Body))

			second, err := d.owner.RefreshEntitlementsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, http.StatusTooManyRequests, second.StatusCode(), string(second.Body))
			requireRetryAfter(t, second.HTTPResponse.Header.Get("Retry-After"), cooldown)
			assert.NotEmpty(t, envelope(t, second.Body).Message)
		})

		t.Run("sixteen concurrent refreshes on a fresh server give exactly one 201", func(t *testing.T) {
			const cooldown = 60 * time.Second
			d := startDeployment(t, db, func(c *server.Config) { c.EntitlementsRefreshCooldown = cooldown })
			clients := make([]*gen.ClientWithResponses, 16)
			for i := range clients {
				clients[i] = d.owner
			}
			requireOneRefreshWins(t, refreshAtOnce(clients), cooldown)
		})
	})
}
