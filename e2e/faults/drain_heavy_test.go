//go:build faults

package faults

import (
	"testing"

	"entitle/internal/testenv"
)

// TestSIGTERMUnderHeavyKeepAliveLoadCutsNothing is the heavier form of the drain check: 64
// keep-alive clients, five rounds, on each database.
func TestSIGTERMUnderHeavyKeepAliveLoadCutsNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		p := testenv.StartProcess(t, "entitle", testenv.ProcessOptions{})
		requireNothingCut(t, p, 5, 64)
	})
	t.Run("postgres", func(t *testing.T) {
		p := testenv.StartProcess(t, "entitle", testenv.ProcessOptions{PostgresURL: sharedPostgresDatabase(t)})
		requireNothingCut(t, p, 5, 64)
	})
}
