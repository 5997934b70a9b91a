package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

// streamedItems is how many items each list holds here: more than two of the chunks a
// streamed list is read in, so that the whole list crosses chunk boundaries (some inside runs
// of items that share a created_at; see testenv.Seeder).
const streamedItems = 2*store.ChunkSize + 500

func TestWholeListsStreamEveryItemInOrder(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ownerToken := d.setupOwner()
		me, err := d.as(ownerToken).GetCurrentUserWithResponse(context.Background())
		require.NoError(t, err)
		ownerID := me.JSON200.Id

		seed := testenv.NewSeeder(t, d.inst.Server().Store())
		crew := seed.Organizations("crew", 1, ownerID)[0]
		seed.Organizations("org", streamedItems, ownerID)
		seed.Members("member", streamedItems, crew)
		seed.Tokens("token", streamedItems, ownerID)
		seed.Licenses(streamedItems)

		lists := []struct {
			name, path, idField string
			want                int
			// counted lists answer {count, members}.
			counted bool
		}{
			// The default organization, crew and the seeded ones.
			{name: "organizations", path: "/organizations", idField: "id", want: streamedItems + 2},
			{name: "the owner's organizations", path: "/users/me/organizations", idField: "id", want: streamedItems + 2},
			// The owner and the seeded members.
			{name: "members", path: "/organizations/" + crew.String() + "/members", idField: "user_id", want: streamedItems + 1},
			{name: "paginated members", path: "/organizations/" + crew.String() + "/paginated-members", idField: "user_id", want: streamedItems + 1, counted: true},
			{name: "licenses", path: "/licenses", idField: "id", want: streamedItems},
		}
		for _, list := range lists {
			t.Run(list.name+" without a limit are every item, in the order of the pages", func(t *testing.T) {
				d := d.in(t)
				whole := d.listItems(ownerToken, list.path, list.counted)
				require.Len(t, whole, list.want)

				var byKeyset []json.RawMessage
				after := ""
				for range list.want {
					query := fmt.Sprintf("?limit=%d", store.ChunkSize)
					if after != "" {
						query += "&after_id=" + after
					}
					page := d.listItems(ownerToken, list.path+query, list.counted)
					if len(page) == 0 {
						break
					}
					byKeyset = append(byKeyset, page...)
					after = rawID(t, page[len(page)-1], list.idField)
				}
				requireSameItems(t, whole, byKeyset, "walked by after_id")
			})
		}

		t.Run("tokens are every token, in order", func(t *testing.T) {
			d := d.in(t)
			for _, path := range []string{"/users/me/keys/tokens", "/users/me/keys/tokens?include_all=true"} {
				tokens := d.listItems(ownerToken, path, false)
				require.Len(t, tokens, streamedItems, path)
				var names []string
				for _, token := range tokens {
					names = append(names, rawString(t, token, "token_name"))
				}
				for i := 1; i < len(tokens); i++ {
					prev, err := time.Parse(time.RFC3339Nano, rawString(t, tokens[i-1], "created_at"))
					require.NoError(t, err)
					next, err := time.Parse(time.RFC3339Nano, rawString(t, tokens[i], "created_at"))
					require.NoError(t, err)
					require.False(t, next.Before(prev), "%s: oldest first", path)
				}
				assert.Len(t, uniqueStrings(names), streamedItems, "%s: each token once", path)
			}
		})

		t.Run("the owner's organization_ids are every organization of theirs, by id", func(t *testing.T) {
			d := d.in(t)
			var orgIDs []string
			for _, org := range d.listItems(ownerToken, "/users/me/organizations", false) {
				orgIDs = append(orgIDs, rawString(t, org, "id"))
			}
			slices.Sort(orgIDs)
			me, err := d.as(ownerToken).GetCurrentUserWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, me.StatusCode())
			var got []string
			for _, id := range me.JSON200.OrganizationIds {
				got = append(got, id.String())
			}
			assert.Equal(t, orgIDs, got)
		})
	})
}

// listItems fetches a list as token's user and returns its items' raw JSON; counted lists are
// {count, members}, and their count must be the number of members when the list is whole.
func (d *deployment) listItems(token, path string, counted bool) []json.RawMessage {
	d.t.Helper()
	r := d.send(http.MethodGet, path, nil, withSessionHeader(token))
	require.Equal(d.t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	body := r.Body
	if counted {
		var page struct {
			Count   int             `json:"count"`
			Members json.RawMessage `json:"members"`
		}
		require.NoError(d.t, json.Unmarshal(body, &page))
		body = page.Members
		if !strings.Contains(path, "?") {
			require.Len(d.t, rawObjects(d.t, body), page.Count, "GET %s: the count is the members'", path)
		}
	}
	return rawObjects(d.t, body)
}

// rawID is an item's id as a query parameter takes it: a string's text, or a number.
func rawID(t *testing.T, item json.RawMessage, field string) string {
	t.Helper()
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(item, &fields))
	return strings.Trim(string(fields[field]), `"`)
}

// requireSameItems compares lists item by item, as raw JSON, without printing thousands of them.
func requireSameItems(t *testing.T, want, got []json.RawMessage, how string) {
	t.Helper()
	require.Len(t, got, len(want), how)
	for i := range want {
		w, g := withoutLastSeen(want[i]), withoutLastSeen(got[i])
		require.JSONEq(t, w, g, "%s: item %d", how, i)
		require.Equal(t, w, g, "%s: item %d, byte for byte", how, i)
	}
}

// lastSeen is a member's last_seen_at, which moves (once a minute at most) as the owner walking
// the pages keeps using the server: on a slow machine the walk outlasts that minute.
var lastSeen = regexp.MustCompile(`"last_seen_at":"[^"]*"`)

func withoutLastSeen(item json.RawMessage) string {
	return lastSeen.ReplaceAllString(string(item), `"last_seen_at":""`)
}

func uniqueStrings(values []string) map[string]bool {
	set := map[string]bool{}
	for _, v := range values {
		set[v] = true
	}
	return set
}
