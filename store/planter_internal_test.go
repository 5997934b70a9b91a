package store

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// marksOnList counts the marks a list of rows rows has room for: one at every stride, from
// the first stride on, at a row that exists.
func marksOnList(rows int) int { return (rows - 1) / testMarkStride }

// The first page at any depth starts from a mark, even on a server that has read no page: the
// planter walks the list ahead of them, and again after a write drops marks or the list grows.
func TestMarksArePlantedAheadOfThePages(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, orgs, start, rows := markedList(t, config(t))
			p := &marksPlanter{store: s, logger: slog.New(slog.DiscardHandler), renewalAge: markRenewalAge}

			require.Zero(t, s.OffsetMarks(), "no page read yet")
			require.True(t, p.walk(ctx), "the walk reached the end")
			require.Equal(t, marksOnList(rows), s.OffsetMarks(), "every mark planted before any page")
			require.Empty(t, pagesDiffer(t, s, s, rows))

			require.NoError(t, s.DeleteOrganization(ctx, orgs[1].ID))
			require.Zero(t, s.OffsetMarks(), "a delete drops the marks after it")
			rows--
			require.True(t, p.walk(ctx), "the walk reached the end")
			require.Equal(t, marksOnList(rows), s.OffsetMarks(), "planted again after a delete")
			require.Empty(t, pagesDiffer(t, s, s, rows))

			// The list grows past its last mark's place, at the end and before the marks.
			createOrganizations(t, s, "newer", 4, start.Add(time.Hour))
			createOrganizations(t, s, "older", 2, start.Add(-time.Minute))
			rows += 6
			require.True(t, p.walk(ctx), "the walk reached the end")
			require.Equal(t, marksOnList(rows), s.OffsetMarks(), "planted to the new end")
			require.Empty(t, pagesDiffer(t, s, s, rows))
		})
	}
}

// A walk finds again every mark older than the renewal age, so a mark that went wrong with
// nobody told (here made wrong on purpose) is put right within that age; a younger one is kept.
func TestAWalkRenewsTheMarksDueForIt(t *testing.T) {
	ctx := context.Background()
	s, orgs, _, rows := markedList(t, Config{DataDir: t.TempDir()})
	p := &marksPlanter{store: s, logger: slog.New(slog.DiscardHandler), renewalAge: markRenewalAge}
	require.True(t, p.walk(ctx), "the walk reached the end")
	require.Equal(t, marksOnList(rows), s.OffsetMarks())

	marks := s.caches.organizationMarks
	marks.StoreIfCurrent(marks.Generation(), 2*testMarkStride, organizationPlace(orgs[10]))
	require.NotEmpty(t, pagesDiffer(t, s, s, rows), "a wrong mark shows in the pages")
	require.True(t, p.walk(ctx), "the walk reached the end")
	require.NotEmpty(t, pagesDiffer(t, s, s, rows), "a young mark was found again")

	p.renewalAge = 0 // every mark is due
	require.True(t, p.walk(ctx), "the walk reached the end")
	require.Equal(t, marksOnList(rows), s.OffsetMarks())
	require.Empty(t, pagesDiffer(t, s, s, rows), "the walk did not put the wrong mark right")
}
