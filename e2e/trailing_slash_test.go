package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// Coder's router answers a collection with and without a trailing slash, and Coder's SDK asks
// for some with it (OrganizationMembers: /organizations/{id}/members/).
func TestAPIPathsAnswerWithATrailingSlashAsWithout(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		d.createOrganization(owner, "blue")

		for _, path := range []string{"/organizations/blue/members", "/organizations", "/users/me", "/entitlements", "/licenses"} {
			t.Run("GET "+path+"/", func(t *testing.T) {
				d := d.in(t)
				without := d.send(http.MethodGet, path, nil, withSessionHeader(owner))
				with := d.send(http.MethodGet, path+"/", nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, without.Status, "%s", without.Body)
				require.Equal(t, without.Status, with.Status, "%s", with.Body)
				if path != "/entitlements" { // refreshed_at may move between the two
					assert.JSONEq(t, string(without.Body), string(with.Body))
				}
			})
		}

		t.Run("a POST to a collection with the slash creates", func(t *testing.T) {
			got := d.in(t).send(http.MethodPost, "/organizations/", []byte(`{"name":"green"}`), withSessionHeader(owner))
			require.Equal(t, http.StatusCreated, got.Status, "%s", got.Body)
			assert.Equal(t, "green", rawString(t, got.Body, "name"))
		})

		t.Run("only one slash is forgiven", func(t *testing.T) {
			got := d.in(t).send(http.MethodGet, "/organizations/blue/members//", nil, withSessionHeader(owner))
			requireError(t, got.Status, got.Body, http.StatusNotFound, "Route not found.")
		})

		t.Run("an escaped slash is part of the last segment, not a trailing slash", func(t *testing.T) {
			got := d.in(t).send(http.MethodGet, "/organizations/blue%2F", nil, withSessionHeader(owner))
			requireError(t, got.Status, got.Body, http.StatusNotFound, msgNotFound)
		})

		t.Run("a path outside the API keeps its slash", func(t *testing.T) {
			got := d.in(t).send(http.MethodGet, "/!healthz/", nil)
			assert.Equal(t, http.StatusNotFound, got.Status, "%s", got.Body)
		})
	})
}
