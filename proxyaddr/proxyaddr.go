// Package proxyaddr finds the address of the client behind a request: the TCP peer, unless the
// peer is a proxy the operator trusts, in which case the address that proxy (and any trusted
// proxies before it) wrote into a header the operator named. The login throttle counts failures
// per client address, and the audit log and the access log record it; behind a load balancer
// every request would otherwise come from the balancer, and fifty failures by anyone would
// throttle everyone.
//
// The settings are Coder's: --proxy-trusted-headers (e.g. X-Forwarded-For, X-Real-IP,
// True-Client-IP, CF-Connecting-IP) and --proxy-trusted-origins (the proxies' addresses or
// ranges). A header is believed only from a trusted peer; anyone else can write anything in it.
//
// Written here rather than taken from Echo (ExtractIPFromXFFHeader): Echo's extractors trust
// loopback and private ranges unless told otherwise and know only X-Forwarded-For and
// X-Real-IP, where Coder's setting names any header.
package proxyaddr

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Resolver finds client addresses. The zero Resolver trusts no proxy: every client is its TCP
// peer.
type Resolver struct {
	headers []string // canonical names, in the order they are tried
	origins []netip.Prefix
}

// New makes a Resolver that believes headers (tried in order, the first that names a usable
// address wins) from peers within origins (addresses or CIDR ranges). Both are needed, or
// neither: one without the other would trust nothing and look as if it did.
func New(headers, origins []string) (*Resolver, error) {
	r := &Resolver{}
	for _, h := range headers {
		h = strings.TrimSpace(h)
		if !httpguts.ValidHeaderFieldName(h) {
			return nil, fmt.Errorf("--proxy-trusted-headers: %q is not a header name", h)
		}
		r.headers = append(r.headers, http.CanonicalHeaderKey(h))
	}
	for _, o := range origins {
		prefix, err := parseOrigin(strings.TrimSpace(o))
		if err != nil {
			return nil, fmt.Errorf("--proxy-trusted-origins: %q is neither an address nor a CIDR range (like 10.0.0.0/8)", o)
		}
		r.origins = append(r.origins, prefix)
	}
	switch {
	case len(r.headers) > 0 && len(r.origins) == 0:
		return nil, fmt.Errorf("--proxy-trusted-headers needs --proxy-trusted-origins: the proxies whose headers to believe")
	case len(r.origins) > 0 && len(r.headers) == 0:
		return nil, fmt.Errorf("--proxy-trusted-origins needs --proxy-trusted-headers: the headers those proxies write")
	}
	return r, nil
}

func parseOrigin(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()).Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// TrustsProxies says whether any proxy is trusted; when not, the client is always the peer.
func (r *Resolver) TrustsProxies() bool { return r != nil && len(r.origins) > 0 }

// Client is the address of the client of a request that came from remoteAddr (the request's
// RemoteAddr, "host:port") with header. The zero address means the peer could not be read
// (never the case on a TCP listener).
func (r *Resolver) Client(remoteAddr string, header http.Header) netip.Addr {
	peer, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	client := peer.Addr().Unmap()
	if !r.trusted(client) {
		return client
	}
	for _, name := range r.headers {
		if addr, ok := r.fromHeader(header[name]); ok {
			return addr
		}
	}
	return client
}

func (r *Resolver) trusted(addr netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, o := range r.origins {
		if o.Contains(addr) {
			return true
		}
	}
	return false
}

// fromHeader reads the header's lines as one comma-separated list of hops, the client first and
// the proxy nearest to the server last (X-Forwarded-For's form; a one-address header is a list
// of one). From the right, it skips the hops that are trusted proxies and answers the first that
// is not: what is left of it was written by that client, and may say anything. When every hop
// is trusted, the first is the client. A hop that is not an address makes the whole header
// unusable, as a proxy would not have written it.
func (r *Resolver) fromHeader(lines []string) (netip.Addr, bool) {
	var first netip.Addr
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			hop := rest
			if comma := strings.LastIndexByte(rest, ','); comma >= 0 {
				hop, rest = rest[comma+1:], rest[:comma]
			} else {
				rest = ""
			}
			addr, ok := parseHop(strings.TrimSpace(hop))
			if !ok {
				return netip.Addr{}, false
			}
			if !r.trusted(addr) {
				return addr, true
			}
			first = addr
		}
	}
	return first, first.IsValid()
}

// parseHop reads one hop: an address, with or without a port ("203.0.113.7",
// "203.0.113.7:5123", "2001:db8::7", "[2001:db8::7]:5123").
func parseHop(s string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Unmap(), true
	}
	if addrPort, err := netip.ParseAddrPort(s); err == nil {
		return addrPort.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
