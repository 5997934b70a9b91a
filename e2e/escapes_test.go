package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"entitle/internal/testenv"
	"entitle/server"
)

// escapedPath is a secured route's plain path with one segment written another way.
type escapedPath struct {
	name string
	path string // from the server's root, as it goes on the request line
}

// segmentEscapes are the ways one path segment can be written so that two readers of the
// path might disagree about it: an encoded or double-encoded slash, a NUL, dot segments,
// an empty segment, a matrix parameter, a percent-encoded letter.
var segmentEscapes = []struct {
	name    string
	rewrite func(segment string) string
}{
	{"replaced by a%2Fb", func(string) string { return "a%2Fb" }},
	{"replaced by %2F", func(string) string { return "%2F" }},
	{"followed by %2F", func(s string) string { return s + "%2F" }},
	{"replaced by %00", func(string) string { return "%00" }},
	{"followed by %00", func(s string) string { return s + "%00" }},
	{"replaced by %252F", func(string) string { return "%252F" }},
	{"replaced by ..", func(string) string { return ".." }},
	{"replaced by %2e%2e", func(string) string { return "%2e%2e" }},
	{"replaced by .", func(string) string { return "." }},
	{"preceded by an empty segment", func(s string) string { return "/" + s }},
	{"followed by ;", func(s string) string { return s + ";" }},
	{"followed by ;x=1", func(s string) string { return s + ";x=1" }},
	{"with its first letter percent-encoded", func(s string) string {
		if s == "" {
			return s
		}
		return fmt.Sprintf("%%%02X", s[0]) + s[1:]
	}},
	{"followed by /..", func(s string) string { return s + "/.." }},
	{"followed by %2F..", func(s string) string { return s + "%2F.." }},
}

// escapedPaths writes the route's plain path (prefix included) with each escape applied to
// each segment in turn, then with a trailing slash, a doubled trailing slash and a doubled
// leading one.
func escapedPaths(r specRoute) []escapedPath {
	plain := server.APIPrefix + r.path(nil)
	segments := strings.Split(strings.TrimPrefix(plain, "/"), "/")
	var paths []escapedPath
	for i, segment := range segments {
		for _, e := range segmentEscapes {
			rewritten := slices.Clone(segments)
			rewritten[i] = e.rewrite(segment)
			paths = append(paths, escapedPath{
				name: fmt.Sprintf("segment %d (%s) %s", i+1, segment, e.name),
				path: "/" + strings.Join(rewritten, "/"),
			})
		}
	}
	return append(paths,
		escapedPath{"with a trailing slash", plain + "/"},
		escapedPath{"with a doubled trailing slash", plain + "//"},
		escapedPath{"with a doubled leading slash", "/" + plain},
		escapedPath{"with an encoded trailing slash", plain + "%2F"},
	)
}

// TestEscapedPathsNeverSlipPastAuthentication sends every secured route of the spec, signed
// out, with each escape form of each path segment. The answer must be 401 (the route still
// needs a sign-in), or 404 "Route not found." where the escaped path names no route, or 405
// where it names a path with other methods; never a handler's answer (its 404 "Resource not
// found", a 2xx, a 400 from validation) and never a 5xx. Nothing may change in the database.
func TestEscapedPathsNeverSlipPastAuthentication(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		h := startHostile(t, db)
		for _, r := range h.routes {
			if !r.secured {
				continue
			}
			t.Run(r.String(), func(t *testing.T) {
				for _, p := range escapedPaths(r) {
					t.Run(p.name, func(t *testing.T) {
						q := hostileRequest{method: r.method, rootPath: p.path, header: http.Header{}}
						if r.body != nil {
							// A valid body: only the missing sign-in may stop the request.
							q.body = mustJSON(t, h.validBody(t, r))
							q.header.Set("Content-Type", "application/json")
						}
						before := h.snapshot(t)
						got := h.send(t, q)
						requireUnchanged(t, before, h.snapshot(t))
						h.checkAnswer(t, q, got, false)
						env := envelope(t, got.Body)
						switch got.Status {
						case http.StatusUnauthorized:
							assert.Equal(t, msgSignedOut, env.Message)
						case http.StatusNotFound:
							assert.Equal(t, msgRouteNotFound, env.Message, "a 404 from a handler means the request got past authentication")
						case http.StatusMethodNotAllowed:
							assert.NotEmpty(t, got.Header.Get("Allow"), "a 405 says which methods the path answers")
						default:
							t.Errorf("%s %s signed out: %d, want 401, 404 Route not found. or 405: %s", r.method, p.path, got.Status, got.Body)
						}
					})
				}
			})
		}
	})
}
