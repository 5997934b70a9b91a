package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

// A server keeps where every thousandth organization falls in the list (store/offsets.go), so
// that a page deep by offset does not step over every row before it. These tests read pages on
// both sides of those marks, change the list under them, and require every page to be exactly
// the slice of the whole list it names.

// longListLength crosses two marks, and ends past a third's place.
const longListLength = 2_300

var everyOrganization = pagedList{name: "organizations", path: "/organizations", idField: "id"}

// seedOrganizations adds n organizations through the server's store, created a millisecond
// apart from start on: through the API, a list this long would take the test's whole budget.
func seedOrganizations(t *testing.T, d *deployment, prefix string, n int, start time.Time) {
	t.Helper()
	st := d.inst.Server().Store()
	for i := range n {
		org := store.Organization{ID: uuid.New(), Name: fmt.Sprintf("%s-%d", prefix, i), CreatedAt: start.Add(time.Duration(i) * time.Millisecond)}
		require.NoError(t, st.CreateOrganization(context.Background(), &org))
	}
}

// deepPage is a page by offset: offset rows skipped, then at most limit.
type deepPage struct{ offset, limit int }

// deepPages are pages on both sides of the marks at 1000 and 2000, and past the end, in a
// random order.
func deepPages() []deepPage {
	var pages []deepPage
	for _, offset := range []int{0, 999, 1000, 1001, 1500, 1999, 2000, 2001, longListLength - 1, longListLength + 5} {
		for _, limit := range []int{1, 100} {
			pages = append(pages, deepPage{offset, limit})
		}
	}
	rand.Shuffle(len(pages), func(i, j int) { pages[i], pages[j] = pages[j], pages[i] })
	return pages
}

// wrongPage returns the first of deepPages that d answers differently from the slice of all it
// names ("" when every page is right).
func wrongPage(d *deployment, token string, all []string) string {
	for _, page := range deepPages() {
		query := fmt.Sprintf("offset=%d&limit=%d", page.offset, page.limit)
		want := all[min(page.offset, len(all)):min(page.offset+page.limit, len(all))]
		if got := d.pageIDs(token, everyOrganization, query); !slices.Equal(got, want) {
			return fmt.Sprintf("%s: %d organizations, first %v; want %d, first %v", query, len(got), first(got), len(want), first(want))
		}
	}
	return ""
}

func first(ids []string) []string { return ids[:min(1, len(ids))] }

func (d *deployment) deleteOrganization(token, id string) {
	d.t.Helper()
	r := d.send(http.MethodDelete, "/organizations/"+id, nil, withSessionHeader(token))
	require.Equal(d.t, http.StatusOK, r.Status, "DELETE /organizations/%s: %s", id, r.Body)
}

func TestPagesByOffsetDeepInALongListAreSlicesOfTheList(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		start := time.Now().UTC().Add(-time.Hour)
		seedOrganizations(t, d, "org", longListLength, start)

		all := d.pageIDs(token, everyOrganization, "")
		require.Len(t, all, longListLength+1, "and the default organization")
		require.Empty(t, wrongPage(d, token, all))
		require.Empty(t, wrongPage(d, token, all), "the same pages again, now from the marks")

		// One removed before every mark, and two added before them by a replica whose clock
		// is behind: every mark after them moves.
		d.deleteOrganization(token, all[3])
		all = d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all), "after a delete")
		seedOrganizations(t, d, "behind", 2, start.Add(-time.Minute))
		all = d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all), "after an insert before the marks")

		// An insert moves only the marks after it: one created through the API lands at the
		// end and moves none; one between the marks at 1000 and 2000 moves the second.
		require.Empty(t, wrongPage(d, token, all), "the pages again, from the marks")
		d.createOrganization(token, "at-the-end")
		all = d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all), "after an insert at the end")
		seedOrganizations(t, d, "middle", 1, start.Add(1500*time.Millisecond+time.Millisecond/2))
		all = d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all), "after an insert between the marks")
	})
}

// The first page at a depth nobody paged near is placed from a mark too: the server plants the
// marks of the whole list ahead of any page, and plants them again after a write drops them.
func TestMarksArePlantedBeforeAnyDeepPageIsRead(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		token := d.setupOwner()
		seedOrganizations(t, d, "org", longListLength, time.Now().UTC().Add(-time.Hour))
		marksPlanted := func(what string) {
			t.Helper()
			// A walk takes a few milliseconds here; the margin is for a loaded machine.
			pollUntil(t, 10*time.Second, what, func() (bool, string) {
				marks := scrapeMetrics(t, d.inst)["entitle_organization_offset_marks"]
				return marks == longListLength/1000, fmt.Sprintf("%v marks", marks)
			})
		}
		marksPlanted("the marks planted before any page is read")
		all := d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all))

		d.deleteOrganization(token, all[3])
		marksPlanted("the marks planted again after a delete")
		all = d.pageIDs(token, everyOrganization, "")
		require.Empty(t, wrongPage(d, token, all))
	})
}

func TestADeleteOnOneReplicaMovesTheOtherReplicasDeepPagesWithinASecond(t *testing.T) {
	t.Parallel()
	a, b, _, _ := twoReplicas(t)
	token := a.setupOwner()
	start := time.Now().UTC().Add(-time.Hour)
	seedOrganizations(t, a, "org", longListLength, start)
	all := a.pageIDs(token, everyOrganization, "")
	require.Empty(t, wrongPage(b, token, all), "B reads the pages, and keeps their marks")

	a.deleteOrganization(token, all[3])
	all = a.pageIDs(token, everyOrganization, "")
	pollUntil(t, propagation, "B's deep pages show A's delete", func() (bool, string) {
		wrong := wrongPage(b, token, all)
		return wrong == "", wrong
	})

	seedOrganizations(t, a, "behind", 2, start.Add(-time.Minute))
	all = a.pageIDs(token, everyOrganization, "")
	pollUntil(t, propagation, "B's deep pages show A's insert before the marks", func() (bool, string) {
		wrong := wrongPage(b, token, all)
		return wrong == "", wrong
	})

	// An insert on A between the marks at 1000 and 2000, after B has kept both again: B moves
	// the second and keeps the first; one at the end (through the API) moves neither.
	require.Empty(t, wrongPage(b, token, all), "B keeps the marks again")
	seedOrganizations(t, a, "middle", 1, start.Add(1500*time.Millisecond+time.Millisecond/2))
	a.createOrganization(token, "at-the-end")
	all = a.pageIDs(token, everyOrganization, "")
	pollUntil(t, propagation, "B's deep pages show A's inserts between the marks and at the end", func() (bool, string) {
		wrong := wrongPage(b, token, all)
		return wrong == "", wrong
	})
}
