package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// Coder's SDK asks for a narrower token with scopes (and allow_list). entitle issues only keys
// that may do all their user may: a narrower request is refused, never answered with a key
// wider than asked for.
func TestATokenNarrowerThanAllIsRefusedNotWidened(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		tokens := func() string {
			got := d.send(http.MethodGet, "/users/me/keys/tokens", nil, withSessionHeader(owner))
			require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
			return string(got.Body)
		}
		before := tokens()

		for name, body := range map[string]string{
			"a resource scope":           `{"token_name":"narrow","scopes":["workspace:read"]}`,
			"all beside a narrower one":  `{"token_name":"narrow","scopes":["all","application_connect"]}`,
			"application_connect":        `{"token_name":"narrow","scopes":["application_connect"]}`,
			"an allow list of one thing": `{"token_name":"narrow","allow_list":[{"type":"workspace","id":"4f0d8c1e-7c43-4b8b-9d57-2f1e3c1b9a10"}]}`,
		} {
			t.Run(name+" is refused", func(t *testing.T) {
				got := d.in(t).send(http.MethodPost, "/users/me/keys/tokens", []byte(body), withSessionHeader(owner))
				env := requireError(t, got.Status, got.Body, http.StatusBadRequest, "Failed to validate create API key request.")
				require.NotNil(t, env.Validations, "%s", got.Body)
				require.Len(t, *env.Validations, 1, "%s", got.Body)
				assert.Contains(t, []string{"scopes", "allow_list"}, (*env.Validations)[0].Field)
				assert.Equal(t, before, tokens(), "no token was made")
			})
		}

		for name, body := range map[string]string{
			"all":             `{"token_name":"wide-1","scopes":["all"]}`,
			"coder:all":       `{"token_name":"wide-2","scopes":["coder:all"]}`,
			"no scopes":       `{"token_name":"wide-3","scopes":[]}`,
			"null scopes":     `{"token_name":"wide-4","scopes":null}`,
			"allow all":       `{"token_name":"wide-5","allow_list":[{"type":"*","id":"*"}]}`,
			"empty allow":     `{"token_name":"wide-6","allow_list":[]}`,
			"the scope field": `{"token_name":"wide-7","scope":"all"}`,
		} {
			t.Run(name+" is a token that may do all", func(t *testing.T) {
				got := d.in(t).send(http.MethodPost, "/users/me/keys/tokens", []byte(body), withSessionHeader(owner))
				require.Equal(t, http.StatusCreated, got.Status, "%s", got.Body)
			})
		}
	})
}
