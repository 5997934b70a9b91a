package licensing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

// A file among the trusted keys that is not one, added while the server runs, makes every
// operation that reads the keys say so: a 503 naming the cause, not a 500 (or a 503 blaming
// the database). The answer does not show the server's paths; its log names the file.
func TestABadFileAmongTheKeysIsSaidToBeSo(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDeployment(t, db)
		ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		der, err := x509.MarshalPKIXPublicKey(&ecdsaKey.PublicKey)
		require.NoError(t, err)
		bad := map[string]func(path string) error{
			"a key that is not Ed25519": func(path string) error {
				return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
			},
			"a file that is no key": func(path string) error { return os.WriteFile(path, []byte("garbage"), 0o600) },
			"a directory":           func(path string) error { return os.Mkdir(path, 0o700) },
			"a link to nothing":     func(path string) error { return os.Symlink(filepath.Join(d.issuer.KeysDir, "nowhere"), path) },
		}
		for name, write := range bad {
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(d.issuer.KeysDir, "bad.pem")
				require.NoError(t, write(path))
				t.Cleanup(func() { _ = os.RemoveAll(path) })
				lic := d.issuer.Sign(t, claims(allFeatures))
				calls := map[string]func() (int, []byte){
					"upload": func() (int, []byte) {
						resp, err := d.owner.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: lic})
						require.NoError(t, err)
						return resp.StatusCode(), resp.Body
					},
					"preview": func() (int, []byte) {
						resp, err := d.owner.PreviewLicenseWithResponse(context.Background(), gen.PreviewLicenseJSONRequestBody{License: lic})
						require.NoError(t, err)
						return resp.StatusCode(), resp.Body
					},
					"refresh": func() (int, []byte) {
						resp, err := d.owner.RefreshEntitlementsWithResponse(context.Background())
						require.NoError(t, err)
						return resp.StatusCode(), resp.Body
					},
				}
				for call, do := range calls {
					status, body := do()
					require.Equal(t, http.StatusServiceUnavailable, status, "%s: %s", call, body)
					var env gen.Response
					require.NoError(t, json.Unmarshal(body, &env))
					assert.Equal(t, msgKeysUnreadable, env.Message, call)
					assert.NotContains(t, string(body), d.issuer.KeysDir, "%s: the answer shows no path", call)
					assert.NotContains(t, string(body), "database", call)
				}
				require.NoError(t, os.Remove(path))
				d.upload(t, lic)
			})
		}
	})
}
