//go:build !race

package store

// raceDetector says the tests run under the race detector (see race_on_internal_test.go).
const raceDetector = false
