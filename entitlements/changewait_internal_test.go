package entitlements

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// time.Until saturates at the largest Duration for a moment centuries ahead; adding the
// moment's lateness to that once made the wait negative, and the timer fired at once, for ever.
func TestTheWaitForAFarChangeIsBoundedAndNeverNegative(t *testing.T) {
	for _, tc := range []struct {
		until, want time.Duration
	}{
		{-time.Second, -time.Second + time.Millisecond}, // already past: at once
		{0, time.Millisecond},
		{time.Hour, time.Hour + time.Millisecond},
		{maxChangeWait, maxChangeWait},
		{time.Duration(math.MaxInt64), maxChangeWait},
	} {
		assert.Equal(t, tc.want, changeWait(tc.until), "until %s", tc.until)
	}
}
