package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"entitle/store"
)

// BenchmarkCreateOrganization measures the write POST /organizations makes (the organization
// and its admin membership in one transaction) on SQLite with each synchronous setting, so the
// cost of the durable default (FULL) is a figure beside the faster, less durable NORMAL.
func BenchmarkCreateOrganization(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run("sqlite-synchronous-"+mode, func(b *testing.B) {
			ctx := context.Background()
			s, err := store.Open(ctx, store.Config{DataDir: b.TempDir(), SQLiteSynchronous: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			owner := store.User{ID: uuid.New(), Username: "owner", Email: "owner@example.com", HashedPassword: []byte("x"), SiteRole: store.RoleOwner}
			if err := s.CreateUser(ctx, &owner); err != nil {
				b.Fatal(err)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				org := store.Organization{ID: uuid.New(), Name: fmt.Sprintf("org-%d", i)}
				err := s.InTx(ctx, func(tx *store.Store) error {
					if err := tx.CreateOrganization(ctx, &org); err != nil {
						return err
					}
					return tx.AddMember(ctx, &store.OrganizationMember{OrganizationID: org.ID, UserID: owner.ID, IsAdmin: true})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
