package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestTokenListsArePaginated(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		for _, name := range []string{"t1", "t2", "t3"} {
			n := name
			d.createToken(owner, "me", gen.CreateTokenRequest{TokenName: &n})
		}
		list := func(params gen.ListTokensParams) *gen.ListTokensResult {
			resp, err := d.as(owner).ListTokensWithResponse(context.Background(), "me", &params)
			require.NoError(t, err)
			return resp
		}
		names := func(resp *gen.ListTokensResult) []string {
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			var out []string
			for _, k := range *resp.JSON200 {
				out = append(out, k.TokenName)
			}
			return out
		}
		str := func(s string) *string { return &s }

		all := list(gen.ListTokensParams{})
		assert.Equal(t, []string{"t1", "t2", "t3"}, names(all), "without limit, everything")
		assert.Equal(t, []string{"t1", "t2"}, names(list(gen.ListTokensParams{Limit: str("2")})))
		assert.Equal(t, []string{"t2", "t3"}, names(list(gen.ListTokensParams{Offset: str("1")})))
		first := (*all.JSON200)[0].Id
		assert.Equal(t, []string{"t2"}, names(list(gen.ListTokensParams{Limit: str("1"), AfterId: &first})))

		bad := list(gen.ListTokensParams{AfterId: str("not-a-key-id"), Limit: str("x")})
		env := requireError(t, bad.StatusCode(), bad.Body, http.StatusBadRequest, "Query parameters have invalid values.")
		assert.ElementsMatch(t, []string{"after_id", "limit"}, validationFields(env))
	})
}
