package licensing

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestRemovingAKeyTurnsItsLicensesIntoErrors(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDeployment(t, db)
		stored := d.upload(t, d.issuer.Sign(t, claims(allFeatures)))
		before := entitlementsOf(t, d.inst.Client)
		require.True(t, before.HasLicense)
		require.Empty(t, before.Errors)

		// The operator stops trusting the key, and asks for a recompute.
		require.NoError(t, os.Remove(filepath.Join(d.issuer.KeysDir, d.issuer.Kid+".pem")))
		resp, err := d.owner.RefreshEntitlementsWithResponse(context.Background())
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))

		after := entitlementsOf(t, d.inst.Client)
		assert.False(t, after.HasLicense, "a license whose key is gone counts for nothing")
		assert.Equal(t, "not_entitled", string(after.Features["audit_log"].Entitlement))
		require.Len(t, after.Errors, 1)
		assert.True(t, strings.HasPrefix(after.Errors[0], "Invalid license ("+stored.Uuid.String()+"): "), "error: %q", after.Errors[0])
		assert.Contains(t, after.Errors[0], d.issuer.Kid, "the cause names the key")

		// New uploads signed with it are refused from now on, without a restart.
		again, err := d.owner.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: d.issuer.Sign(t, claims(allFeatures))})
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, again.StatusCode(), string(again.Body))
	})
}
