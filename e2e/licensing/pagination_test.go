package licensing

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
)

func TestLicensesArePaginated(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		var ids []int32
		for _, account := range []string{"a", "b", "c", "d", "e"} {
			ids = append(ids, d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.AccountID = account }))).Id)
		}
		idsOf := func(query string) []int32 {
			t.Helper()
			status, body := rawRequest(t, d.inst, d.ownerToken, http.MethodGet, "/licenses?"+query, "")
			require.Equal(t, http.StatusOK, status, "?%s: %s", query, body)
			var listed []gen.License
			require.NoError(t, json.Unmarshal(body, &listed))
			got := []int32{}
			for _, l := range listed {
				got = append(got, l.Id)
			}
			return got
		}
		id := func(i int) string { return strconv.Itoa(int(ids[i])) }

		t.Run("pages by limit, offset and after_id, the id of the last license seen", func(t *testing.T) {
			for _, c := range []struct {
				query string
				want  []int32
			}{
				{"", ids},
				{"limit=2", ids[:2]},
				{"limit=2&offset=2", ids[2:4]},
				{"offset=4", ids[4:]},
				{"after_id=" + id(1), ids[2:]},
				{"after_id=" + id(1) + "&limit=2", ids[2:4]},
				{"after_id=" + id(1) + "&limit=2&offset=1", ids[3:5]},
				{"after_id=" + id(4), []int32{}},
				{"after_id=0", ids},
				{"limit=1000", ids},
			} {
				assert.Equal(t, c.want, idsOf(c.query), "?%s", c.query)
			}
		})

		t.Run("bad values get Coder's message, one validation per parameter", func(t *testing.T) {
			for _, c := range []struct {
				query string
				want  []gen.ValidationError
			}{
				{"limit=0", []gen.ValidationError{{Field: "limit", Detail: `Query param "limit" must be between 1 and 1000.`}}},
				{"limit=many", []gen.ValidationError{{Field: "limit", Detail: `Query param "limit" must be a valid 32-bit positive integer.`}}},
				{"offset=-1", []gen.ValidationError{{Field: "offset", Detail: `Query param "offset" must be a valid 32-bit positive integer.`}}},
				{"after_id=" + "5a4e3c7d-4f8e-4c43-9a43-6a3b8f2e9c11", []gen.ValidationError{{Field: "after_id", Detail: `Query param "after_id" must be a valid 32-bit positive integer.`}}},
				{"after_id=-3", []gen.ValidationError{{Field: "after_id", Detail: `Query param "after_id" must be a valid 32-bit positive integer.`}}},
			} {
				status, body := rawRequest(t, d.inst, d.ownerToken, http.MethodGet, "/licenses?"+c.query, "")
				require.Equal(t, http.StatusBadRequest, status, "?%s: %s", c.query, body)
				env := envelope(t, body)
				assert.Equal(t, "Query parameters have invalid values.", env.Message)
				require.NotNil(t, env.Validations, string(body))
				assert.Equal(t, c.want, *env.Validations, "?%s", c.query)
			}
		})
	})
}
