package server

import (
	"net/http"
	"strings"
)

// withoutTrailingSlash routes an API path that ends in a slash as the same path without it.
// Coder's router answers a collection at both spellings, and Coder's SDK asks for some with the
// slash (OrganizationMembers: /api/v2/organizations/{id}/members/); the spec and Echo know each
// route once, without. Only the one last slash goes, so "members//" is still not found, and
// only a slash written as one: an escaped one (%2F) is part of the last segment. The request is
// the one net/http holds (Echo routes on it), so the access log shows the path as routed.
func withoutTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p, raw := req.URL.Path, req.URL.RawPath
		if len(p) > len(APIPrefix)+1 && p[len(p)-1] == '/' && strings.HasPrefix(p, APIPrefix+"/") &&
			(raw == "" || raw[len(raw)-1] == '/') {
			req.URL.Path = p[:len(p)-1]
			if raw != "" {
				req.URL.RawPath = raw[:len(raw)-1]
			}
		}
		next.ServeHTTP(w, req)
	})
}
