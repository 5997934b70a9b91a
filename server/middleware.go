package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"entitle/api"
)

// bodyLimit is the largest request body accepted, in bytes; bodyLimitText says it in words. It
// is applied where a body is read (readJSONBody), after the session is checked: a secured
// route answers who is calling before anything else.
const (
	bodyLimit     = 1 << 20
	bodyLimitText = "1 MiB"
)

// BuildVersionHeader carries the server's version on every response; Coder's SDK refuses a
// server whose responses lack it ("not a coder instance").
const BuildVersionHeader = "X-Coder-Build-Version"

// EntitlementsWarningHeader carries one current entitlements warning per header line, on
// authenticated responses to the owner; Coder's CLI prints them.
const EntitlementsWarningHeader = "X-Coder-Entitlements-Warning"

// pipeline is every request's way through the server, in order. Echo builds the chain of its
// Use middleware anew for each request (a closure per middleware, per request); composed here
// once, the chain costs nothing per request. Echo routes before it runs, so apiMiddleware sees
// the matched template; the chain ends in the handler Echo's router found (the route's, or
// the 404 or 405 handler), which is the next handler Echo would pass.
func (s *Server) pipeline() echo.MiddlewareFunc {
	steps := []echo.MiddlewareFunc{
		s.responseHeaders,
		requestIDs,
		s.accessLog,
		restoreHead,
		s.recoverPanics,
		s.apiMiddleware,
	}
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i](h)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}

// responseHeaders stamps every response with the build version and, just before the status is
// written:
//   - names the charset of a JSON body as Coder does (application/json; charset=utf-8),
//     whichever writer set the Content-Type (the strict handlers, the error writer, Echo);
//   - once the drain has begun, says Connection: close, so clients stop reusing their
//     connections (see drain.go). That is decided when the header goes out, not when the
//     request arrives, so a request already running when the signal came is covered too.
func (s *Server) responseHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		header := res.Header()
		header[BuildVersionHeader] = s.versionHeader
		res.Before(func() {
			if ct := header[echo.HeaderContentType]; len(ct) == 1 && ct[0] == echo.MIMEApplicationJSON {
				header[echo.HeaderContentType] = []string{echo.MIMEApplicationJSON + "; charset=utf-8"}
			}
			if s.draining.Load() {
				header.Set(echo.HeaderConnection, "close")
			}
		})
		return next(c)
	}
}

// requestIDHeader is X-Request-ID as net/http keys it (api.RequestIDHeader). Header.Get and Set
// would canonicalize echo's spelling ("X-Request-ID") into a new string on every call.
const requestIDHeader = api.RequestIDHeader

// firstValue is h.Get(key) for a key already in canonical form.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxRequestIDLength bounds a client's X-Request-ID that is kept; a UUID fits.
const maxRequestIDLength = 64

// requestIDs gives every request an id, in the X-Request-ID response header and every log
// line about it. A client's own id is kept only when it is short and plain, so a client cannot
// put control characters, markup or a megabyte into the logs and responses; otherwise the
// request gets a fresh one.
func requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := firstValue(c.Request().Header, requestIDHeader)
		if !plainRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header()[requestIDHeader] = []string{id}
		return next(c)
	}
}

// newRequestID is a random (version 4) UUID. A request id must be unique, not secret:
// math/rand/v2's generator (ChaCha8, seeded by the runtime from the operating system) gives its
// 122 random bits without a call into crypto/rand per request.
func newRequestID() string {
	var id uuid.UUID
	binary.LittleEndian.PutUint64(id[:8], rand.Uint64()) //nolint:gosec // unique, not secret (see above)
	binary.LittleEndian.PutUint64(id[8:], rand.Uint64()) //nolint:gosec // unique, not secret (see above)
	id[6] = id[6]&0x0f | 0x40                            // version 4
	id[8] = id[8]&0x3f | 0x80                            // the RFC 4122 variant
	return id.String()
}

// plainRequestID accepts 1 to 64 characters of letters, digits, '.', '_' and '-'.
func plainRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		plain := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !plain {
			return false
		}
	}
	return true
}

// accessLogMessage is the message of the access log's lines, which may wait to be written in
// a batch (see logbuffer.go).
const accessLogMessage = "request"

// accessLog writes one line per request. It logs the path without the query string, since a
// session token may travel there, and never logs headers or bodies.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			// Render the error now, so the status logged is the status sent.
			c.Error(err)
		}
		end := time.Now()
		elapsed := end.Sub(start)
		status := c.Response().Status
		route := s.routeName(c)
		s.metrics.observe(c.Request().Method, route, status, elapsed)
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		logAccess(c.Request().Context(), s.logger, level, end, &accessLine{
			requestID: requestID(c),
			method:    c.Request().Method,
			route:     route,
			path:      c.Request().URL.Path,
			status:    status,
			elapsed:   elapsed,
			bytesOut:  c.Response().Size,
			remoteIP:  s.remoteIP(c.Request()),
		})
		return nil
	}
}

// unmatchedRoute names every request that matched no registered route (an unknown path, or
// a known path with a method it does not answer), in logs and metrics alike.
const unmatchedRoute = "unmatched"

// routeName is the route template a request matched, or unmatchedRoute. Echo leaves its
// nearest template in c.Path() even when it answers 404 or 405, so the template is checked
// against the routes actually registered for the method.
func (s *Server) routeName(c echo.Context) string {
	method := c.Request().Method
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is answered by the GET route (head.go)
	}
	if s.registered[routeKey{method: method, template: c.Path()}] {
		return c.Path()
	}
	return unmatchedRoute
}

// routeKey is a registered route: its method and its template.
type routeKey struct{ method, template string }

// peerHost is the host of the connection's peer, for the access log when no proxy is trusted
// (see remoteIP).
func peerHost(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// recoverPanics turns a panic in a handler into an ordinary error (a 500 with no stack in the
// body) and logs the stack for the operator.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.logger.Error("panic in handler", "request_id", requestID(c), "route", c.Path(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}()
		return next(c)
	}
}
