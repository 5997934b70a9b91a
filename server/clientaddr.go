package server

import (
	"context"
	"net/netip"

	"github.com/labstack/echo/v4"

	"entitle/audit"
)

// withClientAddress gives ctx, an API request's context, the address of the client, for the
// login throttle and the audit log, together with what else an audit entry takes from the
// request: its id (as requestIDs chose it) and the user agent.
//
// The address is the TCP peer of the connection, never X-Forwarded-For or X-Real-IP (which
// Echo's RealIP would believe): any client can write those headers, and a per-address limit it
// can rename itself out of is no limit. Behind a reverse proxy every client shares the proxy's
// address, so the per-address limit then holds for all of them together; trusting a proxy's
// headers would need an explicit setting naming the proxies, which entitle does not have yet.
func withClientAddress(ctx context.Context, c echo.Context) context.Context {
	req := c.Request()
	// An unparsable peer (never the case on a TCP listener) is the zero address, which the
	// throttle counts as one "unknown" client.
	peer, _ := netip.ParseAddrPort(req.RemoteAddr)
	return audit.WithRequest(ctx, audit.Request{
		ID:            requestID(c),
		ClientAddress: peer.Addr(),
		UserAgent:     req.UserAgent(),
	})
}
