//go:build race

package store

// raceDetector says the tests run under the race detector, which allocates for its own
// bookkeeping: counts of bytes allocated mean nothing then.
const raceDetector = true
