//go:build faults

package faults

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/glebarez/sqlite" // database/sql driver "sqlite", to check the file itself
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
)

// TestKill9DuringSQLiteWritesLosesNothingAcknowledged kills entitle with SIGKILL in the
// middle of a create load, three times, restarting it on the same data directory each time:
// every create it acknowledged is still there and the database file is intact.
func TestKill9DuringSQLiteWritesLosesNothingAcknowledged(t *testing.T) {
	p := testenv.StartProcess(t, "entitle", testenv.ProcessOptions{})
	token := p.SetupOwner(t)

	var acknowledged []createOutcome
	for crash := 1; crash <= 3; crash++ {
		load := startCreateLoad(p.URL, token, fmt.Sprintf("crash%d", crash), 8)
		load.waitCreated(t, 50, 20*time.Second)
		p.Kill(t)
		outcomes := load.stop()
		created := 0
		for _, o := range outcomes {
			if o.status == http.StatusCreated {
				created++
				acknowledged = append(acknowledged, o)
			}
		}

		check := integrityCheck(t, p.DataDir)
		p.Restart(t)
		missing := missingCreated(acknowledged, organizationNames(t, p, token))
		t.Logf("crash %d: %d requests, %d acknowledged with 201 (%d in all so far), %d of them missing after the restart, integrity_check %q",
			crash, len(outcomes), created, len(acknowledged), len(missing), check)
		assert.Equal(t, "ok", check, "crash %d: PRAGMA integrity_check on the file the killed process left", crash)
		assert.Empty(t, missing, "crash %d: every organization acknowledged with 201 survives the crash", crash)
	}
}

// integrityCheck runs PRAGMA integrity_check on the SQLite database in dataDir, read-only,
// as the killed process left it (write-ahead log included).
func integrityCheck(t *testing.T, dataDir string) string {
	t.Helper()
	dsn := "file:" + filepath.Join(dataDir, "entitle.db") + "?" + url.Values{"mode": {"ro"}}.Encode()
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	var result string
	require.NoError(t, db.QueryRow("PRAGMA integrity_check").Scan(&result))
	return result
}
