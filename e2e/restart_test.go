package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestDataSurvivesARestart(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		cfg := db.NewConfig(t)
		ctx := context.Background()

		a := watch(t, testenv.Start(t, cfg))
		ownerToken := a.setupOwner()
		org := a.createOrganization(ownerToken, "Durable")
		member, memberToken := a.createMember(ownerToken, "alice", org.Id)
		orgsBefore := a.listOrganizations(ownerToken)
		meBefore := a.send(http.MethodGet, "/users/me", nil, withSessionHeader(memberToken))
		require.Equal(t, http.StatusOK, meBefore.Status, string(meBefore.Body))
		infoBefore, err := a.anon().GetBuildInfoWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, infoBefore.StatusCode(), string(infoBefore.Body))
		a.inst.Stop(t)

		for _, round := range []string{"the first restart", "the second restart"} {
			t.Run("after "+round, func(t *testing.T) {
				b := &deployment{t: t, inst: testenv.Start(t, cfg), secrets: a.secrets}
				defer b.inst.Stop(t)

				t.Run("the deployment id is unchanged", func(t *testing.T) {
					info, err := b.in(t).anon().GetBuildInfoWithResponse(ctx)
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, info.StatusCode(), string(info.Body))
					assert.Equal(t, infoBefore.JSON200.DeploymentId, info.JSON200.DeploymentId)
				})

				t.Run("the old tokens still work", func(t *testing.T) {
					me := b.in(t).send(http.MethodGet, "/users/me", nil, withSessionHeader(memberToken))
					require.Equal(t, http.StatusOK, me.Status, string(me.Body))
					// last_seen_at moves when the user signs in, as the previous round did.
					assert.Equal(t, withoutField(t, meBefore.Body, "last_seen_at"), withoutField(t, me.Body, "last_seen_at"))
				})

				t.Run("the organizations are unchanged, byte for byte", func(t *testing.T) {
					assert.Equal(t, string(orgsBefore), string(b.in(t).listOrganizations(ownerToken)))
				})

				t.Run("the users can still sign in", func(t *testing.T) {
					b := b.in(t)
					b.login(testenv.OwnerEmail, testenv.OwnerPassword)
					token := b.login(string(member.Email), memberPassword)
					got, err := b.as(token).GetOrganizationWithResponse(ctx, "durable")
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
				})

				t.Run("the first user still exists", func(t *testing.T) {
					check, err := b.in(t).anon().CheckFirstUserWithResponse(ctx)
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, check.StatusCode(), string(check.Body))
					again, err := b.in(t).anon().CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
						Email: "usurper@example.com", Username: "usurper", Password: "usurper-password",
					})
					require.NoError(t, err)
					requireErrorSentence(t, again.StatusCode(), again.Body, http.StatusConflict)
				})

				t.Run("there is still exactly one default organization", func(t *testing.T) {
					defaults := 0
					for _, o := range decodeOrganizations(t, b.in(t).listOrganizations(ownerToken)) {
						if o.IsDefault {
							defaults++
						}
					}
					assert.Equal(t, 1, defaults)
				})

				t.Run("names stay unique", func(t *testing.T) {
					resp, err := b.in(t).as(ownerToken).CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "DURABLE"})
					require.NoError(t, err)
					requireError(t, resp.StatusCode(), resp.Body, http.StatusConflict, msgOrgExists)
				})
			})
		}
	})
}

func TestHealthAndBuildInfo(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		for _, path := range []string{"/!healthz", "/!readyz"} {
			t.Run(path[2:]+" answers 200", func(t *testing.T) {
				r := d.in(t).send(http.MethodGet, path, nil)
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			})
		}
		t.Run("buildinfo gives the version and a deployment id to anyone", func(t *testing.T) {
			info, err := d.in(t).anon().GetBuildInfoWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, info.StatusCode(), string(info.Body))
			assert.Equal(t, d.inst.Config.Version, info.JSON200.Version)
			assert.NotZero(t, info.JSON200.DeploymentId)
		})
	})
}

// withoutField decodes a JSON object and drops one field.
func withoutField(t *testing.T, body []byte, field string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	delete(m, field)
	return m
}
