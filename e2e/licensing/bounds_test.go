package licensing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// signedPayload signs a valid license payload with some claims' JSON replaced, as written, so a
// test can give a claim a value that no time.Time would marshal to.
func signedPayload(t *testing.T, is *testenv.Issuer, replace map[string]string) string {
	t.Helper()
	good, err := json.Marshal(claims())
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(good, &fields))
	for claim, value := range replace {
		fields[claim] = json.RawMessage(value)
	}
	payload, err := json.Marshal(fields)
	require.NoError(t, err)
	return is.SignRaw(`{"alg":"EdDSA","kid":"`+is.Kid+`","typ":"JWT"}`, string(payload))
}

func TestUploadsRefuseTimesOutside1970To9999(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()
		seconds := func(tm time.Time) string { return fmt.Sprint(tm.Unix()) }
		// What `license sign --not-before 9999-12-01T00:00:00Z --expires 60d` would write.
		lateStart := time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
		lateEnd := lateStart.Add(60 * 24 * time.Hour)

		type upload struct {
			name    string
			replace map[string]string
			claim   string
		}
		cases := []upload{
			{"a paid term that ends after 9999", map[string]string{
				"nbf": seconds(lateStart), "license_expires": seconds(lateEnd), "exp": seconds(lateEnd.Add(7 * 24 * time.Hour)),
			}, "exp"},
			{"a paid term inside 9999 whose grace ends after it", map[string]string{
				"nbf": seconds(lateStart), "license_expires": seconds(lateStart.Add(24 * time.Hour)), "exp": seconds(lateEnd),
			}, "exp"},
			{"an expiry in the year 318857", map[string]string{"exp": "9999999999999"}, "exp"},
			{"license_expires after 9999", map[string]string{"license_expires": "253402300800"}, "license_expires"},
			{"license_expires before 1970", map[string]string{"license_expires": "-1"}, "license_expires"},
			{"exp a fraction that rounds into the year 10000", map[string]string{"exp": "253402300799.9999999"}, "exp"},
			{"exp too big for a float64", map[string]string{"exp": "1e400"}, "exp"},
			{"exp written as a string", map[string]string{"exp": `"1900000000"`}, "exp"},
			{"nbf after 9999", map[string]string{"nbf": "253402300800"}, "nbf"},
			{"nbf before 1970", map[string]string{"nbf": "-1e300"}, "nbf"},
			{"nbf a boolean", map[string]string{"nbf": "true"}, "nbf"},
			{"iat after 9999", map[string]string{"iat": "1e300"}, "iat"},
			{"iat before 1970", map[string]string{"iat": "-0.5"}, "iat"},
		}
		for _, tc := range cases {
			t.Run("an upload with "+tc.name+" is a 400 naming "+tc.claim, func(t *testing.T) {
				resp, err := d.owner.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: signedPayload(t, d.issuer, tc.replace)})
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode(), string(resp.Body))
				env := envelope(t, resp.Body)
				assert.Equal(t, msgInvalidLicense, env.Message)
				assert.Contains(t, detailOf(env), tc.claim+" is ", "the detail names the claim")
			})
		}

		t.Run("nothing was stored and the list still answers", func(t *testing.T) {
			resp, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			assert.Empty(t, *resp.JSON200)
			ent := entitlementsOf(t, d.inst.Client)
			assert.False(t, ent.HasLicense)
			assert.Empty(t, ent.Errors)
		})

		t.Run("a license ending on the last day of 9999 is accepted and listed", func(t *testing.T) {
			last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
			stored := d.upload(t, signedPayload(t, d.issuer, map[string]string{
				"license_expires": seconds(last.Add(-24 * time.Hour)), "exp": seconds(last),
			}))
			resp, err := d.owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			require.Len(t, *resp.JSON200, 1)
			assert.Equal(t, stored.Id, (*resp.JSON200)[0].Id)
		})
	})
}
