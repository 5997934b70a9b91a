package store

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// countInserts counts the INSERT statements s runs from now on, whatever runs them.
func countInserts(t *testing.T, s *Store) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(db *gorm.DB) {
		if strings.Contains(strings.ToUpper(db.Statement.SQL.String()), "INSERT") {
			n.Add(1)
		}
	}
	cb := s.db.Callback()
	require.NoError(t, cb.Create().After("gorm:create").Register("test:count_inserts", count))
	require.NoError(t, cb.Raw().After("gorm:raw").Register("test:count_inserts", count))
	return &n
}

// organizationsOf is the names of the user's organizations, as StreamOrganizationsOfUser yields them.
func organizationsOf(t *testing.T, s *Store, userID uuid.UUID) []string {
	t.Helper()
	names := []string{}
	for org, err := range s.StreamOrganizationsOfUser(context.Background(), userID, Page{}) {
		require.NoError(t, err)
		names = append(names, org.Name)
	}
	return names
}

func TestAnOrganizationAndItsAdminLandTogetherOrNotAtAll(t *testing.T) {
	for name, config := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, orgs, _, rows := markedList(t, config(t))
			admin, _ := createUserAndSession(t, s, "admin")
			require.Empty(t, pagesDiffer(t, s, s, rows))
			kept := s.caches.organizationMarks.Len()
			require.NotZero(t, kept)
			require.Empty(t, organizationsOf(t, s, admin.ID)) // kept, to be emptied by the create
			inserts := countInserts(t, s)

			org := Organization{ID: uuid.New(), Name: "platform", DisplayName: "Platform", Description: "d", Icon: "/i.svg"}
			require.NoError(t, s.CreateOrganizationWithAdmin(ctx, &org, admin.ID))
			// PostgreSQL runs the pair as one statement, one round trip; SQLite, which has no
			// INSERT inside WITH, as two in one transaction (in-process, no round trips).
			wantInserts := map[string]int64{"postgres": 1, "sqlite": 2}[name]
			assert.Equal(t, wantInserts, inserts.Load(), "INSERT statements for an organization and its admin")
			require.False(t, org.CreatedAt.IsZero(), "the organization's creation time was not filled in")
			assert.Equal(t, org.CreatedAt, org.UpdatedAt)

			stored, err := s.OrganizationByID(ctx, org.ID)
			require.NoError(t, err)
			stored.CreatedAt, stored.UpdatedAt = stored.CreatedAt.UTC(), stored.UpdatedAt.UTC()
			assert.Equal(t, org, stored, "the organization as stored differs from the one the caller holds")
			member, err := s.Membership(ctx, org.ID, admin.ID)
			require.NoError(t, err)
			assert.True(t, member.IsAdmin, "the creator is not an admin of the organization")
			assert.True(t, org.CreatedAt.Equal(member.CreatedAt), "the membership began at %v, not with the organization at %v", member.CreatedAt, org.CreatedAt)
			assert.Equal(t, []string{"platform"}, organizationsOf(t, s, admin.ID), "the creator's kept organizations were not emptied")
			assert.Equal(t, kept, s.caches.organizationMarks.Len(), "an organization created after every mark dropped some")
			rows++
			require.Empty(t, pagesDiffer(t, s, s, rows))

			// A name taken, ignoring case: neither row.
			taken := Organization{ID: uuid.New(), Name: "PLATFORM"}
			require.ErrorIs(t, s.CreateOrganizationWithAdmin(ctx, &taken, admin.ID), ErrConflict)
			_, err = s.OrganizationByID(ctx, taken.ID)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = s.Membership(ctx, taken.ID, admin.ID)
			require.ErrorIs(t, err, ErrNotFound, "a refused organization left its admin's membership")

			// No such user: neither row (the membership's foreign key fails the organization too).
			orphan := Organization{ID: uuid.New(), Name: "orphan"}
			require.ErrorIs(t, s.CreateOrganizationWithAdmin(ctx, &orphan, uuid.New()), ErrNotFound)
			_, err = s.OrganizationByID(ctx, orphan.ID)
			require.ErrorIs(t, err, ErrNotFound, "an organization stood without its admin")

			// In a transaction that rolls back: neither row.
			undone := Organization{ID: uuid.New(), Name: "undone"}
			rollBack := errors.New("roll back")
			require.ErrorIs(t, s.InTx(ctx, func(tx *Store) error {
				require.NoError(t, tx.CreateOrganizationWithAdmin(ctx, &undone, admin.ID))
				return rollBack
			}), rollBack)
			_, err = s.OrganizationByID(ctx, undone.ID)
			require.ErrorIs(t, err, ErrNotFound)
			_, err = s.Membership(ctx, undone.ID, admin.ID)
			require.ErrorIs(t, err, ErrNotFound)
			assert.Equal(t, []string{"platform"}, organizationsOf(t, s, admin.ID))

			// Created at a given time in the middle of the list: only the marks after it go.
			middle := orgs[10].CreatedAt.Add(time.Millisecond / 2)
			require.NotZero(t, marksKeptFrom(s, middle))
			before := s.caches.organizationMarks.Len() - marksKeptFrom(s, middle)
			require.NotZero(t, before)
			inTheMiddle := Organization{ID: uuid.New(), Name: "middle", CreatedAt: middle}
			require.NoError(t, s.CreateOrganizationWithAdmin(ctx, &inTheMiddle, admin.ID))
			assert.Equal(t, middle, inTheMiddle.CreatedAt, "a creation time given was not kept")
			assert.Zero(t, marksKeptFrom(s, middle), "the organization left the marks after it")
			assert.Equal(t, before, s.caches.organizationMarks.Len(), "the organization dropped the marks before it")
			require.Empty(t, pagesDiffer(t, s, s, rows+1))
		})
	}
}
