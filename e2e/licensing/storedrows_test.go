package licensing

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/license"
	"entitle/server"
	"entitle/store"
)

// badRow is a licenses row written straight into the database, as an older version or an
// operator's hand could leave it.
type badRow struct {
	what       string
	uploadedAt any
	jwt        string
	exp        any
	uuid       string
	// wantCause must appear in the entitlements error that names the row.
	wantCause string
}

// insertLicenseRows migrates the database cfg names and writes rows into it directly, returning
// their ids.
func insertLicenseRows(t *testing.T, cfg server.Config, rows []badRow) []int32 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir})
	require.NoError(t, err)
	defer st.Close()
	sqlDB, err := st.SQLDB()
	require.NoError(t, err)
	insert := "INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES (?, ?, ?, ?) RETURNING id"
	if st.Dialect() == store.DialectPostgres {
		insert = "INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES ($1, $2, $3, $4) RETURNING id"
	}
	ids := make([]int32, 0, len(rows))
	for _, row := range rows {
		var id int32
		require.NoError(t, sqlDB.QueryRowContext(ctx, insert, row.uploadedAt, row.jwt, row.exp, row.uuid).Scan(&id), row.what)
		ids = append(ids, id)
	}
	return ids
}

func TestBadStoredLicensesCannotStopTheServer(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		cfg := db.NewConfig(t)
		keysDir := t.TempDir()
		trusted := testenv.NewIssuer(t, keysDir, "trusted")
		// Its public key is elsewhere: the operator removed it from the keys directory.
		removed := testenv.NewIssuer(t, t.TempDir(), "removed-key")

		now := time.Now().UTC().Truncate(time.Second)
		// What the old server stored for `license sign --not-before 9999-12-01T00:00:00Z --expires 60d`.
		lateStart := time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
		late := trusted.Sign(t, claims(func(c *license.Claims) {
			c.NotBefore = jwt.NewNumericDate(lateStart)
			c.LicenseExpires = jwt.NewNumericDate(lateStart.Add(60 * 24 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(lateStart.Add(67 * 24 * time.Hour))
		}))
		goodClaims := claims(withFeatures("audit_log"))
		good := trusted.Sign(t, goodClaims)
		exp := now.Add(97 * 24 * time.Hour)

		rows := []badRow{
			{what: "a good license", uploadedAt: now, jwt: good, exp: exp, uuid: goodClaims.ID},
			{
				what: "a license whose times fall after 9999", uploadedAt: now, jwt: late,
				exp: "10000-02-06 00:00:00+00:00", uuid: uuid.NewString(), wantCause: "exp is outside 1970..9999",
			},
			{what: "a token that is not a JWT", uploadedAt: now, jwt: "not-a-license", exp: exp, uuid: uuid.NewString(), wantCause: "malformed"},
			{
				what: "a license whose key was removed", uploadedAt: now, jwt: removed.Sign(t, claims(allFeatures)),
				exp: exp, uuid: uuid.NewString(), wantCause: `unknown key id "removed-key"`,
			},
		}
		if db.Name == "sqlite" {
			rows = append(rows,
				badRow{
					what: "an exp the driver cannot read", uploadedAt: now, jwt: trusted.Sign(t, claims()),
					exp: "next tuesday", uuid: uuid.NewString(), wantCause: "exp",
				},
				badRow{
					what: "an uploaded_at the driver cannot read", uploadedAt: "yesterday", jwt: trusted.Sign(t, claims()),
					exp: exp, uuid: uuid.NewString(), wantCause: "uploaded_at",
				},
			)
		} else {
			rows = append(rows, badRow{
				what: "an infinite uploaded_at and exp", uploadedAt: "infinity", jwt: trusted.Sign(t, claims()),
				exp: "-infinity", uuid: uuid.NewString(), wantCause: "uploaded_at",
			})
		}
		ids := insertLicenseRows(t, cfg, rows)

		r := replicaOf(t, testenv.StartProcess(t, "server on bad rows",
			testenv.ProcessOptions{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir, KeysDir: keysDir}))
		owner := r.withToken(t, r.setupOwner(t))

		listedIDs := func(t *testing.T) []int32 {
			t.Helper()
			resp, err := owner.GetLicensesWithResponse(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
			var got []int32
			for _, l := range *resp.JSON200 {
				got = append(got, l.Id)
			}
			return got
		}
		errorNaming := func(ent gen.Entitlements, id string) string {
			for _, e := range ent.Errors {
				if strings.HasPrefix(e, "Invalid license ("+id+"): ") {
					return e
				}
			}
			return ""
		}

		t.Run("the server starts and lists every row", func(t *testing.T) {
			assert.Equal(t, ids, listedIDs(t))
		})

		t.Run("each bad row is one entitlements error naming its uuid and cause, and the good license counts", func(t *testing.T) {
			ent := entitlementsOf(t, r.client)
			assert.True(t, ent.HasLicense, "the good license still counts")
			assert.True(t, ent.Features["audit_log"].Enabled)
			assert.Len(t, ent.Errors, len(rows)-1, "errors: %q", ent.Errors)
			for _, row := range rows[1:] {
				e := errorNaming(ent, row.uuid)
				if assert.NotEmpty(t, e, "no error names %s (%s); errors: %q", row.uuid, row.what, ent.Errors) {
					assert.Contains(t, e, row.wantCause, row.what)
				}
			}
		})

		t.Run("each bad row is logged once", func(t *testing.T) {
			out := r.output.String()
			for _, row := range rows[1:] {
				lines := 0
				for _, line := range strings.Split(out, "\n") {
					if strings.Contains(line, row.uuid) {
						lines++
					}
				}
				assert.Equal(t, 1, lines, "log lines naming %s (%s) in:\n%s", row.uuid, row.what, out)
			}
		})

		t.Run("deleting the bad rows removes them and their errors", func(t *testing.T) {
			for i, row := range rows[1:] {
				resp, err := owner.DeleteLicenseWithResponse(ctx, strconv.Itoa(int(ids[i+1])))
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode(), "%s: %s", row.what, resp.Body)
				assert.Empty(t, errorNaming(entitlementsOf(t, r.client), row.uuid), "%s is still an error after its delete", row.what)
			}
			assert.Equal(t, ids[:1], listedIDs(t))
			ent := entitlementsOf(t, r.client)
			assert.Empty(t, ent.Errors)
			assert.True(t, ent.HasLicense)
			assert.True(t, slices.Contains(listedIDs(t), ids[0]), "the good license stays")
		})
	})
}
