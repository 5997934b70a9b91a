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

// markedList opens a store on cfg whose marks are testMarkStride apart, holding twenty
// organizations from start (an hour ago) on; rows counts them with the default organization.
func markedList(t *testing.T, cfg Config) (s *Store, orgs []Organization, start time.Time, rows int) {
	t.Helper()
	s = openForTest(t, cfg)
	s.caches.markStride = testMarkStride
	start = time.Now().UTC().Add(-time.Hour)
	orgs = createOrganizations(t, s, "org", 20, start)
	return s, orgs, start, len(orgs) + 1
}

func TestPagesByOffsetFromTheMarksAreThePagesOfTheList(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, orgs, start, rows := markedList(t, config(t))

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

// marksKeptFrom counts the marks kept at or after at.
func marksKeptFrom(s *Store, at time.Time) int {
	n := 0
	for offset := s.caches.markStride; offset <= 1000*s.caches.markStride; offset += s.caches.markStride {
		if place, ok := s.caches.organizationMarks.Lookup(offset); ok && !place.createdAt.Before(at) {
			n++
		}
	}
	return n
}

// Organizations are mostly created at the end of the list (created_at is the time of the
// request), where they move no mark: such an insert keeps every mark, so a deployment creating
// organizations still pages by offset at any depth from the marks. One created before some
// marks (a replica with a slower clock, an import) drops those, and only those.
func TestAnInsertDropsOnlyTheMarksAfterIt(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, orgs, _, rows := markedList(t, config(t))

			require.Empty(t, pagesDiffer(t, s, s, rows))
			kept := s.caches.organizationMarks.Len()
			require.NotZero(t, kept)

			createOrganizations(t, s, "newer", 2, time.Now().UTC())
			require.NoError(t, s.InTx(ctx, func(tx *Store) error {
				_ = createOrganizations(t, tx, "newer-in-a-transaction", 1, time.Now().UTC())
				return nil
			}))
			assert.Equal(t, kept, s.caches.organizationMarks.Len(), "an insert after every mark dropped some")
			rows += 3
			require.Empty(t, pagesDiffer(t, s, s, rows))

			// Nor does an update that sets neither created_at nor id: renaming moves no row.
			kept = s.caches.organizationMarks.Len()
			_, err := s.UpdateOrganization(ctx, orgs[4].ID, OrganizationChanges{Name: new("renamed")}, time.Now())
			require.NoError(t, err)
			assert.Equal(t, kept, s.caches.organizationMarks.Len(), "a rename dropped marks")
			require.Empty(t, pagesDiffer(t, s, s, rows))

			middle := orgs[10].CreatedAt.Add(time.Millisecond / 2)
			require.NotZero(t, marksKeptFrom(s, middle))
			before := s.caches.organizationMarks.Len() - marksKeptFrom(s, middle)
			require.NotZero(t, before)
			createOrganizations(t, s, "middle", 1, middle)
			assert.Zero(t, marksKeptFrom(s, middle), "an insert left the marks after it")
			assert.Equal(t, before, s.caches.organizationMarks.Len(), "an insert dropped the marks before it")
			require.Empty(t, pagesDiffer(t, s, s, rows+1))
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
	rows++
	require.Empty(t, pagesDiffer(t, b, a, rows))

	// Inserts at the end of the list move no mark, there or here; one in the middle drops the
	// marks after it, and only those.
	kept := b.caches.organizationMarks.Len()
	require.NotZero(t, kept)
	createOrganizations(t, a, "newer", 3, time.Now().UTC())
	_, err := a.UpdateOrganization(ctx, orgs[5].ID, OrganizationChanges{Name: new("renamed")}, time.Now())
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond) // past when the announcements arrive
	assert.Equal(t, kept, b.caches.organizationMarks.Len(), "an insert at the end or a rename on the other store dropped marks")
	rows += 3
	require.Empty(t, pagesDiffer(t, b, a, rows))

	middle := orgs[10].CreatedAt.Add(time.Millisecond / 2)
	before := b.caches.organizationMarks.Len() - marksKeptFrom(b, middle)
	require.NotZero(t, marksKeptFrom(b, middle))
	require.NotZero(t, before)
	createOrganizations(t, a, "middle", 1, middle)
	eventually(t, func() bool { return marksKeptFrom(b, middle) == 0 }, "an insert in the middle on the other store left the marks after it")
	assert.Equal(t, before, b.caches.organizationMarks.Len(), "an insert on the other store dropped the marks before it")
	require.Empty(t, pagesDiffer(t, b, a, rows+1))
}

// Inserts waiting to be announced together are one name for the marks: a burst of creates
// stays one short announcement (PostgreSQL refuses a payload of 8000 bytes), naming the earliest
// place, and any write that drops every mark stands for all of them.
func TestWaitingInvalidationsOfTheMarksMergeIntoTheEarliest(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var names []cacheName
	for i := range 1000 {
		names = mergeCacheNames(names, []cacheName{cacheUserOrganizations, marksFrom(at.Add(time.Duration(i-500) * time.Second))})
	}
	assert.Equal(t, []cacheName{cacheUserOrganizations, marksFrom(at.Add(-500 * time.Second))}, names)

	names = mergeCacheNames(names, []cacheName{cacheOrganizationMarks, cacheUsers})
	assert.Equal(t, []cacheName{cacheUserOrganizations, cacheOrganizationMarks, cacheUsers}, names)
	names = mergeCacheNames(names, []cacheName{marksFrom(at.Add(-time.Hour))})
	assert.Equal(t, []cacheName{cacheUserOrganizations, cacheOrganizationMarks, cacheUsers}, names)

	// On the wire, and back.
	heard := parseCacheNames(formatCacheNames([]cacheName{marksFrom(at)}))
	got, partial, err := marksFromTime(heard[0])
	require.NoError(t, err)
	assert.True(t, partial)
	assert.True(t, got.Equal(at))
}

// A replica that cannot read the place in an invalidation of the marks drops every cache.
func TestAnUnreadableInvalidationOfTheMarksDropsEveryCache(t *testing.T) {
	s := openForTest(t, Config{DataDir: t.TempDir()})
	ctx := context.Background()
	org, err := s.DefaultOrganization(ctx)
	require.NoError(t, err)
	_, err = s.OrganizationByID(ctx, org.ID)
	require.NoError(t, err)
	require.NotZero(t, s.caches.organizations.Len())
	s.caches.heard(Announcement{Kind: AnnounceInvalidate, From: "another replica", Detail: marksFromPrefix + "yesterday"})
	assert.Zero(t, s.caches.organizations.Len())
}
