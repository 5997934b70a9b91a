package licensing

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
)

// requireFeatureNames checks that every known feature, and nothing else, is listed.
func requireFeatureNames(t *testing.T, ent gen.Entitlements) {
	t.Helper()
	names := make([]string, 0, len(ent.Features))
	for name := range ent.Features {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Clone(allFeatureNames)
	slices.Sort(want)
	require.Equal(t, want, names)
}

// assertNothingEntitled checks the state of a deployment with no counting license.
func assertNothingEntitled(t *testing.T, ent gen.Entitlements) {
	t.Helper()
	requireFeatureNames(t, ent)
	for _, name := range allFeatureNames {
		f := ent.Features[name]
		assert.Equal(t, gen.Entitlement("not_entitled"), f.Entitlement, name)
		assert.False(t, f.Enabled, name)
	}
	assert.False(t, ent.HasLicense, "has_license")
	assert.False(t, ent.Trial, "trial")
	assert.Nil(t, ent.Features["user_limit"].Limit, "user_limit has no limit without a license")
	assert.NotNil(t, ent.Features["user_limit"].Actual, "user_limit.actual is always present")
}

// actualUsers is user_limit.actual, or -1 when it is missing.
func actualUsers(ent gen.Entitlements) int64 {
	if a := ent.Features["user_limit"].Actual; a != nil {
		return *a
	}
	return -1
}

func TestEntitlementsWithoutALicense(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		is := testenv.NewIssuer(t, t.TempDir(), "test-key")
		cfg := db.NewConfig(t)
		cfg.LicenseKeysDir = is.KeysDir
		inst := testenv.Start(t, cfg)
		t.Cleanup(http.DefaultClient.CloseIdleConnections)

		t.Run("an empty deployment lists all 18 features as not entitled, with zero users and no limit", func(t *testing.T) {
			ent := entitlementsOf(t, inst.Client)
			assertNothingEntitled(t, ent)
			assert.Equal(t, int64(0), actualUsers(ent))
			assert.Empty(t, ent.Warnings)
			assert.Empty(t, ent.Errors)
		})

		t.Run("user_limit counts the users as they are created, still without a limit", func(t *testing.T) {
			owner := inst.SetupOwner(t)
			inst.CreateMember(t, owner, "bob")
			waitFor(t, 5*time.Second, 20*time.Millisecond, "user_limit.actual reaching 2", func() (bool, string) {
				ent := entitlementsOf(t, inst.Client)
				return actualUsers(ent) == 2, describeFeature(ent, "user_limit")
			})
			assertNothingEntitled(t, entitlementsOf(t, inst.Client))
		})
	})
}

func TestEntitlementsFollowLicenses(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		var stored gen.License

		t.Run("uploading an all_features license entitles the enterprise set at once", func(t *testing.T) {
			stored = d.upload(t, d.issuer.Sign(t, claims(allFeatures)))
			// The upload's 201 means "stored and recomputed", so no polling.
			ent := entitlementsOf(t, d.inst.Client)
			requireFeatureNames(t, ent)
			assert.True(t, ent.HasLicense, "has_license")
			for _, name := range allFeatureNames {
				f := ent.Features[name]
				if name == "user_limit" {
					assert.Equal(t, gen.Entitlement("not_entitled"), f.Entitlement, "all_features does not grant user_limit")
					assert.Nil(t, f.Limit)
					continue
				}
				if name == "custom_roles" || name == "multiple_organizations" {
					assert.Equal(t, gen.Entitlement("not_entitled"), f.Entitlement, "all_features is the enterprise set, never premium-only %s", name)
					continue
				}
				assert.Equal(t, gen.Entitlement("entitled"), f.Entitlement, name)
				assert.True(t, f.Enabled, name)
			}
			assert.Empty(t, ent.Errors)
		})

		t.Run("deleting it takes every feature away again at once", func(t *testing.T) {
			require.NotZero(t, stored.Id, "the upload subtest failed")
			resp, err := d.owner.DeleteLicenseWithResponse(context.Background(), strconv.Itoa(int(stored.Id)))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			ent := entitlementsOf(t, d.inst.Client)
			assertNothingEntitled(t, ent)
			assert.Equal(t, int64(1), actualUsers(ent))
		})

		t.Run("a license whose nbf is in the future counts for nothing yet", func(t *testing.T) {
			d.upload(t, d.issuer.Sign(t, claims(allFeatures, func(c *license.Claims) {
				c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
			})))
			assertNothingEntitled(t, entitlementsOf(t, d.inst.Client))
		})
	})
}

func TestGracePeriodStartsOnTime(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)

		t.Run("a license enters its grace period within a second of license_expires while the server runs", func(t *testing.T) {
			// JWT times are whole seconds; this lands 2 to 3 seconds from now.
			paidEnd := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
			d.upload(t, d.issuer.Sign(t, claims(withFeatures("audit_log"), func(c *license.Claims) {
				c.LicenseExpires = jwt.NewNumericDate(paidEnd)
				c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
			})))

			first := entitlementsOf(t, d.inst.Client)
			if time.Now().Before(paidEnd) {
				assert.Equal(t, gen.Entitlement("entitled"), first.Features["audit_log"].Entitlement, "before license_expires")
			}

			latest := paidEnd.Add(time.Second)
			for {
				asked := time.Now()
				if asked.After(latest) {
					t.Fatalf("audit_log was not in grace_period by license_expires+1s (%s); last seen: %s",
						latest.Format(time.RFC3339Nano), describeFeature(first, "audit_log"))
				}
				ent := entitlementsOf(t, d.inst.Client)
				answered := time.Now()
				first = ent
				if ent.Features["audit_log"].Entitlement == "grace_period" {
					assert.False(t, answered.Before(paidEnd), "grace_period shown at %s, before license_expires %s",
						answered.Format(time.RFC3339Nano), paidEnd.Format(time.RFC3339Nano))
					assert.True(t, ent.Features["audit_log"].Enabled, "a feature in grace is enabled")
					assert.True(t, ent.HasLicense, "a license in grace still counts")
					assert.Contains(t, ent.Warnings, "Audit Log is enabled but your license for this feature is expired.",
						"a feature in grace gives Coder's warning")
					t.Logf("grace_period seen %v after license_expires", answered.Sub(paidEnd))
					return
				}
				require.Equal(t, gen.Entitlement("entitled"), ent.Features["audit_log"].Entitlement)
				time.Sleep(50 * time.Millisecond)
			}
		})
	})
}

func TestUserLimit(t *testing.T) {
	t.Parallel()
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.upload(t, d.issuer.Sign(t, claims(func(c *license.Claims) { c.Features["user_limit"] = 1 })))
		const overLimit = "Your deployment has 2 active users but is only licensed for 1."

		t.Run("the owner alone is within a limit of one", func(t *testing.T) {
			ent := entitlementsOf(t, d.inst.Client)
			f := ent.Features["user_limit"]
			assert.Equal(t, gen.Entitlement("entitled"), f.Entitlement)
			assert.True(t, f.Enabled)
			require.NotNil(t, f.Limit)
			assert.Equal(t, int64(1), *f.Limit)
			assert.Equal(t, int64(1), actualUsers(ent))
			assert.NotContains(t, ent.Warnings, overLimit)
		})

		t.Run("a second user over a limit of one gives the over-limit warning", func(t *testing.T) {
			d.inst.CreateMember(t, d.ownerToken, "bob")
			waitFor(t, 5*time.Second, 20*time.Millisecond, "the over-limit warning", func() (bool, string) {
				ent := entitlementsOf(t, d.inst.Client)
				return slices.Contains(ent.Warnings, overLimit) && actualUsers(ent) == 2, describeFeature(ent, "user_limit")
			})
		})
	})
}
