package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// idSpellings is every way Coder's uuid.Parse reads an id, besides the canonical one: its
// handlers parse path ids, after_id and JSON ids with it, so a client may send any of them.
func idSpellings(id uuid.UUID) map[string]string {
	s := id.String()
	return map[string]string{
		"canonical":             s,
		"upper case":            strings.ToUpper(s),
		"in braces":             "{" + s + "}",
		"as a URN":              "urn:uuid:" + s,
		"as a URN in uppercase": "URN:UUID:" + strings.ToUpper(s),
		"without hyphens":       strings.ReplaceAll(s, "-", ""),
	}
}

func TestEveryIDSpellingCoderReadsFindsTheSameThing(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		owner := d.setupOwner()
		org := d.createOrganization(owner, "Blue-Team")
		later := d.createOrganization(owner, "Green-Team")
		alice, _ := d.createMember(owner, "alice")

		for name, ref := range idSpellings(org.Id) {
			t.Run("an organization's id "+name+" in its path", func(t *testing.T) {
				d := d.in(t)
				got := d.send(http.MethodGet, "/organizations/"+url.PathEscape(ref), nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "GET /organizations/%s: %s", ref, got.Body)
				assert.Equal(t, org.Id.String(), rawString(t, got.Body, "id"))

				members := d.send(http.MethodGet, "/organizations/"+url.PathEscape(ref)+"/members", nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, members.Status, "GET /organizations/%s/members: %s", ref, members.Body)
			})
			t.Run("an organization's id "+name+" as after_id", func(t *testing.T) {
				d := d.in(t)
				got := d.send(http.MethodGet, "/organizations?after_id="+url.QueryEscape(ref), nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "after_id=%s: %s", ref, got.Body)
				var page []struct{ ID string }
				require.NoError(t, json.Unmarshal(got.Body, &page))
				require.NotEmpty(t, page, "the list goes on after %s", ref)
				assert.Equal(t, later.Id.String(), page[0].ID, "the page starts right after the organization")
			})
		}

		for name, ref := range idSpellings(alice.Id) {
			t.Run("a user's id "+name+" in a path", func(t *testing.T) {
				d := d.in(t)
				got := d.send(http.MethodGet, "/users/"+url.PathEscape(ref)+"/organizations", nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "GET /users/%s/organizations: %s", ref, got.Body)
				assert.Contains(t, string(got.Body), d.defaultOrganization(owner).Id.String())
			})
		}

		t.Run("an organization id in braces in a JSON body", func(t *testing.T) {
			d := d.in(t)
			body := `{"email":"bob@example.com","username":"bob","password":"` + memberPassword +
				`","organization_ids":["{` + org.Id.String() + `}"]}`
			got := d.send(http.MethodPost, "/users", []byte(body), withSessionHeader(owner))
			require.Equal(t, http.StatusCreated, got.Status, "%s", got.Body)
			var user struct {
				OrganizationIDs []string `json:"organization_ids"`
			}
			require.NoError(t, json.Unmarshal(got.Body, &user))
			assert.Equal(t, []string{org.Id.String()}, user.OrganizationIDs)
		})

		t.Run("the nil UUID is the default organization, as Coder reads it", func(t *testing.T) {
			d := d.in(t)
			want := d.defaultOrganization(owner).Id.String()
			for _, ref := range []string{uuid.Nil.String(), "{" + uuid.Nil.String() + "}"} {
				got := d.send(http.MethodGet, "/organizations/"+url.PathEscape(ref), nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "GET /organizations/%s: %s", ref, got.Body)
				assert.Equal(t, want, rawString(t, got.Body, "id"))
			}
		})

		t.Run("an organization named with 32 hex digits is still found by its name", func(t *testing.T) {
			d := d.in(t)
			name := strings.ReplaceAll(uuid.NewString(), "-", "")
			named := d.createOrganization(owner, name)
			for _, ref := range []string{name, strings.ToUpper(name)} {
				got := d.send(http.MethodGet, "/organizations/"+ref, nil, withSessionHeader(owner))
				require.Equal(t, http.StatusOK, got.Status, "GET /organizations/%s: %s", ref, got.Body)
				assert.Equal(t, named.Id.String(), rawString(t, got.Body, "id"))
			}
		})

		t.Run("32 hex digits that are both an id and a name mean the id, as in Coder", func(t *testing.T) {
			d := d.in(t)
			hex := strings.ReplaceAll(org.Id.String(), "-", "")
			d.createOrganization(owner, hex)
			got := d.send(http.MethodGet, "/organizations/"+hex, nil, withSessionHeader(owner))
			require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
			assert.Equal(t, org.Id.String(), rawString(t, got.Body, "id"))
		})

		t.Run("what is not an id in any spelling is still refused as after_id", func(t *testing.T) {
			d := d.in(t)
			for _, bad := range []string{"{" + org.Id.String(), "urn:" + org.Id.String(), org.Id.String()[1:]} {
				got := d.send(http.MethodGet, "/organizations?after_id="+url.QueryEscape(bad), nil, withSessionHeader(owner))
				requireError(t, got.Status, got.Body, http.StatusBadRequest, "Query parameters have invalid values.")
			}
		})
	})
}
