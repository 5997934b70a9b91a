package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"entitle/audit"
)

// withClientAddress gives ctx, an API request's context, the address of the client, for the
// login throttle and the audit log, together with what else an audit entry takes from the
// request: its id (as requestIDs chose it) and the user agent.
//
// The address is the TCP peer of the connection, unless the peer is a proxy that
// --proxy-trusted-origins names: then it is what that proxy wrote in a --proxy-trusted-headers
// header (see proxyaddr). Never X-Forwarded-For or X-Real-IP from anyone else (as Echo's RealIP
// would believe): any client can write those headers, and a per-address limit it can rename
// itself out of is no limit.
func (s *Server) withClientAddress(ctx context.Context, c echo.Context) context.Context {
	req := c.Request()
	return audit.WithRequest(ctx, audit.Request{
		ID: requestID(c),
		// An unreadable peer (never the case on a TCP listener) is the zero address, which the
		// throttle counts as one "unknown" client.
		ClientAddress: s.clients.Client(req.RemoteAddr, req.Header),
		UserAgent:     req.UserAgent(),
	})
}

// remoteIP is the client's address for the access log: the one withClientAddress gives the
// throttle and the audit log. With no proxy trusted it is the peer's host, cut out of
// RemoteAddr with no parsing, as every request pays for it.
func (s *Server) remoteIP(req *http.Request) string {
	if !s.clients.TrustsProxies() {
		return peerHost(req.RemoteAddr)
	}
	if addr := s.clients.Client(req.RemoteAddr, req.Header); addr.IsValid() {
		return addr.String()
	}
	return peerHost(req.RemoteAddr)
}
