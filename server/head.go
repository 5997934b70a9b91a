package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// headAsGet lets every GET route answer HEAD, as RFC 9110 asks of a general-purpose server:
// the routes and the spec know only GET, so a HEAD request is routed, authenticated and
// validated as a GET, and nothing the route writes reaches the client but the status and the
// headers.
//
// It wraps the whole Echo handler: Echo routes on the very *http.Request that net/http holds,
// so the method is changed in place, and changed back before net/http writes the response head
// (net/http reads the method then to decide that no body follows). Until then every byte of
// body is dropped by bodyless, so the head cannot be written early.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodHead {
			next.ServeHTTP(w, req)
			return
		}
		req.Method = http.MethodGet
		defer func() { req.Method = http.MethodHead }()
		next.ServeHTTP(bodyless{w}, req)
	})
}

// restoreHead gives the request its HEAD back once the route has run, so the access log, the
// metrics and the error writer see the method the client sent. A HEAD request is the one
// whose writer headAsGet made bodyless.
func restoreHead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if _, head := c.Response().Writer.(bodyless); head {
			c.Request().Method = http.MethodHead
		}
		return err
	}
}

// bodyless passes a response's status and headers on and drops its body. Flushing does
// nothing, so the head is only written once the request is HEAD again.
type bodyless struct{ http.ResponseWriter }

func (b bodyless) Write(p []byte) (int, error) { return len(p), nil }

// FlushError is what http.ResponseController calls to flush.
func (bodyless) FlushError() error { return nil }
