package faults

import (
	"testing"

	"entitle/internal/testenv"
)

// TestSIGTERMUnderKeepAliveLoadCutsNothing is the fast form of the drain check that runs in
// `make test`: the real binary on SQLite, busy keep-alive clients, SIGTERM; every request
// written on a kept-alive connection is answered, and the process exits 0. Ten rounds,
// because a cut is a race that one round can miss.
func TestSIGTERMUnderKeepAliveLoadCutsNothing(t *testing.T) {
	p := testenv.StartProcess(t, "entitle", testenv.ProcessOptions{})
	requireNothingCut(t, p, 10, 32)
}
