package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entitle/entitlements"
	"entitle/gen"
)

// maxEntitlementsWait bounds ?wait= on GET /entitlements.
const maxEntitlementsWait = 60 * time.Second

// parseWait reads ?wait=: a Go duration ("30s", "1m", "1500ms") or a number of seconds, from 0
// to maxEntitlementsWait. Absent is no wait.
func parseWait(raw *string) (time.Duration, *gen.BadQueryJSONResponse) {
	if raw == nil || *raw == "" {
		return 0, nil
	}
	wait, err := time.ParseDuration(*raw)
	if err != nil {
		seconds, numErr := strconv.ParseFloat(*raw, 64)
		if numErr == nil && seconds >= 0 && seconds <= maxEntitlementsWait.Seconds() {
			wait, err = time.Duration(seconds*float64(time.Second)), nil
		}
	}
	if err != nil || wait < 0 || wait > maxEntitlementsWait {
		var q queryParams
		q.fail("wait", "must be a duration from 0s to 60s, such as 30s or 1m, or a number of seconds")
		return 0, q.failure()
	}
	return wait, nil
}

// etagMatches applies If-None-Match to the current tag: "*", or any listed tag equal to it,
// weak (W/) or not, as If-None-Match compares weakly.
func etagMatches(ifNoneMatch, current string) bool {
	for tag := range strings.SplitSeq(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}

// awaitChange returns the current entitlements once If-None-Match no longer matches them, or
// when the wait ends, the client goes away or the server starts to drain, whichever is first;
// waited says whether it waited at all. A waiter holds only its request's goroutine and a
// timer: it sleeps on the state's Changed channel, which every change closes for all waiters
// at once, and never touches the database.
func (a *API) awaitChange(ctx context.Context, ifNoneMatch string, wait time.Duration) (st entitlements.State, waited bool) {
	st = a.entitlements.State()
	if ifNoneMatch == "" || wait <= 0 || !etagMatches(ifNoneMatch, st.ETag) {
		return st, false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for etagMatches(ifNoneMatch, st.ETag) {
		select {
		case <-st.Changed:
			st = a.entitlements.State()
		case <-timer.C:
			return st, true
		case <-ctx.Done():
			return st, true
		case <-a.draining:
			return st, true
		}
	}
	return st, true
}

// afterWait writes a response that waited: the server's write timeout ran from when the
// request arrived, so the deadline is moved to give the answer its own time to be written.
type afterWait struct {
	gen.GetEntitlementsResponseObject
}

// writeTimeAfterWait is how long an answer that waited has to be written.
const writeTimeAfterWait = 10 * time.Second

// VisitGetEntitlementsResponse implements gen.GetEntitlementsResponseObject.
func (r afterWait) VisitGetEntitlementsResponse(w http.ResponseWriter) error {
	// Not every writer can move its deadline (a test's recorder cannot); then there is none.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeAfterWait))
	return r.GetEntitlementsResponseObject.VisitGetEntitlementsResponse(w)
}
