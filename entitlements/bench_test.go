package entitlements_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"entitle/entitlements"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/store"
)

// BenchmarkRecompute10kLicenses is one recompute (Reload: what a refresh, an announcement or the
// periodic tick runs) with ten thousand stored licenses, the mix bench/scaleseed stores, on each
// database. The licenses are verified once, when the service starts, as in the server.
func BenchmarkRecompute10kLicenses(b *testing.B) {
	const count = 10_000
	for _, db := range testenv.Databases() {
		b.Run(db.Name, func(b *testing.B) {
			ctx := context.Background()
			cfg := db.NewConfig(b)
			st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			keysDir := b.TempDir()
			issuer := testenv.NewIssuer(b, keysDir, "bench")
			now := time.Now().UTC().Truncate(time.Second)
			err = st.InTx(ctx, func(tx *store.Store) error {
				for i := range count {
					id := uuid.New()
					paidDays := time.Duration(30+i%365) * 24 * time.Hour
					c := license.Claims{
						IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(-time.Hour)),
						LicenseExpires: jwt.NewNumericDate(now.Add(paidDays)), ExpiresAt: jwt.NewNumericDate(now.Add(paidDays + 7*24*time.Hour)),
						ID: id.String(), AccountType: "salesforce", AccountID: fmt.Sprintf("account-%d", i),
						Trial: i%10 == 0, FeatureSet: []string{"enterprise", "premium"}[i%2], Version: license.SupportedVersion,
						Features: map[string]int64{"user_limit": int64(10 + i%1000), "audit_log": 1},
					}
					row := store.License{UploadedAt: store.Now(), JWT: issuer.Sign(b, c), Exp: c.ExpiresAt.UTC(), UUID: id}
					if err := tx.InsertLicense(ctx, &row); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			svc, err := entitlements.New(ctx, entitlements.Config{
				Store: st, KeysDir: keysDir, Interval: time.Hour, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			if ent := svc.Current(); !ent.HasLicense || len(ent.Errors) > 0 {
				b.Fatalf("the licenses do not count: %+v", ent)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := svc.Reload(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
