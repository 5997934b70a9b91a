package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// Coder's answer to a bad pagination query, word for word.
const (
	msgBadQuery     = "Query parameters have invalid values."
	badLimitDetail  = `Query param "limit" must be a valid 32-bit positive integer.`
	limitRange      = `Query param "limit" must be between 1 and 1000.`
	badOffsetDetail = `Query param "offset" must be a valid 32-bit positive integer.`
	badAfterID      = `Query param "after_id" must be a valid uuid.`
)

// pagedList is one list route and how to read the ids of the items a page holds.
type pagedList struct {
	name string
	path string
	// idField names each item's id: "id" for organizations, "user_id" for members.
	idField string
	// counted lists answer {members, count} rather than an array.
	counted bool
}

func TestEveryListIsPaginated(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		crew := d.createOrganization(ownerToken, "crew")
		for i := range 4 {
			d.createOrganization(ownerToken, fmt.Sprintf("org-%d", i))
		}
		for i := range 5 {
			d.createMember(ownerToken, fmt.Sprintf("member-%d", i), crew.Id)
		}

		lists := []pagedList{
			{name: "organizations", path: "/organizations", idField: "id"},
			{name: "the user's organizations", path: "/users/me/organizations", idField: "id"},
			{name: "members", path: "/organizations/crew/members", idField: "user_id"},
			{name: "paginated members", path: "/organizations/crew/paginated-members", idField: "user_id", counted: true},
		}
		for _, list := range lists {
			t.Run(list.name, func(t *testing.T) {
				d := d.in(t)
				all := d.pageIDs(ownerToken, list, "")
				require.Len(t, all, 6, "the whole list comes without a limit")

				pages := []struct {
					query string
					want  []string
				}{
					{"limit=2", all[:2]},
					{"limit=2&offset=2", all[2:4]},
					{"offset=4", all[4:]},
					{"offset=6", []string{}},
					{"offset=2147483647", []string{}},
					{"after_id=" + all[1] + "&limit=2", all[2:4]},
					{"after_id=" + all[1] + "&offset=1&limit=2", all[3:5]},
					{"after_id=" + all[5], []string{}},
					{"after_id=" + uuid.NewString(), []string{}},
					{"limit=1000", all},
					{"limit=", all},
				}
				for _, p := range pages {
					assert.Equal(t, p.want, d.pageIDs(ownerToken, list, p.query), "?%s", p.query)
				}

				var walked []string
				after := ""
				for range len(all) {
					query := "limit=4"
					if after != "" {
						query += "&after_id=" + after
					}
					page := d.pageIDs(ownerToken, list, query)
					if len(page) == 0 {
						break
					}
					walked = append(walked, page...)
					after = page[len(page)-1]
				}
				assert.Equal(t, all, walked, "walking by after_id visits every item once, in order")

				bad := []struct {
					query string
					want  []gen.ValidationError
				}{
					{"limit=abc", []gen.ValidationError{{Field: "limit", Detail: badLimitDetail}}},
					{"limit=-1", []gen.ValidationError{{Field: "limit", Detail: badLimitDetail}}},
					{"limit=1.5", []gen.ValidationError{{Field: "limit", Detail: badLimitDetail}}},
					{"limit=2147483648", []gen.ValidationError{{Field: "limit", Detail: badLimitDetail}}},
					{"limit=0", []gen.ValidationError{{Field: "limit", Detail: limitRange}}},
					{"limit=1001", []gen.ValidationError{{Field: "limit", Detail: limitRange}}},
					{"offset=-1", []gen.ValidationError{{Field: "offset", Detail: badOffsetDetail}}},
					{"offset=x", []gen.ValidationError{{Field: "offset", Detail: badOffsetDetail}}},
					{"offset=2147483648", []gen.ValidationError{{Field: "offset", Detail: badOffsetDetail}}},
					{"after_id=nope", []gen.ValidationError{{Field: "after_id", Detail: badAfterID}}},
					{"after_id=1", []gen.ValidationError{{Field: "after_id", Detail: badAfterID}}},
					{"limit=1&limit=2", []gen.ValidationError{{Field: "limit", Detail: `Query param "limit" provided more than once, found 2 times. Only provide 1 instance of this query param.`}}},
					{"limit=x&offset=-2&after_id=y", []gen.ValidationError{
						{Field: "after_id", Detail: badAfterID},
						{Field: "limit", Detail: badLimitDetail},
						{Field: "offset", Detail: badOffsetDetail},
					}},
				}
				for _, b := range bad {
					r := d.send(http.MethodGet, list.path+"?"+b.query, nil, withSessionHeader(ownerToken))
					env := requireError(t, r.Status, r.Body, http.StatusBadRequest, msgBadQuery)
					require.NotNil(t, env.Validations, "?%s: %s", b.query, r.Body)
					assert.Equal(t, b.want, *env.Validations, "?%s", b.query)
				}
			})
		}

		t.Run("the count of paginated members is the whole organization's", func(t *testing.T) {
			d := d.in(t)
			for _, query := range []string{"", "limit=1", "offset=5", "offset=6&limit=3"} {
				r := d.send(http.MethodGet, "/organizations/crew/paginated-members?"+query, nil, withSessionHeader(ownerToken))
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				var page gen.PaginatedMembersResponse
				require.NoError(t, json.Unmarshal(r.Body, &page))
				assert.Equal(t, 6, page.Count, "?%s", query)
			}
		})

		t.Run("a page of a member's organizations holds only theirs", func(t *testing.T) {
			d := d.in(t)
			_, token := d.createMember(ownerToken, "paged", crew.Id)
			orgs := pagedList{path: "/organizations", idField: "id"}
			assert.Equal(t, []string{crew.Id.String()}, d.pageIDs(token, orgs, "limit=5"))
			assert.Equal(t, []string{}, d.pageIDs(token, orgs, "after_id="+crew.Id.String()))
		})
	})
}

// pageIDs fetches one page of list as token's user and returns the ids of its items in order.
func (d *deployment) pageIDs(token string, list pagedList, query string) []string {
	d.t.Helper()
	path := list.path
	if query != "" {
		values, err := url.ParseQuery(query)
		require.NoError(d.t, err)
		path += "?" + values.Encode()
	}
	r := d.send(http.MethodGet, path, nil, withSessionHeader(token))
	require.Equal(d.t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	body := r.Body
	if list.counted {
		var page struct {
			Members json.RawMessage `json:"members"`
			Count   int             `json:"count"`
		}
		require.NoError(d.t, json.Unmarshal(body, &page))
		body = page.Members
	}
	ids := []string{}
	for _, item := range rawObjects(d.t, body) {
		ids = append(ids, rawString(d.t, item, list.idField))
	}
	return ids
}
