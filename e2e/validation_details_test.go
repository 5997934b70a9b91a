package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// A validation says what the field must be in words a person can act on: never a regular
// expression full of invisible characters, never a Go type name.
func TestValidationDetailsSayWhatTheFieldMustBe(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		const wholeInt64 = "must be a whole number from -9223372036854775808 to 9223372036854775807, written in digits without a fraction or exponent"
		for _, tc := range []struct {
			path, body, field, detail string
		}{
			{"/organizations", `{"name":"x1","display_name":" a"}`, "display_name", "must not begin or end with white space"},
			{"/organizations", `{"name":"x1","display_name":"\u3000"}`, "display_name", "must not begin or end with white space"},
			{"/organizations", `{"name":"-x"}`, "name", "must be letters, digits and single hyphens between them"},
			{"/users/me/keys/tokens", `{"token_name":"-x"}`, "token_name", "must be letters, digits, hyphens and underscores, starting with a letter or digit"},
			{"/users/me/keys/tokens", `{"lifetime":1e30}`, "lifetime", wholeInt64},
			{"/users/me/keys/tokens", `{"lifetime":1e9}`, "lifetime", wholeInt64},
		} {
			got := d.send(http.MethodPost, tc.path, []byte(tc.body), withSessionHeader(owner))
			env := requireError(t, got.Status, got.Body, http.StatusBadRequest, "Validation failed.")
			require.NotNil(t, env.Validations, "%s", got.Body)
			require.Len(t, *env.Validations, 1, "%s", got.Body)
			assert.Equal(t, tc.field, (*env.Validations)[0].Field, "%s", tc.body)
			assert.Equal(t, tc.detail, (*env.Validations)[0].Detail, "%s", tc.body)
		}
	})
}
