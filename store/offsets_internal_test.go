package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testMarkStride makes a short list cross many marks.
const testMarkStride = 3

// createOrganizations adds n organizations created a millisecond apart, from start on.
func createOrganizations(t *testing.T, s *Store, prefix string, n int, start time.Time) []Organization {
	t.Helper()
	orgs := make([]Organization, n)
	for i := range orgs {
		orgs[i] = Organization{ID: uuid.New(), Name: fmt.Sprintf("%s-%d", prefix, i), CreatedAt: start.Add(time.Duration(i) * time.Millisecond)}
		require.NoError(t, s.CreateOrganization(context.Background(), &orgs[i]))
	}
	return orgs
}

// streamedPage is what StreamOrganizations yields for page, by name.
func streamedPage(t *testing.T, s *Store, page Page) []string {
	t.Helper()
	names := []string{}
	for org, err := range s.StreamOrganizations(context.Background(), page) {
		require.NoError(t, err)
		names = append(names, org.Name)
	}
	return names
}

// listedPage is the same page read by ListOrganizations, which keeps no marks: the oracle.
func listedPage(t *testing.T, s *Store, page Page) []string {
	t.Helper()
	orgs, err := s.ListOrganizations(context.Background(), page)
	require.NoError(t, err)
	names := []string{}
	for _, org := range orgs {
		names = append(names, org.Name)
	}
	return names
}

// pagesDiffer returns the first page, of every offset and a few limits taken in a random order,
// that the marks answer differently from the oracle ("" when none does).
func pagesDiffer(t *testing.T, marked, oracle *Store, rows int) string {
	t.Helper()
	var pages []Page
	for offset := 0; offset <= rows+1; offset++ {
		for _, limit := range []int{0, 1, 2, 5} {
			pages = append(pages, Page{Offset: offset, Limit: limit})
		}
	}
	rand.Shuffle(len(pages), func(i, j int) { pages[i], pages[j] = pages[j], pages[i] })
	for _, page := range pages {
		got, want := streamedPage(t, marked, page), listedPage(t, oracle, page)
		if !assert.ObjectsAreEqual(want, got) {
			return fmt.Sprintf("offset %d limit %d: got %v, want %v", page.Offset, page.Limit, got, want)
		}
	}
	return ""
}

func TestPagesByOffsetFromTheMarksAreThePagesOfTheList(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openForTest(t, config(t))
			s.caches.markStride = testMarkStride
			start := time.Now().UTC().Add(-time.Hour)
			orgs := createOrganizations(t, s, "org", 20, start)
			rows := len(orgs) + 1 // and the default organization

			require.Empty(t, pagesDiffer(t, s, s, rows))
			require.NotZero(t, s.caches.organizationMarks.Len(), "the pages were read from marks")

			// A row removed before the marks, and one added before them (an older created_at,
			// as a replica with a slower clock might write): the marks after either move.
			require.NoError(t, s.DeleteOrganization(ctx, orgs[1].ID))
			assert.Zero(t, s.caches.organizationMarks.Len(), "a delete drops the marks")
			require.Empty(t, pagesDiffer(t, s, s, rows-1))
			createOrganizations(t, s, "older", 2, start.Add(-time.Minute))
			assert.Zero(t, s.caches.organizationMarks.Len(), "an insert drops the marks")
			require.Empty(t, pagesDiffer(t, s, s, rows+1))

			// Inside a transaction, the pages are read without marks.
			require.NoError(t, s.InTx(ctx, func(tx *Store) error {
				assert.Nil(t, tx.organizationMarks())
				return nil
			}))
		})
	}
}

func TestAWriteOnOneStoreDropsTheMarksOfAnotherWithinASecond(t *testing.T) {
	ctx := context.Background()
	cfg := freshPostgres(t)
	a := openForTest(t, cfg)
	b := openForTest(t, cfg)
	b.caches.markStride = testMarkStride
	start := time.Now().UTC().Add(-time.Hour)
	orgs := createOrganizations(t, a, "org", 20, start)
	rows := len(orgs) + 1

	require.Empty(t, pagesDiffer(t, b, a, rows))
	require.NotZero(t, b.caches.organizationMarks.Len())

	require.NoError(t, a.DeleteOrganization(ctx, orgs[2].ID))
	eventually(t, func() bool { return b.caches.organizationMarks.Len() == 0 }, "a delete on the other store left the marks after 1s")
	require.Empty(t, pagesDiffer(t, b, a, rows-1))

	// A plain insert is announced after its transaction, merged with others: still within 1s.
	createOrganizations(t, a, "older", 2, start.Add(-time.Minute))
	eventually(t, func() bool { return b.caches.organizationMarks.Len() == 0 }, "an insert on the other store left the marks after 1s")
	require.Empty(t, pagesDiffer(t, b, a, rows+1))
}
