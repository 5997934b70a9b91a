package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/license"
)

func TestLicenseSignFeatures(t *testing.T) {
	priv, keysDir := keyPair(t, "k1")

	t.Run("an all-features license without --features still carries features as an object", func(t *testing.T) {
		token := signWith(t, "--key", priv, "--kid", "k1", "--all-features")
		_, payload, err := license.Decode(token)
		require.NoError(t, err)
		var claims map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(payload, &claims))
		require.Contains(t, claims, "features", "Coder's clients read claims.features unconditionally")
		assert.JSONEq(t, `{}`, string(claims["features"]))
	})

	t.Run("an unknown feature name is refused, naming it and the known ones", func(t *testing.T) {
		_, _, err := runCLI(t, "license", "sign", "--key", priv, "--kid", "k1", "--features", "user_limit=5,teleportation=1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unknown feature teleportation")
		assert.Contains(t, err.Error(), "audit_log")
		assert.Contains(t, err.Error(), "--allow-unknown-features")
	})

	t.Run("--allow-unknown-features signs it, and inspect shows it as unknown", func(t *testing.T) {
		token := signWith(t, "--key", priv, "--kid", "k1", "--features", "teleportation=1,audit_log=1", "--allow-unknown-features")
		file := filepath.Join(t.TempDir(), "x.license")
		require.NoError(t, os.WriteFile(file, []byte(token), 0o600))
		stdout, stderr, err := runCLI(t, "license", "inspect", "--keys-dir", keysDir, file)
		require.NoError(t, err, stderr)
		assert.Contains(t, stdout, "unknown features: teleportation (this version ignores them)")
		assert.Contains(t, stdout, "verifies: yes")
	})

	t.Run("licenses list marks unknown features", func(t *testing.T) {
		_, features := summarizeClaims(json.RawMessage(`{"features":{"audit_log":1,"teleportation":1,"user_limit":5}}`))
		assert.Equal(t, "audit_log, teleportation (unknown), user_limit=5", features)
	})
}
